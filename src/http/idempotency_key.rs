//! The `Idempotency-Key` header: required on purchases and checkouts,
//! optional on other unsafe storefront calls.

use crate::http::problem::ApiError;
use crate::idempotency::IdempotencyKey;
use actix_web::http::StatusCode;
use actix_web::HttpRequest;

/// The request's key; 400 when it is missing or malformed.
pub fn required(req: &HttpRequest, what: &str) -> Result<IdempotencyKey, ApiError> {
    optional(req)?.ok_or_else(|| {
        ApiError::bad_request(
            "idempotency-key-required",
            format!("send an Idempotency-Key header (e.g. a UUID) with every {what}"),
        )
    })
}

/// The request's key if it sent one; 400 when it is malformed.
pub fn optional(req: &HttpRequest) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(raw) = req.headers().get("Idempotency-Key") else {
        return Ok(None);
    };
    let text = raw.to_str().map_err(|_| {
        ApiError::bad_request(
            "invalid-idempotency-key",
            "Idempotency-Key must be visible ASCII",
        )
    })?;
    IdempotencyKey::parse(text)
        .map(Some)
        .map_err(|e| ApiError::bad_request("invalid-idempotency-key", e.0))
}

/// 409: a request with the same key is being served.
pub fn in_use() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "idempotency-key-in-use",
        "a request with this Idempotency-Key is in progress; retry shortly",
    )
    .with("retry_after_secs", 1)
}

/// 422: the key was used for a different request.
pub fn reused() -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency-key-reused",
        "this Idempotency-Key was used for a different request",
    )
}
