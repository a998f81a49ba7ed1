//! How long receipts are kept, and their purge. A client retries within
//! seconds or hours, not months: receipts older than `[idempotency]
//! retention_hours` are removed (after which their keys are free again), so
//! the store does not grow by one record per keyed call forever. Orders made
//! by purchases and checkouts are their own receipts and stay.

use super::receipt::ReceiptHead;
use crate::clock::{Clock, Millis};
use crate::store::{keys, Store, StoreError, WriteGroup};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The `[idempotency]` section.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdempotencySettings {
    /// Hours a keyed call's receipt is kept; a retry within them is
    /// answered from it. At least 24.
    pub retention_hours: u64,
}

impl Default for IdempotencySettings {
    fn default() -> Self {
        Self {
            retention_hours: 24,
        }
    }
}

/// Clients are promised a day; less would break retries they may rely on.
const RETENTION_HOURS_MIN: u64 = 24;

impl IdempotencySettings {
    pub fn validate(&self) -> Result<(), String> {
        if self.retention_hours < RETENTION_HOURS_MIN {
            return Err(format!(
                "idempotency.retention_hours must be at least {RETENTION_HOURS_MIN}"
            ));
        }
        Ok(())
    }

    pub fn retention_ms(&self) -> Millis {
        self.retention_hours.saturating_mul(3_600_000)
    }
}

/// Receipt prefixes the purge covers.
const PREFIXES: [&[u8]; 3] = [keys::RECEIPT, keys::RESTOCK, keys::STRIPE_EVENT];

/// Stripe redelivers an event for up to three days; the record that it was
/// applied is kept at least that long, whatever `retention_hours` says.
const STRIPE_REDELIVERY_MS: Millis = 72 * 3_600_000;

/// Removals per commit: a big backlog is purged in bounded groups.
const PURGE_BATCH: usize = 1000;

/// Removes every receipt older than `retention_ms` at `now` (a Stripe
/// event's record only after Stripe's redelivery window too). Returns how
/// many. A record that cannot be read is left for an operator (it is not
/// ours to guess).
pub async fn purge(store: &Store, now: Millis, retention_ms: Millis) -> Result<usize, StoreError> {
    let mut expired = Vec::new();
    for prefix in PREFIXES {
        let kept_ms = match prefix == keys::STRIPE_EVENT {
            true => retention_ms.max(STRIPE_REDELIVERY_MS),
            false => retention_ms,
        };
        let before = now.saturating_sub(kept_ms);
        let salvaged = store.scan_keyed_salvaging::<ReceiptHead>(prefix)?;
        for unreadable in &salvaged.unreadable {
            tracing::warn!(key = %String::from_utf8_lossy(&unreadable.key), error = %unreadable.error, "an unreadable receipt is kept");
        }
        expired.extend(
            salvaged
                .records
                .into_iter()
                .filter(|(_, head)| head.at < before)
                .map(|(key, _)| key),
        );
    }
    let purged = expired.len();
    for chunk in expired.chunks(PURGE_BATCH) {
        let mut group = WriteGroup::new();
        for key in chunk {
            group.remove(key.clone());
        }
        store.commit(group).await?;
    }
    Ok(purged)
}

/// How often the purge runs, on the injected clock (so a test that moves
/// the clock past the retention sees it run).
const PURGE_EVERY_MS: Millis = 15 * 60 * 1000;

/// Purges expired receipts now and every [`PURGE_EVERY_MS`] until the
/// process ends.
pub fn purge_periodically(
    store: Store,
    clock: Arc<dyn Clock>,
    settings: IdempotencySettings,
) -> actix_web::rt::task::JoinHandle<()> {
    actix_web::rt::spawn(async move {
        loop {
            let now = clock.now_ms();
            match purge(&store, now, settings.retention_ms()).await {
                Ok(0) => {}
                Ok(purged) => tracing::info!(purged, "purged expired idempotency receipts"),
                Err(e) => tracing::warn!(error = %e, "purging idempotency receipts"),
            }
            clock.sleep_until(now.saturating_add(PURGE_EVERY_MS)).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StoreSettings;
    use crate::idempotency::receipt::Receipt;

    #[tokio::test]
    async fn only_receipts_older_than_the_cutoff_are_purged() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreSettings::default().committer()).unwrap();
        let mut group = WriteGroup::new();
        let hour = 3_600_000;
        let now = 100 * hour;
        let receipts = [
            ("idem/old", now - 25 * hour),
            ("idem/new", now - 23 * hour),
            ("restock/old", now - 30 * hour),
            // Stripe may still redeliver these: kept for three days.
            ("stripe_evt/evt_2d", now - 48 * hour),
            ("stripe_evt/evt_4d", now - 96 * hour),
        ];
        for (key, at) in receipts {
            let receipt = Receipt {
                request_digest: [0; 32],
                at,
                outcome: "done",
            };
            group.put(key.as_bytes().to_vec(), &receipt).unwrap();
        }
        group.put(b"ord/keep".to_vec(), &1u8).unwrap();
        store.commit(group).await.unwrap();

        assert_eq!(purge(&store, now, 24 * hour).await.unwrap(), 3);
        assert!(store.contains(b"stripe_evt/evt_2d").unwrap());
        assert!(!store.contains(b"stripe_evt/evt_4d").unwrap());
        assert!(!store.contains(b"idem/old").unwrap());
        assert!(!store.contains(b"restock/old").unwrap());
        assert!(store.contains(b"idem/new").unwrap());
        assert!(store.contains(b"ord/keep").unwrap());
    }

    #[test]
    fn retention_below_a_day_is_refused() {
        let short = IdempotencySettings { retention_hours: 1 };
        assert!(short.validate().is_err());
        assert!(IdempotencySettings::default().validate().is_ok());
    }
}
