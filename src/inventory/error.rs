//! Inventory failures: the SKU's own refusals plus the ways a message can
//! fail to reach or leave its actor.

use super::sku::SkuError;
use crate::domain::Sku;
use crate::idempotency::IdempotencyError;
use crate::store::StoreError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum InventoryError {
    #[error(transparent)]
    Refused(#[from] SkuError),
    #[error("no SKU '{0}'")]
    UnknownSku(Sku),
    /// The SKU's mailbox is full: shed load now rather than queue forever.
    #[error("SKU '{0}' is too busy; retry shortly")]
    Busy(Sku),
    /// The actor stopped before answering; the outcome is unknown, so only
    /// an idempotent retry is safe.
    #[error("SKU '{0}' did not answer")]
    NoAnswer(Sku),
    /// The actor passivated as the message arrived; nothing was applied, so
    /// the handle activates a fresh actor and sends again.
    #[error("SKU actor passivated")]
    Passivated,
    #[error(transparent)]
    Idempotency(#[from] IdempotencyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl InventoryError {
    /// Stable machine-readable code; the last segment of the problem `type`.
    /// A wrapped failure carries its own code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Refused(e) => e.code(),
            Self::UnknownSku(_) => "sku-not-found",
            Self::Busy(_) => "busy",
            Self::NoAnswer(_) | Self::Passivated => "no-answer",
            Self::Idempotency(e) => e.code(),
            Self::Store(e) => e.code(),
        }
    }
}
