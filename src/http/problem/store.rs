//! Store failures as HTTP problems: each is a 503 whose `Retry-After` says
//! how soon a retry may succeed. `StoreError` has no `code()`, so its
//! problem types are named here.

use super::api_error::ApiError;
use crate::store::StoreError;

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Overloaded => Self::unavailable(
                "overloaded",
                "the server is at its write capacity; retry shortly",
                1,
            ),
            StoreError::Closed => {
                Self::unavailable("shutting-down", "the server is shutting down", 5)
            }
            StoreError::Failed => Self::unavailable(
                "store-failed",
                "the store failed a write and takes no more until restarted",
                30,
            ),
            StoreError::Io(_) | StoreError::Corrupt { .. } => {
                tracing::error!(error = %e, "store failure");
                Self::unavailable(
                    "store-unavailable",
                    "the store could not complete the write",
                    1,
                )
            }
        }
    }
}
