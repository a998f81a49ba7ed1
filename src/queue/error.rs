//! Why a waiting-room call fails.

use crate::domain::Sku;
use crate::inventory::InventoryError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("SKU '{0}' has no waiting room; it is bought directly")]
    NotEnabled(Sku),
    #[error("the waiting room of this SKU holds its maximum of {max} tickets")]
    Full { max: usize },
    #[error("no ticket '{0}'")]
    TicketNotFound(String),
    #[error("{0}")]
    AdmissionRequired(Refusal),
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a purchase of a SKU with a waiting room is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("this SKU is sold through its waiting room: join it (POST /v1/skus/{{sku}}/queue) and buy with the admission it gives")]
    Missing,
    #[error("the admission is not one this waiting room gave to this customer for this SKU")]
    Invalid,
    #[error("the admission has expired; its place went to the next in line")]
    Expired,
    #[error("the admission was used already")]
    Used,
    #[error("the admission is being used by another purchase right now")]
    InUse,
    #[error("this SKU is sold through its waiting room only; a cart cannot hold it")]
    NoCarts,
}

impl Refusal {
    /// What a client reads in the problem's `reason`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Invalid => "invalid",
            Self::Expired => "expired",
            Self::Used => "used",
            Self::InUse => "in-use",
            Self::NoCarts => "waiting-room-only",
        }
    }
}

impl QueueError {
    /// Stable machine-readable code; the last segment of the problem `type`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotEnabled(_) => "queue-not-enabled",
            Self::Full { .. } => "queue-full",
            Self::TicketNotFound(_) => "ticket-not-found",
            Self::AdmissionRequired(_) => "admission-required",
            Self::Inventory(e) => e.code(),
            Self::Store(e) => e.code(),
        }
    }
}
