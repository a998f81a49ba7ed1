//! Receipts: how an unsafe call other than a purchase or a checkout is made
//! once per Idempotency-Key. The call's effect is committed together with a
//! receipt (`idem/<id>`, the id derived from the scope and the key) holding
//! the digest of the request and the call's outcome. A retry finds the
//! receipt and is answered with that outcome, changing nothing; the same key
//! with another request is refused. A call that fails changes nothing and
//! leaves no receipt, so its retry simply runs again.
//!
//! Receipts are kept for `[idempotency] retention_hours`, then purged (see
//! [`retention`](super::retention)).

use super::{Idempotency, IdempotencyError, IdempotencyKey};
use crate::clock::Millis;
use crate::store::{keys, Store, StoreError, WriteGroup};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::future::Future;

/// What a keyed call leaves in the store. `request_digest` and `at` come
/// first, in this order, in every receipt (restock receipts too), so the
/// purge reads them without knowing the outcome's type.
#[derive(Debug, Serialize, Deserialize)]
pub struct Receipt<T> {
    pub request_digest: [u8; 32],
    pub at: Millis,
    /// What the call answered with (e.g. the order after it), which a retry
    /// is answered with again.
    pub outcome: T,
}

/// The leading fields of any receipt.
#[derive(Debug, Deserialize)]
pub(super) struct ReceiptHead {
    #[allow(dead_code)] // Read only to reach `at`.
    pub request_digest: [u8; 32],
    pub at: Millis,
}

/// A keyed call being made (its key claimed: no other request with it runs
/// meanwhile): its effect must commit [`record`](Self::record)'s receipt.
pub struct KeyedCall {
    store_key: Vec<u8>,
    request_digest: [u8; 32],
    /// When the call began (what the purge goes by).
    at: Millis,
}

impl KeyedCall {
    /// Puts the receipt of this call, answering `outcome`, in the group that
    /// commits its effect.
    pub fn record<T: Serialize>(
        &self,
        group: &mut WriteGroup,
        outcome: &T,
    ) -> Result<(), StoreError> {
        let receipt = Receipt {
            request_digest: self.request_digest,
            at: self.at,
            outcome,
        };
        group.put(self.store_key.clone(), &receipt)
    }
}

/// The answer of a call that a retry may have made before: `replayed` when
/// it is the earlier answer and nothing changed now.
#[derive(Debug)]
pub struct Answered<T> {
    pub value: T,
    pub replayed: bool,
}

impl<T> Answered<T> {
    pub fn fresh(value: T) -> Self {
        Self {
            value,
            replayed: false,
        }
    }
}

impl Idempotency {
    /// Makes a call once per `key` under `scope`: `call` runs with the
    /// [`KeyedCall`] whose receipt its commit must carry (with `None` when
    /// no key was sent); a retry with the same key and `request_digest` is
    /// answered from the receipt instead. Refused while another request
    /// with the key runs (`InUse`), or when the key was used for another
    /// request (`Reused`).
    pub async fn once<T, E, F, Fut>(
        &self,
        store: &Store,
        scope: &str,
        key: Option<&IdempotencyKey>,
        request_digest: [u8; 32],
        call: F,
    ) -> Result<Answered<T>, E>
    where
        T: DeserializeOwned,
        E: From<IdempotencyError> + From<StoreError>,
        F: FnOnce(Option<KeyedCall>) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let Some(key) = key else {
            return call(None).await.map(Answered::fresh);
        };
        if store.failed() {
            // A receipt read now could be one that was never flushed.
            return Err(StoreError::Failed.into());
        }
        let id = self.receipt_id(scope, key);
        // Held until the call is done, whatever it does with `KeyedCall`.
        let _claim = self.claim(&id).ok_or(IdempotencyError::InUse)?;
        let store_key = keys::receipt(&id);
        if let Some(receipt) = store.get::<Receipt<T>>(&store_key)? {
            if receipt.request_digest != request_digest {
                return Err(IdempotencyError::Reused.into());
            }
            // A steady stream of replays means clients that lose answers.
            metrics::counter!("surge_idempotent_replays_total", "scope" => scope.to_owned())
                .increment(1);
            return Ok(Answered {
                value: receipt.outcome,
                replayed: true,
            });
        }
        let keyed = KeyedCall {
            store_key,
            request_digest,
            at: self.clock.now_ms(),
        };
        call(Some(keyed)).await.map(Answered::fresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StoreSettings;
    use crate::idempotency::request_digest;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    async fn setup() -> (tempfile::TempDir, Store, Idempotency) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreSettings::default().committer()).unwrap();
        let clock = Arc::new(crate::clock::ManualClock::default());
        let idem = Idempotency::load(&store, 1024, clock).await.unwrap();
        (dir, store, idem)
    }

    /// A counter whose every increment commits its receipt.
    async fn bump(
        idem: &Idempotency,
        store: &Store,
        counter: &AtomicU32,
        key: Option<&IdempotencyKey>,
        by: u32,
    ) -> Result<Answered<u32>, Refused> {
        let digest = request_digest(&[&by.to_be_bytes()]);
        idem.once(store, "bump", key, digest, |keyed| async move {
            let value = counter.fetch_add(by, Ordering::SeqCst) + by;
            let mut group = WriteGroup::new();
            if let Some(keyed) = keyed {
                keyed.record(&mut group, &value)?;
            }
            store.commit(group).await?;
            Ok(value)
        })
        .await
    }

    #[derive(Debug)]
    enum Refused {
        Key(IdempotencyError),
        Store,
    }

    impl From<IdempotencyError> for Refused {
        fn from(e: IdempotencyError) -> Self {
            Self::Key(e)
        }
    }

    impl From<StoreError> for Refused {
        fn from(_: StoreError) -> Self {
            Self::Store
        }
    }

    #[tokio::test]
    async fn a_retried_key_answers_the_first_outcome_and_changes_nothing() {
        let (_dir, store, idem) = setup().await;
        let counter = AtomicU32::new(0);
        let key = IdempotencyKey::parse("k1").unwrap();
        let first = bump(&idem, &store, &counter, Some(&key), 5).await.unwrap();
        assert_eq!((first.value, first.replayed), (5, false));
        let again = bump(&idem, &store, &counter, Some(&key), 5).await.unwrap();
        assert_eq!((again.value, again.replayed), (5, true));
        assert_eq!(counter.load(Ordering::SeqCst), 5);
        let unkeyed = bump(&idem, &store, &counter, None, 5).await.unwrap();
        assert_eq!((unkeyed.value, unkeyed.replayed), (10, false));
    }

    #[tokio::test]
    async fn a_key_reused_for_another_request_is_refused() {
        let (_dir, store, idem) = setup().await;
        let counter = AtomicU32::new(0);
        let key = IdempotencyKey::parse("k1").unwrap();
        bump(&idem, &store, &counter, Some(&key), 5).await.unwrap();
        let other = bump(&idem, &store, &counter, Some(&key), 6).await;
        assert!(matches!(other, Err(Refused::Key(IdempotencyError::Reused))));
        assert_eq!(counter.load(Ordering::SeqCst), 5);
    }

    #[tokio::test]
    async fn a_call_that_fails_leaves_no_receipt() {
        let (_dir, store, idem) = setup().await;
        let key = IdempotencyKey::parse("k1").unwrap();
        let digest = request_digest(&[b"x"]);
        let failed: Result<Answered<u32>, Refused> = idem
            .once(&store, "bump", Some(&key), digest, |_| async {
                Err(Refused::Store)
            })
            .await;
        assert!(matches!(failed, Err(Refused::Store)));
        let counter = AtomicU32::new(0);
        let retried = bump(&idem, &store, &counter, Some(&key), 1).await.unwrap();
        assert!(!retried.replayed, "the key was free again");
    }

    #[tokio::test]
    async fn a_key_is_in_use_while_its_call_runs() {
        let (_dir, store, idem) = setup().await;
        let key = IdempotencyKey::parse("k1").unwrap();
        let digest = request_digest(&[b"x"]);
        let (idem2, store2, key2) = (idem.clone(), store.clone(), key.clone());
        let outer: Answered<bool> = idem
            .once(&store, "bump", Some(&key), digest, |_| async move {
                let inner: Result<Answered<u32>, Refused> = idem2
                    .once(&store2, "bump", Some(&key2), digest, |_| async { Ok(1) })
                    .await;
                Ok::<_, Refused>(matches!(inner, Err(Refused::Key(IdempotencyError::InUse))))
            })
            .await
            .unwrap();
        assert!(
            outer.value,
            "the second request with the key was told to retry"
        );
    }

    #[test]
    fn any_receipt_reads_as_its_head() {
        let receipt = Receipt {
            request_digest: [9; 32],
            at: 1234,
            outcome: vec!["an outcome".to_owned()],
        };
        let bytes = crate::store::codec::encode(&receipt).unwrap();
        let head: ReceiptHead = crate::store::codec::decode(b"idem/x", &bytes).unwrap();
        assert_eq!((head.request_digest, head.at), ([9; 32], 1234));
    }
}
