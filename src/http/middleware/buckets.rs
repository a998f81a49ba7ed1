//! Token buckets per key (client address, customer), bounded in memory.
//!
//! governor's keyed `RateLimiter` does the arithmetic (GCRA: one atomic per
//! key, no timer). Its store is ours, a `DashMap` behind an `Arc`, so that
//! the number of keys can be bounded: an address seen once must not be
//! remembered forever, and a flood of new addresses must not grow memory
//! without end. Each new key is counted; when the count passes the bound,
//! the keys whose bucket is full again (as good as forgotten) are dropped,
//! and if that is not enough, all of them are: those clients start again
//! with a full burst, which lets a few requests through, where the other
//! choice, refusing clients not seen before, would shut out everyone new.

use dashmap::DashMap;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::ShrinkableKeyedStateStore;
use governor::state::{InMemoryState, StateStore};
use governor::{Quota, RateLimiter};
use std::cell::Cell;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A keyed store that counts the keys it adds.
struct CountedStore<K: Hash + Eq> {
    map: Arc<DashMap<K, InMemoryState>>,
    /// Keys added since the map was last measured (an estimate of its
    /// length between sweeps).
    keys: Arc<AtomicUsize>,
}

impl<K: Hash + Eq + Clone> StateStore for CountedStore<K> {
    type Key = K;

    fn measure_and_replace<T, F, E>(&self, key: &K, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        // governor hands the decision `None` for a key it has no state for
        // yet: that is an insertion (once, even if the update is retried).
        let added = Cell::new(false);
        let result = self.map.measure_and_replace(key, |state| {
            if state.is_none() {
                added.set(true);
            }
            f(state)
        });
        if added.get() {
            self.keys.fetch_add(1, Ordering::Relaxed);
        }
        result
    }
}

impl<K: Hash + Eq + Clone> ShrinkableKeyedStateStore<K> for CountedStore<K> {
    fn retain_recent(&self, drop_below: Nanos) {
        ShrinkableKeyedStateStore::retain_recent(&*self.map, drop_below);
    }

    fn shrink_to_fit(&self) {
        self.map.shrink_to_fit();
    }

    fn len(&self) -> usize {
        self.map.len()
    }

    fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Token buckets of one quota, one per key, at most about `max` keys.
pub struct Buckets<K: Hash + Eq + Clone, C: Clock = DefaultClock> {
    limiter: RateLimiter<K, CountedStore<K>, C, NoOpMiddleware<C::Instant>>,
    map: Arc<DashMap<K, InMemoryState>>,
    keys: Arc<AtomicUsize>,
    max: usize,
    /// Set while one caller sweeps, so that the others do not queue on it.
    sweeping: AtomicBool,
}

impl<K: Hash + Eq + Clone> Buckets<K> {
    pub fn new(quota: Quota, max: usize) -> Self {
        Self::with_clock(quota, max, DefaultClock::default())
    }
}

impl<K: Hash + Eq + Clone, C: Clock> Buckets<K, C> {
    pub fn with_clock(quota: Quota, max: usize, clock: C) -> Self {
        let map = Arc::new(DashMap::new());
        let keys = Arc::new(AtomicUsize::new(0));
        let store = CountedStore {
            map: Arc::clone(&map),
            keys: Arc::clone(&keys),
        };
        Self {
            limiter: RateLimiter::new(quota, store, clock),
            map,
            keys,
            max,
            sweeping: AtomicBool::new(false),
        }
    }

    /// Takes a token from `key`'s bucket; when it is empty, how long until
    /// the next one.
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        let result = self
            .limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(self.limiter.clock().now()));
        if self.keys.load(Ordering::Relaxed) > self.max {
            self.sweep();
        }
        result
    }

    /// Keys remembered now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.len()
    }

    /// Forgets the keys whose bucket is full again, then, if more than
    /// `max` remain, all of them.
    fn sweep(&self) {
        if self.sweeping.swap(true, Ordering::Acquire) {
            return;
        }
        self.limiter.retain_recent();
        if self.map.len() > self.max {
            tracing::warn!(
                keys = self.map.len(),
                max = self.max,
                "more rate-limited clients than rate_limits.tracked_clients_max; forgetting all"
            );
            metrics::counter!("surge_rate_limit_resets_total").increment(1);
            self.map.clear();
        }
        self.map.shrink_to_fit();
        self.keys.store(self.map.len(), Ordering::Relaxed);
        self.sweeping.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;
    use std::num::NonZeroU32;

    fn quota(per_sec: u32, burst: u32) -> Quota {
        let (Some(rate), Some(burst)) = (NonZeroU32::new(per_sec), NonZeroU32::new(burst)) else {
            unreachable!("test quotas are not zero")
        };
        Quota::per_second(rate).allow_burst(burst)
    }

    #[test]
    fn a_bucket_lets_its_burst_through_then_refills_at_its_rate() {
        let clock = FakeRelativeClock::default();
        let buckets = Buckets::with_clock(quota(2, 3), 10, clock.clone());
        for _ in 0..3 {
            assert_eq!(buckets.check(&"a"), Ok(()));
        }
        let wait = buckets.check(&"a").unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        // Another key has its own bucket.
        assert_eq!(buckets.check(&"b"), Ok(()));
        clock.advance(Duration::from_millis(500));
        assert_eq!(buckets.check(&"a"), Ok(()));
        assert!(buckets.check(&"a").is_err());
    }

    #[test]
    fn idle_keys_are_forgotten_once_there_are_too_many() {
        let clock = FakeRelativeClock::default();
        let buckets = Buckets::with_clock(quota(10, 1), 5, clock.clone());
        for i in 0..5 {
            assert_eq!(buckets.check(&i), Ok(()));
        }
        assert_eq!(buckets.len(), 5);
        // All five refill; the sixth key makes a sweep forget them.
        clock.advance(Duration::from_secs(1));
        assert_eq!(buckets.check(&100), Ok(()));
        assert_eq!(buckets.len(), 1);
    }

    #[test]
    fn too_many_busy_keys_are_all_forgotten_and_memory_stays_bounded() {
        let clock = FakeRelativeClock::default();
        let buckets = Buckets::with_clock(quota(1, 1), 100, clock);
        for i in 0..10_000 {
            let _ = buckets.check(&i);
            assert!(buckets.len() <= 101, "{} keys after {i}", buckets.len());
        }
        // A key still remembered is still limited.
        let _ = buckets.check(&9_999);
        assert!(buckets.check(&9_999).is_err());
    }
}
