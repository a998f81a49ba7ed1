//! The `[payment]` config section: how patient surge is with the payment
//! gateway, and how the simulated gateway behaves. Kept flat (not a nested
//! resilience table) so the config file reads `payment.timeout_ms`.

use super::{ResilienceSettings, SimulatedSettings};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaymentSettings {
    /// Longest wait for one gateway call before it counts as a timeout, in
    /// milliseconds.
    pub timeout_ms: u64,
    /// Extra attempts after a timeout or gateway error; declines are never
    /// retried.
    pub retries: u32,
    /// Backoff before the first retry is random between 0 and this, in
    /// milliseconds; the bound doubles with each retry.
    pub backoff_base_ms: u64,
    /// Longest backoff before a retry, in milliseconds.
    pub backoff_max_ms: u64,
    /// Consecutive timeouts or errors after which a gateway's circuit opens
    /// and calls fail at once.
    pub breaker_failures: u32,
    /// How long an open circuit refuses calls before letting one probe
    /// through, in seconds.
    pub breaker_open_secs: u64,
    /// Authorize at a second simulated gateway ("simulated-fallback") when
    /// the first one times out, fails or is unavailable.
    pub fallback: bool,
    /// The simulated gateway's latency and failure rate.
    pub simulated: SimulatedSettings,
}

impl Default for PaymentSettings {
    fn default() -> Self {
        let r = ResilienceSettings::default();
        Self {
            timeout_ms: r.timeout_ms,
            retries: r.retries,
            backoff_base_ms: r.backoff_base_ms,
            backoff_max_ms: r.backoff_max_ms,
            breaker_failures: r.breaker_failures,
            breaker_open_secs: r.breaker_open_secs,
            fallback: false,
            simulated: SimulatedSettings::default(),
        }
    }
}

impl PaymentSettings {
    pub fn resilience(&self) -> ResilienceSettings {
        ResilienceSettings {
            timeout_ms: self.timeout_ms,
            retries: self.retries,
            backoff_base_ms: self.backoff_base_ms,
            backoff_max_ms: self.backoff_max_ms,
            breaker_failures: self.breaker_failures,
            breaker_open_secs: self.breaker_open_secs,
        }
    }

    /// Refuses values that would make payments misbehave rather than fail
    /// clearly.
    pub fn validate(&self) -> Result<(), String> {
        let sim = &self.simulated;
        let checks: [(&str, bool); 4] = [
            (
                "payment.timeout_ms must be at least 1",
                self.timeout_ms >= 1,
            ),
            (
                "payment.breaker_failures must be at least 1",
                self.breaker_failures >= 1,
            ),
            (
                "payment.simulated.failure_rate must be between 0 and 1",
                (0.0..=1.0).contains(&sim.failure_rate),
            ),
            (
                "payment.simulated.latency_ms_min must be at most payment.simulated.latency_ms_max",
                sim.latency_ms_min <= sim.latency_ms_max,
            ),
        ];
        match checks.iter().find(|(_, ok)| !ok) {
            Some((message, _)) => Err((*message).to_owned()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_match_the_resilience_defaults() {
        let settings = PaymentSettings::default();
        assert_eq!(settings.validate(), Ok(()));
        assert_eq!(settings.resilience(), ResilienceSettings::default());
        assert!(!settings.fallback);
    }

    #[test]
    fn validate_names_the_bad_field() {
        let bad = |edit: fn(&mut PaymentSettings)| {
            let mut s = PaymentSettings::default();
            edit(&mut s);
            s.validate().unwrap_err()
        };
        assert!(bad(|s| s.timeout_ms = 0).contains("timeout_ms"));
        assert!(bad(|s| s.breaker_failures = 0).contains("breaker_failures"));
        assert!(bad(|s| s.simulated.failure_rate = 1.5).contains("failure_rate"));
        assert!(bad(|s| s.simulated.failure_rate = f64::NAN).contains("failure_rate"));
        assert!(bad(|s| s.simulated.latency_ms_min = 10).contains("latency_ms_min"));
    }

    #[test]
    fn unknown_keys_are_refused() {
        let parsed: PaymentSettings =
            serde_json::from_str(r#"{"retries":0,"simulated":{"failure_rate":0.25}}"#).unwrap();
        assert_eq!(parsed.retries, 0);
        assert_eq!(parsed.simulated.failure_rate, 0.25);
        assert_eq!(parsed.timeout_ms, 2000);
        assert!(serde_json::from_str::<PaymentSettings>(r#"{"retry":1}"#).is_err());
        assert!(serde_json::from_str::<PaymentSettings>(r#"{"simulated":{"rate":1}}"#).is_err());
    }
}
