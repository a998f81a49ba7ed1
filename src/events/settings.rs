//! The `[events]` config section: webhook delivery (patience, retries,
//! limits) and the live event stream's limits.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventSettings {
    /// Most webhook endpoints an admin may register.
    pub webhooks_max: usize,
    /// Longest wait for one webhook delivery (connect, send, answer), in ms.
    pub webhook_timeout_ms: u64,
    /// Tries of one delivery before it becomes a dead letter.
    pub webhook_attempts_max: u32,
    /// Backoff after the first failed try, in ms; it doubles with each try
    /// (with jitter) up to `webhook_backoff_max_ms`.
    pub webhook_backoff_base_ms: u64,
    /// Longest backoff between two tries of one delivery, in ms.
    pub webhook_backoff_max_ms: u64,
    /// Most deliveries sent at once.
    pub webhook_in_flight_max: usize,
    /// Most deliveries waiting for one webhook; beyond it new events go
    /// straight to its dead letters (kept, replayable) instead of growing
    /// the backlog of an endpoint that is down.
    pub webhook_pending_max: usize,
    /// Most events taken from the outbox in one delivery round (first tries
    /// are further bounded by `webhook_in_flight_max`).
    pub outbox_batch_max: usize,
    /// Most clients of the live event stream at once; beyond it, 503.
    pub stream_clients_max: usize,
    /// A comment line is sent this often so idle streams stay open through
    /// proxies, in seconds.
    pub stream_keepalive_secs: u64,
}

impl Default for EventSettings {
    fn default() -> Self {
        Self {
            webhooks_max: 32,
            webhook_timeout_ms: 5_000,
            webhook_attempts_max: 8,
            webhook_backoff_base_ms: 1_000,
            webhook_backoff_max_ms: 600_000,
            webhook_in_flight_max: 64,
            webhook_pending_max: 100_000,
            outbox_batch_max: 512,
            stream_clients_max: 1_000,
            stream_keepalive_secs: 15,
        }
    }
}

impl EventSettings {
    pub fn validate(&self) -> Result<(), String> {
        let checks = [
            ("events.webhooks_max must be at least 1", self.webhooks_max >= 1),
            (
                "events.webhook_timeout_ms must be at least 1",
                self.webhook_timeout_ms >= 1,
            ),
            (
                "events.webhook_attempts_max must be between 1 and 100",
                (1..=100).contains(&self.webhook_attempts_max),
            ),
            (
                "events.webhook_backoff_base_ms must be at least 1 and at most webhook_backoff_max_ms",
                self.webhook_backoff_base_ms >= 1
                    && self.webhook_backoff_base_ms <= self.webhook_backoff_max_ms,
            ),
            (
                "events.webhook_in_flight_max must be at least 1",
                self.webhook_in_flight_max >= 1,
            ),
            (
                "events.webhook_pending_max must be at least 1",
                self.webhook_pending_max >= 1,
            ),
            (
                "events.outbox_batch_max must be at least 1",
                self.outbox_batch_max >= 1,
            ),
            (
                "events.stream_clients_max must be at most 1000000",
                self.stream_clients_max <= 1_000_000,
            ),
            (
                "events.stream_keepalive_secs must be at least 1",
                self.stream_keepalive_secs >= 1,
            ),
        ];
        match checks.iter().find(|(_, ok)| !ok) {
            Some((message, _)) => Err((*message).to_owned()),
            None => Ok(()),
        }
    }

    /// The wait before try `attempt + 1` after `attempt` failed tries:
    /// exponential, capped, with jitter over its upper half so that many
    /// deliveries failing together do not retry together.
    pub fn backoff_ms(&self, attempts: u32) -> u64 {
        let doublings = attempts.saturating_sub(1).min(32);
        let bound = self
            .webhook_backoff_base_ms
            .saturating_mul(1u64 << doublings)
            .min(self.webhook_backoff_max_ms);
        bound / 2 + fastrand::u64(0..=bound - bound / 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_stays_under_the_cap() {
        let s = EventSettings {
            webhook_backoff_base_ms: 100,
            webhook_backoff_max_ms: 1_000,
            ..EventSettings::default()
        };
        for _ in 0..200 {
            assert!((50..=100).contains(&s.backoff_ms(1)));
            assert!((100..=200).contains(&s.backoff_ms(2)));
            assert!((200..=400).contains(&s.backoff_ms(3)));
            assert!((500..=1_000).contains(&s.backoff_ms(9)));
            assert!((500..=1_000).contains(&s.backoff_ms(u32::MAX)));
        }
    }
}
