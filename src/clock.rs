//! Time, injected. Everything that expires asks a [`Clock`] rather than the
//! system, and waits for a moment with [`Clock::sleep_until`], so tests and
//! simulations can move time instead of waiting for it.
//!
//! Three clocks:
//! - [`SystemClock`], the wall clock, in production and benches;
//! - [`ManualClock`], frozen until told to move: for tests of code that only
//!   reads time (state machines, one timer), where nothing else should move;
//! - [`ShiftedClock`], the wall clock plus an offset a test moves forward:
//!   for a whole running server. Its time keeps flowing, so what is meant to
//!   run on real time still does (webhook back-off, passivation, HTTP and
//!   gateway timeouts, event timestamps that must differ), while a test jumps
//!   over a reservation TTL or a payment window in one step instead of
//!   sleeping through it. A frozen clock there would stall anything that
//!   waits a clock-time delay for the server's own progress.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Milliseconds since the Unix epoch.
pub type Millis = u64;

/// A wait for a moment on some clock (see [`Clock::sleep_until`]).
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> Millis;

    /// Resolves once this clock reads `at` or later (at once if it already
    /// does). Timers that business time drives wait with this, so they fire
    /// when a test moves the clock.
    fn sleep_until(&self, at: Millis) -> Sleep;
}

/// The wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> Millis {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        now.map_or(0, |d| d.as_millis() as Millis)
    }

    fn sleep_until(&self, at: Millis) -> Sleep {
        let wait = Duration::from_millis(at.saturating_sub(self.now_ms()));
        Box::pin(tokio::time::sleep(wait))
    }
}

/// A clock that moves only when told to (unit tests, simulations).
#[derive(Clone, Default)]
pub struct ManualClock(Arc<Manual>);

/// A manual clock's time, and the sleepers to wake when it moves.
#[derive(Default)]
struct Manual {
    now: AtomicU64,
    moved: Notify,
}

impl ManualClock {
    pub fn new(start: Millis) -> Self {
        Self(Arc::new(Manual {
            now: AtomicU64::new(start),
            moved: Notify::new(),
        }))
    }

    /// Moves the clock forward by `by`, waking the sleepers it reaches.
    pub fn advance(&self, by: Duration) {
        let ms = Millis::try_from(by.as_millis()).unwrap_or(Millis::MAX);
        let moved = |now: Millis| Some(now.saturating_add(ms));
        let _ = self
            .0
            .now
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, moved);
        self.0.moved.notify_waiters();
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> Millis {
        self.0.now.load(Ordering::Acquire)
    }

    fn sleep_until(&self, at: Millis) -> Sleep {
        let manual = self.0.clone();
        Box::pin(async move {
            loop {
                // Listen before reading, so a move in between is not missed.
                let moved = manual.moved.notified();
                if manual.now.load(Ordering::Acquire) >= at {
                    return;
                }
                moved.await;
            }
        })
    }
}

/// The wall clock shifted forward by a [`ManualClock`] offset that tests
/// advance (see the module notes for why a running server gets this one).
#[derive(Clone, Default)]
pub struct ShiftedClock {
    shift: ManualClock,
}

impl ShiftedClock {
    /// Moves the clock forward by `by` (on top of the wall clock's own
    /// progress), waking the sleepers it reaches.
    pub fn advance(&self, by: Duration) {
        self.shift.advance(by);
    }
}

impl Clock for ShiftedClock {
    fn now_ms(&self) -> Millis {
        SystemClock.now_ms().saturating_add(self.shift.now_ms())
    }

    fn sleep_until(&self, at: Millis) -> Sleep {
        let clock = self.clone();
        Box::pin(async move {
            loop {
                let moved = clock.shift.0.moved.notified();
                let now = clock.now_ms();
                if now >= at {
                    return;
                }
                tokio::select! {
                    () = moved => {}
                    () = tokio::time::sleep(Duration::from_millis(at - now)) => {}
                }
            }
        })
    }
}

/// RFC 3339 text of a timestamp, e.g. `2026-11-22T06:37:05.123Z`.
pub fn rfc3339(ms: Millis) -> String {
    let dt = chrono::DateTime::from_timestamp_millis(ms as i64).unwrap_or_default();
    dt.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Parses RFC 3339 text into a timestamp; `None` if it is not valid. A
/// time before 1970 is the clock's first instant.
pub fn parse_rfc3339(text: &str) -> Option<Millis> {
    let dt = chrono::DateTime::parse_from_rfc3339(text).ok()?;
    // A time before 1970 is a valid RFC 3339 time that has long passed:
    // it reads as the earliest instant the clock has.
    Millis::try_from(dt.timestamp_millis().max(0)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    /// Whether `sleep` is over, polling it once.
    fn over(sleep: &mut Sleep) -> bool {
        sleep.as_mut().now_or_never().is_some()
    }

    #[tokio::test]
    async fn a_manual_sleep_resolves_when_advanced_to_its_time_and_not_before() {
        let clock = ManualClock::new(1_000);
        let mut sleep = clock.sleep_until(1_500);
        assert!(!over(&mut sleep));
        clock.advance(Duration::from_millis(499));
        assert!(!over(&mut sleep), "woke 1 ms early");
        // A sleeper parked on another task is woken by the move itself.
        let parked = tokio::spawn(sleep);
        tokio::task::yield_now().await;
        clock.advance(Duration::from_millis(1));
        let woke = tokio::time::timeout(Duration::from_secs(5), parked).await;
        assert!(woke.is_ok_and(|joined| joined.is_ok()), "never woke");
        assert!(
            over(&mut clock.sleep_until(1_500)),
            "a time already reached still waits"
        );
    }

    #[tokio::test]
    async fn a_manual_clock_does_not_move_by_itself() {
        let clock = ManualClock::new(7);
        let sleep = clock.sleep_until(8);
        let waited = tokio::time::timeout(Duration::from_millis(50), sleep).await;
        assert!(waited.is_err());
        assert_eq!(clock.now_ms(), 7);
    }

    #[tokio::test]
    async fn a_shifted_sleep_resolves_on_advance_long_before_the_wall_clock_gets_there() {
        let clock = ShiftedClock::default();
        let start = clock.now_ms();
        assert!(start >= SystemClock.now_ms().saturating_sub(1_000));
        let hour = Duration::from_secs(3_600);
        let mut sleep = clock.sleep_until(start + 3_600_000);
        assert!(!over(&mut sleep));
        clock.advance(hour);
        let woke = tokio::time::timeout(Duration::from_secs(5), sleep).await;
        assert!(woke.is_ok(), "never woke");
        assert!(clock.now_ms() >= start + 3_600_000);
    }

    #[test]
    fn rfc3339_round_trips() {
        let ms = 1_795_000_000_123;
        assert_eq!(parse_rfc3339(&rfc3339(ms)), Some(ms));
        assert_eq!(
            parse_rfc3339("2026-11-22T10:00:00+01:00"),
            Some(1_795_338_000_000)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
        // Valid, and long past: the clock's first instant.
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), Some(0));
    }
}
