//! A circuit breaker for one gateway. A gateway that keeps timing out would
//! otherwise hold every checkout for `timeout × attempts`; after
//! `failures_max` consecutive failures the circuit opens and calls fail at
//! once, for `open_for`. Then a single probe call is let through: if it
//! succeeds the circuit closes, if it fails it opens again. Only the
//! gateway's own trouble (timeouts, errors) counts as failure; a declined
//! card is a perfectly healthy answer.
//!
//! Time is tokio's, so tests drive it with a paused clock.

use parking_lot::Mutex;
use std::time::Duration;
use tokio::time::Instant;

pub(super) struct CircuitBreaker {
    failures_max: u32,
    open_for: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// The probe is in flight; everyone else waits for its verdict.
    HalfOpen,
}

/// Leave to make one call. Report how it went with [`Permit::record`]; a
/// probe dropped unreported (its caller gave up) lets the next call probe.
pub(super) struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    probe: bool,
    recorded: bool,
}

impl CircuitBreaker {
    pub fn new(failures_max: u32, open_for: Duration) -> Self {
        Self {
            failures_max: failures_max.max(1),
            open_for,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    /// A permit, or the whole seconds (at least 1) until one may be had.
    pub fn admit(&self) -> Result<Permit<'_>, u64> {
        let mut state = self.state.lock();
        let probe = match *state {
            State::Closed { .. } => false,
            State::Open { until } => {
                let now = Instant::now();
                if now < until {
                    return Err(whole_secs(until - now).max(1));
                }
                *state = State::HalfOpen;
                true
            }
            State::HalfOpen => return Err(1),
        };
        Ok(Permit {
            breaker: self,
            probe,
            recorded: false,
        })
    }

    pub fn is_open(&self) -> bool {
        !matches!(*self.state.lock(), State::Closed { .. })
    }

    /// Returns true when this failure opened the circuit.
    fn record(&self, probe: bool, healthy: bool) -> bool {
        let mut state = self.state.lock();
        let next = match (*state, healthy) {
            (State::Closed { .. }, true) => State::Closed { failures: 0 },
            (State::HalfOpen, true) if probe => State::Closed { failures: 0 },
            (State::Closed { failures }, false) if failures + 1 < self.failures_max => {
                State::Closed {
                    failures: failures + 1,
                }
            }
            (State::Closed { .. }, false) => self.opened(),
            (State::HalfOpen, false) if probe => self.opened(),
            // A call admitted before the circuit opened, answering late,
            // does not overrule the probe.
            (other, _) => other,
        };
        let opened = matches!(next, State::Open { .. }) && !matches!(*state, State::Open { .. });
        *state = next;
        opened
    }

    fn opened(&self) -> State {
        State::Open {
            until: Instant::now() + self.open_for,
        }
    }
}

impl Permit<'_> {
    /// Reports the call's outcome; returns true when it opened the circuit.
    pub fn record(mut self, healthy: bool) -> bool {
        self.recorded = true;
        self.breaker.record(self.probe, healthy)
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if self.probe && !self.recorded {
            let mut state = self.breaker.state.lock();
            if *state == State::HalfOpen {
                *state = State::Open {
                    until: Instant::now(),
                };
            }
        }
    }
}

fn whole_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn opens_after_consecutive_failures_and_probes_once() {
        let b = CircuitBreaker::new(3, Duration::from_secs(10));
        for _ in 0..2 {
            assert!(!b.admit().unwrap().record(false));
        }
        assert!(
            !b.admit().unwrap().record(true),
            "a success resets the count"
        );
        for _ in 0..2 {
            assert!(!b.admit().unwrap().record(false));
        }
        assert!(
            b.admit().unwrap().record(false),
            "third failure in a row opens"
        );
        assert_eq!(b.admit().err(), Some(10));
        tokio::time::advance(Duration::from_millis(8500)).await;
        assert_eq!(b.admit().err(), Some(2));
        tokio::time::advance(Duration::from_millis(1500)).await;

        let probe = b.admit().unwrap();
        assert_eq!(b.admit().err(), Some(1), "one probe at a time");
        assert!(probe.record(false), "a failed probe reopens");
        assert_eq!(b.admit().err(), Some(10));

        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(!b.admit().unwrap().record(true));
        assert!(!b.is_open());
        assert!(
            !b.admit().unwrap().record(false),
            "closed again, count from zero"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_abandoned_probe_lets_the_next_call_probe() {
        let b = CircuitBreaker::new(1, Duration::from_secs(5));
        assert!(b.admit().unwrap().record(false));
        tokio::time::advance(Duration::from_secs(5)).await;
        drop(b.admit().unwrap());
        let probe = b.admit().unwrap();
        assert!(!probe.record(true));
        assert!(!b.is_open());
    }
}
