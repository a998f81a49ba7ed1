//! The catalog's closed list of failures.

use crate::domain::{FieldError, ProductId, Sku};
use crate::idempotency::IdempotencyError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("no product with id '{0}'")]
    ProductNotFound(String),
    #[error("product '{0}' is archived")]
    ProductArchived(ProductId),
    #[error("no SKU '{0}'")]
    SkuNotFound(String),
    #[error("SKU '{0}' is no longer sold")]
    SkuRetired(Sku),
    #[error("a product with id '{0}' already exists")]
    ProductExists(ProductId),
    #[error("SKU '{sku}' already belongs to product '{owner}'")]
    DuplicateSku { sku: Sku, owner: ProductId },
    #[error("SKU '{0}' appears more than once in the request")]
    RepeatedSku(Sku),
    #[error("the product changed since it was read (its ETag is now {current})")]
    PreconditionFailed { current: String },
    /// A replacement gives stock to a SKU that exists already: its stock
    /// is the inventory's, changed through the inventory routes.
    #[error("variants[{index}].stock: stock can only be given when a SKU is created; change it through the inventory endpoints")]
    StockOfExistingSku { index: usize },
    #[error("invalid request")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Idempotency(#[from] IdempotencyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CatalogError {
    /// Stable machine-readable code; the last segment of the problem `type`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::ProductNotFound(_) => "product-not-found",
            Self::ProductArchived(_) => "product-archived",
            Self::SkuNotFound(_) => "sku-not-found",
            Self::SkuRetired(_) => "sku-retired",
            Self::ProductExists(_) => "product-exists",
            Self::DuplicateSku { .. } | Self::RepeatedSku(_) => "duplicate-sku",
            Self::PreconditionFailed { .. } => "precondition-failed",
            Self::StockOfExistingSku { .. } => "stock-of-existing-sku",
            Self::Invalid(_) => "invalid-request",
            Self::Idempotency(e) => e.code(),
            Self::Store(_) => "store",
        }
    }
}
