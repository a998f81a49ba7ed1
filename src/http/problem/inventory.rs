//! Inventory failures as HTTP problems; each problem `type` is the error's
//! `code()`.

use super::api_error::ApiError;
use crate::clock::rfc3339;
use crate::inventory::{InventoryError, SkuError};
use actix_web::http::StatusCode;

impl From<InventoryError> for ApiError {
    fn from(e: InventoryError) -> Self {
        let (code, detail) = (e.code(), e.to_string());
        match e {
            InventoryError::Refused(refusal) => refusal.into(),
            InventoryError::UnknownSku(_) => ApiError::new(StatusCode::NOT_FOUND, code, detail),
            InventoryError::Busy(_) => ApiError::unavailable(code, detail, 1),
            InventoryError::NoAnswer(_) | InventoryError::Passivated => ApiError::unavailable(
                code,
                "the SKU did not answer; retry with the same Idempotency-Key",
                1,
            ),
            InventoryError::Idempotency(e) => e.into(),
            InventoryError::Store(e) => e.into(),
        }
    }
}

impl From<SkuError> for ApiError {
    fn from(e: SkuError) -> Self {
        let code = e.code();
        let detail = e.to_string();
        match e {
            SkuError::InsufficientStock {
                available,
                requested,
            } => ApiError::new(
                StatusCode::CONFLICT,
                code,
                format!("{available} available, {requested} requested"),
            )
            .with("available", available)
            .with("requested", requested),
            SkuError::LimitExceeded {
                limit,
                already,
                requested,
            } => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
                .with("limit", limit)
                .with("already", already)
                .with("requested", requested),
            SkuError::SaleNotStarted { starts_at } => ApiError::new(
                StatusCode::CONFLICT,
                code,
                format!("the sale starts at {}", rfc3339(starts_at)),
            )
            .with("starts_at", rfc3339(starts_at)),
            SkuError::SaleEnded { ended_at } => ApiError::new(
                StatusCode::CONFLICT,
                code,
                format!("the sale ended at {}", rfc3339(ended_at)),
            )
            .with("ended_at", rfc3339(ended_at)),
            SkuError::HoldExists(_)
            | SkuError::StockBelowCommitted { .. }
            | SkuError::HoldExpired(_) => ApiError::new(StatusCode::CONFLICT, code, detail),
            SkuError::UnknownHold(_) => ApiError::new(StatusCode::NOT_FOUND, code, detail),
            SkuError::InvalidQuantity => ApiError::bad_request(code, detail),
        }
    }
}
