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
            // The request fits the document; the SKU it names exists.
            CatalogError::StockOfExistingSku { index } => {
                let field = format!("variants[{index}].stock");
                let mut e = Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail);
                e.errors = vec![crate::domain::FieldError::new(
                    field,
                    "stock can only be given when a SKU is created; change it through the inventory endpoints",
                )];
                e
            }
            CatalogError::Invalid(errors) => Self::invalid(errors),
            CatalogError::Idempotency(e) => e.into(),
            CatalogError::Store(e) => e.into(),
        }
    }
}
