//! The closed list of reasons a SKU refuses an operation. Each variant
//! carries the facts a client needs to act on the refusal, and `code()` is
//! its stable machine-readable name (the tail of the problem+json `type`).

use super::Millis;
use crate::domain::HoldId;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkuError {
    #[error("only {available} available, {requested} requested")]
    InsufficientStock { available: u64, requested: u64 },
    #[error("at most {limit} per customer: {already} already held or bought, {requested} more requested")]
    LimitExceeded {
        limit: u64,
        already: u64,
        requested: u64,
    },
    #[error("the sale starts at {starts_at} ms")]
    SaleNotStarted { starts_at: Millis },
    #[error("the sale ended at {ended_at} ms")]
    SaleEnded { ended_at: Millis },
    #[error("'{0}' already holds stock of this SKU")]
    HoldExists(HoldId),
    #[error("'{0}' holds no stock of this SKU")]
    UnknownHold(HoldId),
    #[error("the hold of '{0}' has expired")]
    HoldExpired(HoldId),
    #[error("cannot stock {requested}: {reserved} reserved and {sold} sold")]
    StockBelowCommitted {
        requested: u64,
        reserved: u64,
        sold: u64,
    },
    #[error("quantity must be at least 1 and within range")]
    InvalidQuantity,
}

impl SkuError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::InsufficientStock { .. } => "sold-out",
            Self::LimitExceeded { .. } => "limit-exceeded",
            Self::SaleNotStarted { .. } => "sale-not-started",
            Self::SaleEnded { .. } => "sale-ended",
            Self::HoldExists(_) => "hold-exists",
            Self::UnknownHold(_) => "hold-not-found",
            Self::HoldExpired(_) => "hold-expired",
            Self::StockBelowCommitted { .. } => "stock-below-committed",
            Self::InvalidQuantity => "invalid-quantity",
        }
    }
}
