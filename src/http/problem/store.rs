//! Store failures as HTTP problems: each is a 503 whose `Retry-After` says
//! how soon a retry may succeed; the problem type is the error's `code()`.

use super::api_error::ApiError;
use crate::store::StoreError;

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let code = e.code();
        match e {
            StoreError::Overloaded => Self::unavailable(
                code,
                "the server is at its write capacity; retry shortly",
                1,
            ),
            StoreError::Closed => Self::unavailable(code, "the server is shutting down", 5),
            StoreError::Failed => Self::unavailable(
                code,
                "the store failed a write and takes no more until restarted",
                30,
            ),
            StoreError::Io(_) | StoreError::Corrupt { .. } => {
                tracing::error!(error = %e, "store failure");
                Self::unavailable(code, "the store could not complete the write", 1)
            }
        }
    }
}
