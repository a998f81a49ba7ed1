//! Why a checkout fails.

use crate::domain::Sku;
use crate::inventory::InventoryError;
use crate::order::OrderError;
use crate::payment::PaymentError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    #[error("these lines hold no stock: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))]
    LinesUnavailable(Vec<Sku>),
    #[error("no checkout of this order waits for the customer's action")]
    NotPending,
    #[error("the customer did not complete the payment's action before the checkout's holds lapsed; the cart is open again")]
    ActionLapsed,
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error(transparent)]
    Order(#[from] OrderError),
    #[error(transparent)]
    Payment(#[from] PaymentError),
    #[error(transparent)]
    Store(#[from] StoreError),
}
