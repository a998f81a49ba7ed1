//! The outbox: events stored under `outbox/<seq>` (big-endian, so a scan
//! reads them in sequence order). Writers add an event to the write group of
//! their change; the delivery worker reads them, sends them to every
//! subscribed webhook, and removes them with the outcomes.
//!
//! An event no webhook subscribes to is not written at all: delivery starts
//! at registration, so nobody could ever read it, and a flash sale should not
//! pay an extra key per purchase for a listener that does not exist.

use crate::clock::Millis;
use crate::store::{keys, Store, StoreError, WriteGroup};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

/// The kinds of business event, named as webhooks see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventKind {
    #[serde(rename = "order.created")]
    OrderCreated,
    #[serde(rename = "order.paid")]
    OrderPaid,
    #[serde(rename = "order.fulfilled")]
    OrderFulfilled,
    #[serde(rename = "order.shipped")]
    OrderShipped,
    #[serde(rename = "order.delivered")]
    OrderDelivered,
    #[serde(rename = "order.cancelled")]
    OrderCancelled,
    #[serde(rename = "order.expired")]
    OrderExpired,
    #[serde(rename = "order.refunded")]
    OrderRefunded,
    #[serde(rename = "stock.changed")]
    StockChanged,
    #[serde(rename = "stock.sold_out")]
    StockSoldOut,
    #[serde(rename = "reservation.expired")]
    ReservationExpired,
}

impl EventKind {
    pub const ALL: [EventKind; 11] = [
        Self::OrderCreated,
        Self::OrderPaid,
        Self::OrderFulfilled,
        Self::OrderShipped,
        Self::OrderDelivered,
        Self::OrderCancelled,
        Self::OrderExpired,
        Self::OrderRefunded,
        Self::StockChanged,
        Self::StockSoldOut,
        Self::ReservationExpired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrderCreated => "order.created",
            Self::OrderPaid => "order.paid",
            Self::OrderFulfilled => "order.fulfilled",
            Self::OrderShipped => "order.shipped",
            Self::OrderDelivered => "order.delivered",
            Self::OrderCancelled => "order.cancelled",
            Self::OrderExpired => "order.expired",
            Self::OrderRefunded => "order.refunded",
            Self::StockChanged => "stock.changed",
            Self::StockSoldOut => "stock.sold_out",
            Self::ReservationExpired => "reservation.expired",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }
}

/// One stored event. `data` is JSON text (the record codec is not
/// self-describing, so a JSON value is kept as its text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Unique id (`evt_<seq>`); webhook receivers deduplicate by it.
    pub id: String,
    pub seq: u64,
    pub kind: EventKind,
    pub at: Millis,
    pub data: String,
}

/// The id of the event with sequence number `seq`.
pub fn event_id(seq: u64) -> String {
    format!("evt_{seq:016x}")
}

/// The sequence number in an event id, if it is one.
pub(super) fn event_seq(id: &str) -> Option<u64> {
    let hex = id.strip_prefix("evt_").filter(|h| h.len() == 16)?;
    u64::from_str_radix(hex, 16).ok()
}

/// Hands out sequence numbers and knows which kinds anyone listens to.
#[derive(Clone)]
pub struct Outbox {
    inner: Arc<Inner>,
}

struct Inner {
    next_seq: AtomicU64,
    wanted: RwLock<BTreeSet<EventKind>>,
    /// Whether `wanted` is not empty: read on every change and every poke
    /// without the lock (with no webhook, the common case, that is all).
    listened: AtomicBool,
    /// Woken after events are committed, so delivery need not poll hard.
    pending: Notify,
}

impl Outbox {
    /// Continues the sequence after the highest event ever committed: the
    /// ones still stored, and the highest one delivery removed (which it
    /// records under `OUTBOX_SEQ` in the same group as the removal).
    pub fn load(store: &Store) -> Result<Self, StoreError> {
        let mut last = store.get::<u64>(keys::OUTBOX_SEQ)?.unwrap_or(0);
        store.for_each_key(keys::OUTBOX, |rest| {
            if let Ok(bytes) = <[u8; 8]>::try_from(rest) {
                last = last.max(u64::from_be_bytes(bytes));
            }
        })?;
        Ok(Self {
            inner: Arc::new(Inner {
                next_seq: AtomicU64::new(last + 1),
                wanted: RwLock::default(),
                listened: AtomicBool::new(false),
                pending: Notify::new(),
            }),
        })
    }

    /// Sets the kinds some webhook subscribes to.
    pub fn set_wanted(&self, kinds: impl IntoIterator<Item = EventKind>) {
        let mut wanted = self.inner.wanted.write();
        *wanted = kinds.into_iter().collect();
        self.inner
            .listened
            .store(!wanted.is_empty(), Ordering::Release);
    }

    pub fn wants(&self, kind: EventKind) -> bool {
        self.inner.listened.load(Ordering::Acquire) && self.inner.wanted.read().contains(&kind)
    }

    /// Adds an event to `group` if anyone wants its kind. The event exists
    /// once the group is durable.
    pub fn record<T: Serialize>(
        &self,
        group: &mut WriteGroup,
        kind: EventKind,
        data: &T,
        now: Millis,
    ) -> Result<(), StoreError> {
        if !self.wants(kind) {
            return Ok(());
        }
        let data = serde_json::to_string(data)
            .map_err(|e| StoreError::io(format!("encoding an event: {e}")))?;
        let seq = self.inner.next_seq.fetch_add(1, Ordering::Relaxed);
        let event = Event {
            id: event_id(seq),
            seq,
            kind,
            at: now,
            data,
        };
        group.put(keys::numbered(keys::OUTBOX, seq), &event)
    }

    /// The highest sequence number handed out so far (committed or not).
    pub fn last_handed_out(&self) -> u64 {
        self.inner
            .next_seq
            .load(Ordering::Relaxed)
            .saturating_sub(1)
    }

    /// Tells delivery that events may be waiting. With no webhook there
    /// are none to wake it for (events left by a removed one are found by
    /// its idle wake-up): a purchase pokes, and waking the worker on every
    /// one costs ~1.5 % of a sale's CPU in empty rounds.
    pub fn poke(&self) {
        if self.inner.listened.load(Ordering::Relaxed) {
            self.inner.pending.notify_one();
        }
    }

    /// Waits until [`poke`](Self::poke) is called.
    pub async fn poked(&self) {
        self.inner.pending.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_give_back_their_sequence_number() {
        for seq in [0, 1, 255, u64::MAX] {
            assert_eq!(event_seq(&event_id(seq)), Some(seq));
        }
        assert_eq!(event_seq("evt_nope"), None);
        assert_eq!(event_seq("evt_00000000000000zz"), None);
        assert_eq!(event_seq("ord_0000000000000001"), None);
    }
}
