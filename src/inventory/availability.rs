//! Published availability: one atomic counter per SKU. The SKU's single
//! writer stores into it after each change; any thread reads it without a
//! message or a lock, which is what makes catalog reads and the sold-out
//! answer cheap. Changes are also announced on a broadcast feed, which the
//! live event stream relays to storefronts.

use crate::domain::Sku;
use dashmap::DashMap;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::broadcast;

/// A public stock change: what a storefront shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StockUpdate {
    pub sku: Sku,
    pub available: u64,
    pub sold_out: bool,
    /// The count it replaced, when known (the dashboard ranks SKUs by how
    /// fast it falls); not part of what storefronts are sent.
    #[serde(skip)]
    pub previous: Option<u64>,
}

/// Updates kept for a slow subscriber before it is dropped (it then sees
/// `Lagged`): the feed never grows memory for a client that does not read.
const FEED_BUFFER: usize = 1024;

#[derive(Clone)]
pub struct Availability {
    counts: Arc<DashMap<Sku, Arc<AtomicU64>>>,
    feed: broadcast::Sender<StockUpdate>,
}

impl Default for Availability {
    fn default() -> Self {
        Self {
            counts: Arc::default(),
            feed: broadcast::channel(FEED_BUFFER).0,
        }
    }
}

impl Availability {
    /// The last published available count of `sku`, if it is known.
    pub fn get(&self, sku: &Sku) -> Option<u64> {
        self.counts.get(sku).map(|c| c.load(Ordering::Acquire))
    }

    /// Publishes `available` for `sku`.
    pub fn publish(&self, sku: &Sku, available: u64) {
        let old = self.cell(sku).swap(available, Ordering::AcqRel);
        if old != available {
            self.announce(sku, Some(old), available);
        }
    }

    /// Tells feed subscribers (if any) that `sku` now has `available` units
    /// (`previous` before).
    pub fn announce(&self, sku: &Sku, previous: Option<u64>, available: u64) {
        if self.feed.receiver_count() > 0 {
            let _ = self.feed.send(StockUpdate {
                sku: sku.clone(),
                available,
                sold_out: available == 0,
                previous,
            });
        }
    }

    /// A receiver of every stock change from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<StockUpdate> {
        self.feed.subscribe()
    }

    /// The counter of `sku`, created at 0 if new. A writer keeps it to publish
    /// without a map lookup.
    pub fn cell(&self, sku: &Sku) -> Arc<AtomicU64> {
        if let Some(c) = self.counts.get(sku) {
            return c.clone();
        }
        self.counts.entry(sku.clone()).or_default().clone()
    }
}
