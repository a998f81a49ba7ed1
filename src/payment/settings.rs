//! The `[payment]` config section: which gateway takes payments, how
//! patient surge is with it, how the simulated gateway behaves, and how
//! Stripe is reached. Kept flat (not a nested resilience table) so the
//! config file reads `payment.timeout_ms`.

use super::{ResilienceSettings, SimulatedSettings};
use crate::config::Secret;
use serde::{Deserialize, Serialize};

/// Stripe's API, the default `stripe_api_base`.
pub const STRIPE_API_BASE: &str = "https://api.stripe.com";

/// Which gateway takes payments.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaymentProvider {
    /// The built-in simulated gateway: the demo needs no account.
    #[default]
    Simulated,
    /// Stripe: PaymentIntents, confirmed server-side, captured after the
    /// stock is committed.
    Stripe,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaymentSettings {
    /// Which gateway takes payments: `simulated` or `stripe`.
    pub provider: PaymentProvider,
    /// Stripe's secret API key (`sk_live_…`, `sk_test_…` or a restricted
    /// `rk_…`). From the environment only
    /// (`SURGE_PAYMENT__STRIPE_SECRET_KEY`): a config file holding it is
    /// refused at start.
    pub stripe_secret_key: Secret,
    /// Where Stripe's API is; tests point it at a local fake. `http://` is
    /// accepted for a loopback host only, so the key never crosses a
    /// network in clear.
    pub stripe_api_base: String,
    /// The signing secret of the Stripe webhook endpoint (`whsec_…`), which
    /// verifies `Stripe-Signature` on `POST /v1/webhooks/stripe`.
    pub stripe_webhook_secret: Secret,
    /// Oldest `Stripe-Signature` timestamp accepted, in seconds before (or
    /// after) now: a replayed old event is refused.
    pub stripe_webhook_tolerance_secs: u64,
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
            provider: PaymentProvider::Simulated,
            stripe_secret_key: Secret::default(),
            stripe_api_base: STRIPE_API_BASE.to_owned(),
            stripe_webhook_secret: Secret::default(),
            stripe_webhook_tolerance_secs: 300,
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
            None => self.validate_stripe(),
        }
    }

    /// With Stripe on: a key, a webhook secret, a base that keeps the key
    /// off the network in clear.
    fn validate_stripe(&self) -> Result<(), String> {
        if self.provider != PaymentProvider::Stripe {
            return Ok(());
        }
        let key = self.stripe_secret_key.expose();
        if !["sk_", "rk_"].iter().any(|p| key.starts_with(p)) {
            return Err("payment.provider = \"stripe\" needs payment.stripe_secret_key (sk_… or rk_…) from the environment: SURGE_PAYMENT__STRIPE_SECRET_KEY".into());
        }
        if self.stripe_webhook_secret.is_empty() {
            return Err("payment.provider = \"stripe\" needs payment.stripe_webhook_secret (whsec_… from the webhook endpoint in Stripe's dashboard; better from the environment: SURGE_PAYMENT__STRIPE_WEBHOOK_SECRET)".into());
        }
        if self.fallback {
            return Err("payment.fallback (a second simulated gateway) cannot be used with provider = \"stripe\"".into());
        }
        if self.stripe_webhook_tolerance_secs == 0 {
            return Err("payment.stripe_webhook_tolerance_secs must be at least 1".into());
        }
        check_api_base(&self.stripe_api_base)
    }
}

/// `https://host[:port]`, or `http://` to a loopback host (a local fake).
fn check_api_base(base: &str) -> Result<(), String> {
    let bad = || {
        Err(format!(
            "payment.stripe_api_base '{base}' must be https://host[:port] (http:// only for 127.0.0.1, localhost or [::1])"
        ))
    };
    let Ok(uri) = base.parse::<hyper::Uri>() else {
        return bad();
    };
    let host = uri.host().unwrap_or("");
    let loopback = matches!(host, "127.0.0.1" | "localhost" | "[::1]" | "::1");
    let scheme_ok = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => loopback,
        _ => false,
    };
    let bare = uri.path_and_query().is_none_or(|p| p.as_str() == "/");
    if !scheme_ok || host.is_empty() || !bare {
        return bad();
    }
    Ok(())
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
    fn stripe_needs_its_key_its_webhook_secret_and_a_safe_base() {
        let stripe = |edit: fn(&mut PaymentSettings)| {
            let mut s = PaymentSettings {
                provider: PaymentProvider::Stripe,
                stripe_secret_key: Secret::new("sk_test_123"),
                stripe_webhook_secret: Secret::new("whsec_abc"),
                ..PaymentSettings::default()
            };
            edit(&mut s);
            s.validate()
        };
        assert_eq!(stripe(|_| {}), Ok(()));
        assert!(stripe(|s| s.stripe_secret_key = Secret::default())
            .unwrap_err()
            .contains("SURGE_PAYMENT__STRIPE_SECRET_KEY"));
        assert!(stripe(|s| s.stripe_webhook_secret = Secret::default())
            .unwrap_err()
            .contains("stripe_webhook_secret"));
        assert_eq!(
            stripe(|s| s.stripe_api_base = "http://127.0.0.1:9000".into()),
            Ok(())
        );
        assert!(stripe(|s| s.fallback = true)
            .unwrap_err()
            .contains("fallback"));
        for bad in [
            "http://api.stripe.com",
            "ftp://127.0.0.1",
            "https://api.stripe.com/v1",
            "nonsense",
        ] {
            let mut s = PaymentSettings {
                provider: PaymentProvider::Stripe,
                stripe_secret_key: Secret::new("sk_test_123"),
                stripe_webhook_secret: Secret::new("whsec_abc"),
                ..PaymentSettings::default()
            };
            s.stripe_api_base = bad.into();
            assert!(
                s.validate().unwrap_err().contains("stripe_api_base"),
                "{bad}"
            );
        }
        // The simulated gateway needs none of it.
        assert_eq!(PaymentSettings::default().validate(), Ok(()));
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
