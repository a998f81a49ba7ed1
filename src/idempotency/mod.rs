//! Idempotency-Key handling (Stripe semantics). A key names one request: the
//! first time it creates something; a retry with the same key and the same
//! request gets the original answer and creates nothing; the same key with a
//! different request is refused.
//!
//! The key is not stored on its own: the order id is derived from it with a
//! keyed hash (HMAC with a per-store secret), so "has this key been used?" is
//! one lookup of the order, and the order and its key are written in the same
//! atomic commit. The id stays unguessable to anyone without the secret.
//! Requests with the same key in flight at once are told to retry (409).
//!
//! Other keyed calls (pay, refund, fulfil, product and webhook creation,
//! restocks) leave a receipt instead: see [`receipt`].
//!
//! A Bloom filter of every order id in the store sits in front of that
//! lookup: a fresh key (the common case) is known to be new without reading
//! sled. The filter may say "maybe" for a new id (then the store decides);
//! it never says "no" for an existing one, because an id is added before its
//! order can be written.

mod receipt;
mod retention;

pub use receipt::{Answered, KeyedCall, Receipt};
pub use retention::{purge, purge_periodically, IdempotencySettings};

use crate::clock::Clock;
use crate::domain::{CartId, OrderId, ParseError};
use crate::store::{keys, Store, StoreError, WriteGroup};
use dashmap::DashMap;
use fastbloom::AtomicBloomFilter;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Longest Idempotency-Key accepted.
pub const KEY_LEN_MAX: usize = 255;

/// A client's Idempotency-Key: 1 to 255 visible ASCII characters. A cart
/// stores the keys it answered as plain strings (the same encoding as a
/// `String`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        check_key(raw)?;
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check_key(raw: &str) -> Result<(), ParseError> {
    if raw.is_empty() || raw.len() > KEY_LEN_MAX {
        return Err(ParseError::new(format!(
            "Idempotency-Key must be 1 to {KEY_LEN_MAX} characters"
        )));
    }
    if !raw.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ParseError::new(
            "Idempotency-Key must be visible ASCII characters",
        ));
    }
    Ok(())
}

impl TryFrom<String> for IdempotencyKey {
    type Error = ParseError;

    fn try_from(raw: String) -> Result<Self, ParseError> {
        check_key(&raw)?;
        Ok(Self(raw))
    }
}

impl From<IdempotencyKey> for String {
    fn from(key: IdempotencyKey) -> String {
        key.0
    }
}

/// Why a keyed request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdempotencyError {
    /// A request with the same key is being served.
    #[error("a request with this Idempotency-Key is in progress; retry shortly")]
    InUse,
    /// The key was used for a different request.
    #[error("this Idempotency-Key was used for a different request")]
    Reused,
}

impl IdempotencyError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::InUse => "idempotency-key-in-use",
            Self::Reused => "idempotency-key-reused",
        }
    }
}

/// Digest of a request's identity: what a retry must repeat exactly.
pub fn request_digest(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in parts {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    h.finalize().into()
}

/// Derives ids from keys, and tracks keys in flight.
#[derive(Clone)]
pub struct Idempotency {
    secret: Arc<[u8; 32]>,
    in_flight: Arc<DashMap<String, ()>>,
    /// Every order id that may be in the store (a superset).
    known: Arc<AtomicBloomFilter>,
    /// Dates receipts.
    clock: Arc<dyn Clock>,
}

/// False-positive rate of the known-ids filter while it holds no more than
/// its expected number of ids.
const FILTER_FALSE_POSITIVE_RATE: f64 = 0.01;

impl Idempotency {
    /// Loads the store's secret (creating it on first start) and fills the
    /// known-ids filter, sized for `expected_orders`, from the stored orders.
    pub async fn load(
        store: &Store,
        expected_orders: usize,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StoreError> {
        let secret = match store.get::<[u8; 32]>(keys::IDEMPOTENCY_SECRET)? {
            Some(secret) => secret,
            None => {
                let mut secret = [0u8; 32];
                getrandom::fill(&mut secret)
                    .map_err(|e| StoreError::io(format!("no randomness: {e}")))?;
                let mut group = WriteGroup::new();
                group.put(keys::IDEMPOTENCY_SECRET.to_vec(), &secret)?;
                store.commit(group).await?;
                secret
            }
        };
        let known = AtomicBloomFilter::with_false_pos(FILTER_FALSE_POSITIVE_RATE)
            .expected_items(expected_orders.max(1024));
        store.for_each_key(keys::ORDER, |id| {
            known.insert(id);
        })?;
        Ok(Self {
            secret: Arc::new(secret),
            in_flight: Arc::default(),
            known: Arc::new(known),
            clock,
        })
    }

    /// Whether an order with `id` may exist; `false` means it certainly does not.
    pub fn may_exist(&self, id: &OrderId) -> bool {
        self.known.contains(id.as_str().as_bytes())
    }

    /// Records that an order with `id` may be written from now on. Call it
    /// before asking anything to create the order.
    pub fn remember(&self, id: &OrderId) {
        self.known.insert(id.as_str().as_bytes());
    }

    /// The order id that `key` creates under `scope` (e.g. "purchase").
    pub fn order_id(&self, scope: &str, key: &IdempotencyKey) -> OrderId {
        OrderId::from_digest(&self.tag(scope, key))
    }

    /// The id of the record a keyed admin call under `scope` leaves (its
    /// receipt), e.g. a restock's.
    pub fn receipt_id(&self, scope: &str, key: &IdempotencyKey) -> String {
        format!("{scope}_{}", hex::encode(self.tag(scope, key)))
    }

    /// The id of the cart a keyed create makes.
    pub fn cart_id(&self, key: &IdempotencyKey) -> CartId {
        CartId::from_digest(&self.tag("cart", key))
    }

    fn tag(&self, scope: &str, key: &IdempotencyKey) -> [u8; 16] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.secret.as_slice())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(scope.as_bytes());
        mac.update(&[0]);
        mac.update(key.0.as_bytes());
        let tag = mac.finalize().into_bytes();
        let mut out = [0u8; 16];
        out.copy_from_slice(&tag[..16]);
        out
    }

    /// Claims `id` (an order's or a receipt's) for one request; `None` if
    /// another request holds it.
    pub fn claim(&self, id: &str) -> Option<Claim> {
        match self.in_flight.entry(id.to_owned()) {
            dashmap::Entry::Occupied(_) => None,
            dashmap::Entry::Vacant(slot) => {
                slot.insert(());
                Some(Claim {
                    id: id.to_owned(),
                    in_flight: self.in_flight.clone(),
                })
            }
        }
    }
}

/// Held while a request with a key is being served; released on drop.
pub struct Claim {
    id: String,
    in_flight: Arc<DashMap<String, ()>>,
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.in_flight.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idem() -> Idempotency {
        Idempotency {
            secret: Arc::new([7; 32]),
            in_flight: Arc::default(),
            known: Arc::new(AtomicBloomFilter::with_false_pos(0.01).expected_items(1024)),
            clock: Arc::new(crate::clock::ManualClock::default()),
        }
    }

    #[test]
    fn a_remembered_id_may_exist_and_most_others_certainly_do_not() {
        let i = idem();
        let ids: Vec<OrderId> = (0..100)
            .map(|n| {
                i.order_id(
                    "purchase",
                    &IdempotencyKey::parse(&format!("k{n}")).unwrap(),
                )
            })
            .collect();
        for id in &ids[..50] {
            i.remember(id);
        }
        assert!(
            ids[..50].iter().all(|id| i.may_exist(id)),
            "no false negatives"
        );
        let false_positives = ids[50..].iter().filter(|id| i.may_exist(id)).count();
        assert!(
            false_positives < 5,
            "{false_positives} of 50 unknown ids looked known"
        );
    }

    #[test]
    fn keys_map_to_stable_distinct_ids_per_scope() {
        let i = idem();
        let k = IdempotencyKey::parse("abc").unwrap();
        assert_eq!(i.order_id("purchase", &k), i.order_id("purchase", &k));
        assert_ne!(i.order_id("purchase", &k), i.order_id("checkout", &k));
        let other = IdempotencyKey::parse("abd").unwrap();
        assert_ne!(i.order_id("purchase", &k), i.order_id("purchase", &other));
    }

    #[test]
    fn a_key_in_flight_cannot_be_claimed_twice() {
        let i = idem();
        let id = i.order_id("purchase", &IdempotencyKey::parse("k").unwrap());
        let first = i.claim(id.as_str()).unwrap();
        assert!(i.claim(id.as_str()).is_none());
        drop(first);
        assert!(i.claim(id.as_str()).is_some());
    }

    #[test]
    fn keys_are_bounded_visible_ascii() {
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse("a b").is_err());
        assert!(IdempotencyKey::parse(&"k".repeat(256)).is_err());
        assert!(IdempotencyKey::parse("0b9e-42").is_ok());
    }

    #[test]
    fn a_key_is_stored_exactly_like_its_string() {
        let key = IdempotencyKey::parse("0b9e-42").unwrap();
        let bytes = postcard::to_stdvec(&key).unwrap();
        assert_eq!(bytes, postcard::to_stdvec("0b9e-42").unwrap());
        assert_eq!(postcard::from_bytes::<IdempotencyKey>(&bytes), Ok(key));
        let bad = postcard::to_stdvec("a b").unwrap();
        assert!(postcard::from_bytes::<IdempotencyKey>(&bad).is_err());
    }
}
