//! Waiting-room failures as HTTP problems; each problem `type` is the
//! error's `code()`.

use super::api_error::ApiError;
use crate::queue::QueueError;
use actix_web::http::StatusCode;

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> Self {
        let (code, detail) = (e.code(), e.to_string());
        match e {
            QueueError::NotEnabled(_) => ApiError::new(StatusCode::CONFLICT, code, detail),
            // Not a 503: the room keeps its tickets until the drop ends,
            // so retrying soon would not find room.
            QueueError::Full { max } => {
                ApiError::new(StatusCode::CONFLICT, code, detail).with("max", max)
            }
            QueueError::TicketNotFound(_) => ApiError::new(StatusCode::NOT_FOUND, code, detail),
            QueueError::AdmissionRequired(refusal) => {
                ApiError::new(StatusCode::FORBIDDEN, code, detail).with("reason", refusal.as_str())
            }
            QueueError::Inventory(e) => e.into(),
            QueueError::Store(e) => e.into(),
        }
    }
}
