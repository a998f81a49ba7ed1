//! The adaptive limit on storefront writes in flight. A fixed limit has to be
//! chosen for a machine: too high and, past the node's capacity, every
//! admitted write queues behind the others (Little's law: in flight =
//! throughput × latency); too low and a burst the node could serve is
//! refused. This limit instead follows what admitted writes experience: each
//! window (a tenth of a second) in which more than a tenth of them took longer
//! than the latency target shrinks it by a quarter; a window in which the
//! limit refused someone while writes stayed fast widens it by a tenth.
//! Additive-ish increase, multiplicative decrease, as TCP does; the signal is
//! latency rather than loss, because here the queue is ours to keep short.
//!
//! Refusing only helps when refused clients go away for a while (they are
//! told `Retry-After`). Clients that retry at once turn each refusal into
//! more work than the write it replaced, and the latency they cause would
//! shrink the limit further. So a window with more than four refusals per
//! completed write widens the limit whatever the latency: past that point
//! the queue is cheaper than the refusals.
//!
//! It is a few atomics and a lock taken once per completion, not a crate: the
//! adaptive limiters published for Rust are tower layers, and actix-web's
//! middleware is not tower.

use parking_lot::Mutex;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the limit is reconsidered.
const WINDOW: Duration = Duration::from_millis(100);
/// Fewest samples a window needs before it may move the limit.
const WINDOW_SAMPLES_MIN: u32 = 16;
/// The limit never adapts below this (or below the ceiling, if lower):
/// a handful of writes in flight cannot make a queue worth refusing.
const FLOOR: usize = 16;
/// Refusals per completed write beyond which refusing costs more than it
/// saves (clients retrying at once).
const RETRY_STORM: u32 = 4;

/// Writes in flight against a limit that adapts to their latency.
pub struct WriteLimit {
    inner: Arc<Inner>,
}

struct Inner {
    ceiling: usize,
    floor: usize,
    /// Latency that at most a tenth of admitted writes may exceed; `None`
    /// keeps the limit fixed at the ceiling.
    target: Option<Duration>,
    limit: AtomicUsize,
    in_flight: AtomicUsize,
    /// Writes refused in the current window: only after a refusal is a wider
    /// limit worth trying.
    refused: AtomicU32,
    window: Mutex<Window>,
}

#[derive(Default)]
struct Window {
    /// `None` until the first completion.
    started: Option<Instant>,
    /// Writes completed, sampled or not.
    completed: u32,
    samples: u32,
    slow: u32,
}

/// One admitted write; dropping it frees its place. Sampled writes report
/// their latency to an adapting limit when dropped.
pub struct WritePermit {
    inner: Arc<Inner>,
    /// When it was admitted, if its latency is sampled (never with a fixed
    /// limit: the clock is not read for nothing on every write).
    admitted: Option<Instant>,
}

impl WriteLimit {
    /// A limit of at most `ceiling` writes in flight, adapting to keep the
    /// 90th percentile of write latency under `target` (`None`: fixed).
    pub fn new(ceiling: usize, target: Option<Duration>) -> Self {
        let ceiling = ceiling.max(1);
        metrics::gauge!("surge_http_write_limit").set(ceiling as f64);
        Self {
            inner: Arc::new(Inner {
                ceiling,
                floor: FLOOR.min(ceiling),
                target,
                limit: AtomicUsize::new(ceiling),
                in_flight: AtomicUsize::new(0),
                refused: AtomicU32::new(0),
                window: Mutex::new(Window::default()),
            }),
        }
    }

    /// The current limit.
    #[cfg(test)]
    fn limit(&self) -> usize {
        self.inner.limit.load(Ordering::Relaxed)
    }

    /// Admits one write if fewer than the limit are in flight. `sampled`
    /// says whether its latency reflects the write path's queue (a
    /// one-step write) and so may steer the limit.
    pub fn try_admit(&self, sampled: bool) -> Option<WritePermit> {
        let inner = &self.inner;
        let limit = inner.limit.load(Ordering::Relaxed);
        let admitted = inner
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .is_ok();
        if !admitted {
            inner.refused.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let adapting = inner.target.is_some();
        Some(WritePermit {
            inner: inner.clone(),
            admitted: (sampled && adapting).then(Instant::now),
        })
    }
}

impl Drop for WritePermit {
    fn drop(&mut self) {
        self.inner.in_flight.fetch_sub(1, Ordering::AcqRel);
        if self.inner.target.is_none() {
            return;
        }
        let now = Instant::now();
        let latency = self.admitted.map(|at| now.duration_since(at));
        self.inner.record(latency, now);
    }
}

impl Inner {
    /// Counts one completed write (with its latency if sampled); at the end
    /// of a window, moves the limit.
    fn record(&self, latency: Option<Duration>, now: Instant) {
        let Some(target) = self.target else { return };
        let mut window = self.window.lock();
        let started = *window.started.get_or_insert(now);
        window.completed += 1;
        if let Some(latency) = latency {
            window.samples += 1;
            window.slow += u32::from(latency > target);
        }
        if now.duration_since(started) < WINDOW || window.samples < WINDOW_SAMPLES_MIN {
            return;
        }
        let limit = self.limit.load(Ordering::Relaxed);
        let refused = self.refused.swap(0, Ordering::Relaxed);
        let grown = (limit + (limit / 10).max(1)).min(self.ceiling);
        let next = if refused > window.completed.saturating_mul(RETRY_STORM) {
            grown
        } else if window.slow * 10 > window.samples {
            (limit - limit / 4).max(self.floor)
        } else if refused > 0 {
            grown
        } else {
            limit
        };
        if next != limit {
            self.limit.store(next, Ordering::Relaxed);
            metrics::gauge!("surge_http_write_limit").set(next as f64);
        }
        *window = Window {
            started: Some(now),
            ..Window::default()
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TARGET: Duration = Duration::from_millis(20);

    /// Feeds one window of `n` samples, `slow` of them over the target; the
    /// last one closes the window.
    fn window(limit: &WriteLimit, start: Instant, n: u32, slow: u32) -> Instant {
        let end = start + WINDOW;
        for i in 0..n {
            let latency = if i < slow { TARGET * 2 } else { TARGET / 4 };
            let at = if i + 1 == n { end } else { start + WINDOW / 2 };
            limit.inner.record(Some(latency), at);
        }
        end
    }

    /// Opens the first window now.
    fn begin(limit: &WriteLimit) -> Instant {
        let now = Instant::now();
        limit.inner.window.lock().started = Some(now);
        now
    }

    fn refuse_one(limit: &WriteLimit) {
        let held: Vec<_> = std::iter::from_fn(|| limit.try_admit(false)).collect();
        assert_eq!(held.len(), limit.limit(), "admits exactly up to the limit");
        assert!(limit.try_admit(false).is_none());
    }

    #[test]
    fn slow_windows_shrink_the_limit_down_to_the_floor() {
        let limit = WriteLimit::new(512, Some(TARGET));
        let mut t = begin(&limit);
        t = window(&limit, t, 100, 20);
        assert_eq!(limit.limit(), 384, "a quarter off after one slow window");
        for _ in 0..40 {
            t = window(&limit, t, 100, 50);
        }
        assert_eq!(limit.limit(), FLOOR);
    }

    #[test]
    fn a_tenth_slow_is_tolerated_and_fast_windows_grow_only_when_someone_was_refused() {
        let limit = WriteLimit::new(512, Some(TARGET));
        let mut t = begin(&limit);
        t = window(&limit, t, 100, 60);
        assert_eq!(limit.limit(), 384);
        t = window(&limit, t, 100, 10);
        assert_eq!(limit.limit(), 384, "10 % slow is within the target");
        t = window(&limit, t, 100, 0);
        assert_eq!(limit.limit(), 384, "nobody refused: no reason to widen");
        refuse_one(&limit);
        window(&limit, t, 100, 0);
        assert_eq!(limit.limit(), 384 + 38);
    }

    #[test]
    fn growth_stops_at_the_ceiling_and_sparse_windows_change_nothing() {
        let limit = WriteLimit::new(100, Some(TARGET));
        let mut t = begin(&limit);
        t = window(&limit, t, WINDOW_SAMPLES_MIN - 1, WINDOW_SAMPLES_MIN - 1);
        assert_eq!(limit.limit(), 100, "too few samples to judge");
        t = window(&limit, t + WINDOW, 100, 100);
        assert_eq!(limit.limit(), 75);
        for _ in 0..10 {
            refuse_one(&limit);
            t = window(&limit, t, 100, 0);
        }
        assert_eq!(limit.limit(), 100);
    }

    #[test]
    fn a_retry_storm_widens_the_limit_even_when_writes_are_slow() {
        let limit = WriteLimit::new(512, Some(TARGET));
        let mut t = begin(&limit);
        t = window(&limit, t, 100, 100);
        assert_eq!(limit.limit(), 384);
        // 100 writes completed and 401 refused: the refusals are the load.
        limit.inner.refused.store(401, Ordering::Relaxed);
        t = window(&limit, t, 100, 100);
        assert_eq!(limit.limit(), 384 + 38);
        // 400 refused is not yet a storm: slow writes shrink it again.
        limit.inner.refused.store(400, Ordering::Relaxed);
        window(&limit, t, 100, 100);
        assert_eq!(limit.limit(), 422 - 105);
    }

    #[test]
    fn without_a_target_the_limit_stays_at_the_ceiling() {
        let limit = WriteLimit::new(8, None);
        let t = begin(&limit);
        window(&limit, t, 100, 100);
        assert_eq!(limit.limit(), 8);
        refuse_one(&limit);
    }

    #[test]
    fn a_dropped_permit_frees_its_place() {
        let limit = WriteLimit::new(1, Some(TARGET));
        let permit = limit.try_admit(true);
        assert!(permit.is_some());
        assert!(limit.try_admit(true).is_none());
        drop(permit);
        assert!(limit.try_admit(true).is_some());
    }
}
