//! Why an order call fails.

use super::IllegalTransition;
use crate::catalog::CatalogError;
use crate::idempotency::IdempotencyError;
use crate::inventory::InventoryError;
use crate::payment::PaymentError;
use crate::queue::QueueError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("no order '{0}'")]
    NotFound(String),
    #[error(transparent)]
    Illegal(#[from] IllegalTransition),
    #[error("the payment window of this order has closed")]
    Expired,
    #[error("a customer can cancel only an order awaiting payment or paid and not yet fulfilled; this one is {0}")]
    NotCancellable(&'static str),
    #[error("refund of {requested} exceeds the {refundable} minor units still refundable")]
    RefundTooLarge { requested: i64, refundable: i64 },
    #[error("the refund must be in {0}")]
    WrongCurrency(String),
    #[error("this order has no payment to refund")]
    NoPayment,
    #[error("the order total overflows")]
    TotalOverflow,
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Idempotency(#[from] IdempotencyError),
    #[error(transparent)]
    Payment(#[from] PaymentError),
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl OrderError {
    /// Stable machine-readable code; the last segment of the problem `type`.
    /// A failure of another capability carries that capability's code where
    /// it has one (it is answered as what it wraps).
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "order-not-found",
            Self::Illegal(_) => "illegal-transition",
            Self::Expired => "order-expired",
            Self::NotCancellable(_) => "not-cancellable",
            Self::RefundTooLarge { .. } => "refund-exceeds-paid",
            Self::WrongCurrency(_) => "currency-mismatch",
            Self::NoPayment => "no-payment",
            Self::TotalOverflow => "total-overflow",
            Self::Catalog(e) => e.code(),
            Self::Idempotency(e) => e.code(),
            Self::Payment(e) => e.code(),
            Self::Inventory(_) => "inventory",
            Self::Queue(e) => e.code(),
            Self::Store(_) => "store",
        }
    }
}
