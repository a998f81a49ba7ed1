//! The `Idempotency-Key` header: required on the calls that move money or
//! stock for a buyer (purchases, checkouts, payments, refunds), optional on
//! every other unsafe call; and the `Idempotent-Replayed` mark on answers
//! given again.

use crate::http::problem::ApiError;
use crate::idempotency::{IdempotencyError, IdempotencyKey};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};

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

/// The header that marks an answer given again from an earlier call with
/// the same key.
pub const REPLAYED: (&str, &str) = ("Idempotent-Replayed", "true");

/// Marks an answer already built as given again.
pub fn mark_replayed(res: &mut HttpResponse) {
    res.headers_mut().insert(
        HeaderName::from_static("idempotent-replayed"),
        HeaderValue::from_static("true"),
    );
}

impl From<IdempotencyError> for ApiError {
    fn from(e: IdempotencyError) -> Self {
        let (code, detail) = (e.code(), e.to_string());
        match e {
            // A request with the same key is being served.
            IdempotencyError::InUse => {
                ApiError::new(StatusCode::CONFLICT, code, detail).with("retry_after_secs", 1)
            }
            IdempotencyError::Reused => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
            }
        }
    }
}
