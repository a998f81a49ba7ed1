//! Published availability: one atomic counter per SKU. The SKU's single
//! writer stores into it after each durable change; any thread reads it
//! without a message or a lock, which is what makes catalog reads and the
//! sold-out answer cheap.

use crate::domain::Sku;
use dashmap::DashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[derive(Clone, Default)]
pub struct Availability {
    counts: Arc<DashMap<Sku, Arc<AtomicU64>>>,
}

impl Availability {
    /// The last published available count of `sku`, if it is known.
    pub fn get(&self, sku: &Sku) -> Option<u64> {
        self.counts.get(sku).map(|c| c.load(Ordering::Acquire))
    }

    /// Publishes `available` for `sku`.
    pub fn publish(&self, sku: &Sku, available: u64) {
        self.cell(sku).store(available, Ordering::Release);
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
