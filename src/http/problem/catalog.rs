//! Catalog failures as HTTP problems: the error's `code()` is the problem
//! `type`; here only the status is decided.

use super::api_error::ApiError;
use crate::catalog::CatalogError;
use actix_web::http::StatusCode;

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        let code = e.code();
        let detail = e.to_string();
        match e {
            CatalogError::ProductNotFound(_) | CatalogError::SkuNotFound(_) => {
                Self::new(StatusCode::NOT_FOUND, code, detail)
            }
            CatalogError::ProductArchived(_) | CatalogError::SkuRetired(_) => {
                Self::new(StatusCode::GONE, code, detail)
            }
            CatalogError::ProductExists(_)
            | CatalogError::DuplicateSku { .. }
            | CatalogError::RepeatedSku(_) => Self::new(StatusCode::CONFLICT, code, detail),
            CatalogError::PreconditionFailed { .. } => {
                Self::new(StatusCode::PRECONDITION_FAILED, code, detail)
            }
            CatalogError::Invalid(errors) => Self::invalid(errors),
            CatalogError::Idempotency(e) => e.into(),
            CatalogError::Store(e) => e.into(),
        }
    }
}
