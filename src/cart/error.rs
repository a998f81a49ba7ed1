//! Why a cart call fails.

use crate::catalog::CatalogError;
use crate::checkout::CheckoutError;
use crate::domain::Sku;
use crate::idempotency::IdempotencyError;
use crate::inventory::InventoryError;
use crate::order::OrderError;
use crate::payment::PaymentError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CartError {
    #[error("no cart '{0}'")]
    NotFound(String),
    #[error("the cart is busy; retry shortly")]
    Busy,
    /// The cart actor stopped as the call arrived; nothing was applied.
    #[error("the cart passivated")]
    Passivated,
    #[error("the cart was checked out as order '{0}'")]
    CheckedOut(String),
    #[error("a checkout of this cart is in progress")]
    CheckoutInProgress,
    #[error("no checkout of this order waits for the customer's action")]
    NoPendingCheckout,
    #[error("the customer did not complete the payment's action before the checkout's holds lapsed; the cart is open again")]
    ActionLapsed,
    #[error("a cart holds at most {max} lines")]
    TooManyLines { max: usize },
    #[error("a line holds at most {max} units")]
    QuantityTooLarge { max: u64 },
    #[error("the cart is in {cart}; SKU '{sku}' is priced in {price}")]
    CurrencyMismatch {
        sku: Sku,
        cart: String,
        price: String,
    },
    #[error("the cart has no line for SKU '{0}'")]
    LineNotFound(Sku),
    #[error("the cart has no lines")]
    Empty,
    #[error("these lines hold no stock: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))]
    LinesUnavailable(Vec<Sku>),
    #[error(transparent)]
    Idempotency(#[from] IdempotencyError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error(transparent)]
    Order(#[from] OrderError),
    #[error(transparent)]
    Payment(#[from] PaymentError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<CheckoutError> for CartError {
    fn from(e: CheckoutError) -> Self {
        match e {
            CheckoutError::LinesUnavailable(skus) => CartError::LinesUnavailable(skus),
            CheckoutError::NotPending => CartError::NoPendingCheckout,
            CheckoutError::ActionLapsed => CartError::ActionLapsed,
            CheckoutError::Inventory(e) => CartError::Inventory(e),
            CheckoutError::Order(e) => CartError::Order(e),
            CheckoutError::Payment(e) => CartError::Payment(e),
            CheckoutError::Store(e) => CartError::Store(e),
        }
    }
}

impl CartError {
    /// Stable machine-readable code; the last segment of the problem `type`.
    /// A failure of another capability carries that capability's code where
    /// it has one (it is answered as what it wraps).
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "cart-not-found",
            Self::Busy | Self::Passivated => "busy",
            Self::CheckedOut(_) => "cart-checked-out",
            Self::CheckoutInProgress => "checkout-in-progress",
            Self::NoPendingCheckout => "no-pending-payment",
            Self::ActionLapsed => "payment-action-lapsed",
            Self::TooManyLines { .. } => "too-many-lines",
            Self::QuantityTooLarge { .. } => "quantity-too-large",
            Self::CurrencyMismatch { .. } => "currency-mismatch",
            Self::LineNotFound(_) => "line-not-found",
            Self::Empty => "cart-empty",
            Self::LinesUnavailable(_) => "lines-unavailable",
            Self::Idempotency(e) => e.code(),
            Self::Catalog(e) => e.code(),
            Self::Inventory(_) => "inventory",
            Self::Order(e) => e.code(),
            Self::Payment(e) => e.code(),
            Self::Store(_) => "store",
        }
    }
}
