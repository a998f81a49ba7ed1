//! The Stripe events already applied, under `stripe_evt/<event id>`: Stripe
//! delivers an event at least once (and again when our answer was lost), so
//! each is applied once and a redelivery is acknowledged without acting.
//! The record begins like an idempotency receipt (a digest, then the time),
//! so the receipts' purge forgets it, but not before three days (Stripe
//! redelivers an event for up to three) nor before `[idempotency]
//! retention_hours`.

use crate::clock::Millis;
use crate::store::{keys, Store, StoreError, WriteGroup};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenEvent {
    /// SHA-256 of the event's payload.
    pub payload_digest: [u8; 32],
    /// When it was applied.
    pub at: Millis,
    /// Its type, for an operator reading the store.
    pub kind: String,
}

pub(super) fn seen(store: &Store, id: &str) -> Result<bool, StoreError> {
    store.contains(&keys::stripe_event(id))
}

pub(super) fn record(
    group: &mut WriteGroup,
    id: &str,
    event: &SeenEvent,
) -> Result<(), StoreError> {
    group.put(keys::stripe_event(id), event)
}
