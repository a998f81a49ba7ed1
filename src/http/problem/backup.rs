//! Backup failures as HTTP problems; each problem `type` is the error's
//! `code()`.

use super::api_error::ApiError;
use crate::backup::BackupError;
use actix_web::http::StatusCode;

impl From<BackupError> for ApiError {
    fn from(e: BackupError) -> Self {
        let (code, detail) = (e.code(), e.to_string());
        match e {
            BackupError::InProgress => ApiError::new(StatusCode::CONFLICT, code, detail),
            BackupError::NotFound(id) => {
                ApiError::new(StatusCode::NOT_FOUND, code, detail).with("id", id)
            }
            BackupError::RemovedSince(id) => {
                ApiError::new(StatusCode::CONFLICT, code, detail).with("id", id)
            }
            BackupError::Overflow { .. } => ApiError::unavailable(code, detail, 10),
            BackupError::Io(cause) => {
                // The path and the OS error stay in the log.
                tracing::error!(error = %cause, "backup failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    code,
                    "the backup could not be written; the cause is logged",
                )
            }
            BackupError::Store(e) => e.into(),
            BackupError::Idempotency(e) => e.into(),
        }
    }
}
