//! `Payments`: the gateway as the rest of surge sees it. It wraps each
//! gateway call in a timeout, retries the gateway's own trouble (timeouts and
//! errors) with exponential backoff and full jitter, keeps a circuit breaker
//! per gateway, and authorizes at a fallback gateway when the primary cannot
//! answer.
//!
//! Retrying is safe because every gateway operation is idempotent by its op
//! key: a call that timed out may have happened, and the retry, carrying the
//! same key, then returns that result instead of charging twice. Declines
//! and invalid requests are answers, not trouble, and are never retried.
//!
//! One thing retries cannot undo: an authorization whose answer was lost to
//! a timeout at the primary, followed by a successful one at the fallback,
//! leaves an authorization at the primary nobody captures. It lapses at the
//! gateway (authorizations expire), which is how real providers handle it too.

use super::breaker::CircuitBreaker;
use super::simulated::SimulatedGateway;
use super::stripe::StripeGateway;
use super::{
    Authorization, BoxFuture, PaymentError, PaymentGateway, PaymentSettings, PaymentToken,
};
use crate::domain::Money;
use crate::tls::Tls;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// Timeouts, retries and circuit breaking (from `[payment]` in the config).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResilienceSettings {
    /// Longest wait for one gateway call, in milliseconds.
    pub timeout_ms: u64,
    /// Extra attempts after a timeout or gateway error.
    pub retries: u32,
    /// Backoff before the first retry is random in `[0, base]`; it doubles
    /// with each retry.
    pub backoff_base_ms: u64,
    /// Longest backoff before a retry.
    pub backoff_max_ms: u64,
    /// Consecutive failures that open a gateway's circuit.
    pub breaker_failures: u32,
    /// How long an open circuit refuses calls before one probe goes through.
    pub breaker_open_secs: u64,
}

impl Default for ResilienceSettings {
    fn default() -> Self {
        Self {
            timeout_ms: 2000,
            retries: 2,
            backoff_base_ms: 50,
            backoff_max_ms: 1000,
            breaker_failures: 5,
            breaker_open_secs: 10,
        }
    }
}

/// A gateway with its circuit breaker.
struct Guarded {
    gateway: Arc<dyn PaymentGateway>,
    breaker: CircuitBreaker,
}

pub struct Payments {
    primary: Guarded,
    fallback: Option<Guarded>,
    settings: ResilienceSettings,
}

impl Payments {
    /// Capture, void and refund find an authorization's gateway by name, so
    /// the two gateways should have different names.
    pub fn new(
        primary: Arc<dyn PaymentGateway>,
        fallback: Option<Arc<dyn PaymentGateway>>,
        settings: ResilienceSettings,
    ) -> Self {
        let guard = |gateway: Arc<dyn PaymentGateway>| Guarded {
            gateway,
            breaker: CircuitBreaker::new(
                settings.breaker_failures,
                Duration::from_secs(settings.breaker_open_secs),
            ),
        };
        Self {
            primary: guard(primary),
            fallback: fallback.map(guard),
            settings,
        }
    }

    /// The simulated gateway named "simulated", and "simulated-fallback" as
    /// the fallback when `settings.fallback` is set.
    pub fn simulated(settings: &PaymentSettings) -> Self {
        let gateway = |name: &str| -> Arc<dyn PaymentGateway> {
            Arc::new(SimulatedGateway::new(name, settings.simulated.clone()))
        };
        let fallback = settings.fallback.then(|| gateway("simulated-fallback"));
        Self::new(gateway("simulated"), fallback, settings.resilience())
    }

    /// Stripe, with no fallback (an authorization elsewhere would be money
    /// the merchant's Stripe account never sees); the gateway is returned
    /// too, for the webhook's look-ups.
    pub fn stripe(settings: &PaymentSettings, tls: Tls) -> (Self, Arc<StripeGateway>) {
        let gateway = Arc::new(StripeGateway::new(
            &settings.stripe_api_base,
            settings.stripe_secret_key.clone(),
            tls,
        ));
        let payments = Self::new(gateway.clone(), None, settings.resilience());
        (payments, gateway)
    }

    /// Authorizes at the primary gateway, or at the fallback when the
    /// primary times out, fails or is unavailable (a decline is final).
    pub async fn authorize(
        &self,
        op_key: &str,
        token: &PaymentToken,
        amount: Money,
    ) -> Result<Authorization, PaymentError> {
        let at = |guarded| {
            self.call(guarded, "authorize", move |g| {
                g.authorize(op_key, token, amount)
            })
        };
        let mut result = at(&self.primary).await;
        if let (Err(first), Some(fallback)) = (&result, &self.fallback) {
            if first.is_transient() || matches!(first, PaymentError::Unavailable { .. }) {
                tracing::warn!(
                    primary = self.primary.gateway.name(),
                    fallback = fallback.gateway.name(),
                    error = first.code(),
                    "authorizing at the fallback gateway"
                );
                let second = at(fallback).await;
                result = match (first, second) {
                    (
                        PaymentError::Unavailable {
                            retry_after_secs: a,
                        },
                        Err(PaymentError::Unavailable {
                            retry_after_secs: b,
                        }),
                    ) => Err(PaymentError::Unavailable {
                        retry_after_secs: (*a).min(b),
                    }),
                    (_, second) => second,
                };
            }
        }
        counted("authorize", result)
    }

    /// Captures at the gateway that granted `auth`.
    pub async fn capture(
        &self,
        op_key: &str,
        auth: &Authorization,
        amount: Money,
    ) -> Result<(), PaymentError> {
        let result = match self.owner(auth) {
            Ok(guarded) => {
                self.call(guarded, "capture", |g| g.capture(op_key, auth, amount))
                    .await
            }
            Err(e) => Err(e),
        };
        counted("capture", result)
    }

    /// Voids `auth` at the gateway that granted it.
    pub async fn void(&self, op_key: &str, auth: &Authorization) -> Result<(), PaymentError> {
        let result = match self.owner(auth) {
            Ok(guarded) => self.call(guarded, "void", |g| g.void(op_key, auth)).await,
            Err(e) => Err(e),
        };
        counted("void", result)
    }

    /// Refunds at the gateway that granted `auth`.
    pub async fn refund(
        &self,
        op_key: &str,
        auth: &Authorization,
        amount: Money,
    ) -> Result<(), PaymentError> {
        let result = match self.owner(auth) {
            Ok(guarded) => {
                self.call(guarded, "refund", |g| g.refund(op_key, auth, amount))
                    .await
            }
            Err(e) => Err(e),
        };
        counted("refund", result)
    }

    /// Where a payment that needed the customer's action stands now, at the
    /// gateway that holds it.
    pub async fn resume(
        &self,
        op_key: &str,
        auth: &Authorization,
    ) -> Result<Authorization, PaymentError> {
        let result = match self.owner(auth) {
            Ok(guarded) => {
                self.call(guarded, "resume", |g| g.resume(op_key, auth))
                    .await
            }
            Err(e) => Err(e),
        };
        counted("resume", result)
    }

    /// Whether the circuit of the gateway called `gateway` is not closed
    /// (open, or probing). False for an unknown name.
    pub fn circuit_open(&self, gateway: &str) -> bool {
        self.by_name(gateway)
            .is_some_and(|guarded| guarded.breaker.is_open())
    }

    fn by_name(&self, name: &str) -> Option<&Guarded> {
        std::iter::once(&self.primary)
            .chain(&self.fallback)
            .find(|guarded| guarded.gateway.name() == name)
    }

    fn owner(&self, auth: &Authorization) -> Result<&Guarded, PaymentError> {
        self.by_name(&auth.gateway).ok_or_else(|| {
            PaymentError::Invalid(format!(
                "authorization {} names an unknown gateway '{}'",
                auth.id, auth.gateway
            ))
        })
    }

    /// One operation at one gateway: through its breaker, under the timeout,
    /// retried while the failure is transient and attempts remain.
    async fn call<'a, T>(
        &self,
        guarded: &'a Guarded,
        op: &'static str,
        attempt: impl Fn(&'a dyn PaymentGateway) -> BoxFuture<'a, Result<T, PaymentError>>,
    ) -> Result<T, PaymentError> {
        let gateway = guarded.gateway.as_ref();
        let timeout = Duration::from_millis(self.settings.timeout_ms);
        let mut retry = 0;
        loop {
            let permit = guarded
                .breaker
                .admit()
                .map_err(|retry_after_secs| PaymentError::Unavailable { retry_after_secs })?;
            let result = match tokio::time::timeout(timeout, attempt(gateway)).await {
                Ok(result) => result,
                Err(_elapsed) => Err(PaymentError::Timeout),
            };
            let failed = result.as_ref().is_err_and(PaymentError::is_transient);
            if permit.record(!failed) {
                tracing::warn!(gateway = gateway.name(), "payment gateway circuit opened");
                metrics::counter!(
                    "surge_payment_circuit_opened_total",
                    "gateway" => gateway.name().to_owned()
                )
                .increment(1);
            }
            match result {
                Err(e) if e.is_transient() && retry < self.settings.retries => {
                    tracing::debug!(
                        gateway = gateway.name(),
                        op,
                        error = e.code(),
                        retry = retry + 1,
                        "retrying payment call"
                    );
                    metrics::counter!("surge_payment_retries_total", "op" => op).increment(1);
                    tokio::time::sleep(self.backoff(retry)).await;
                    retry += 1;
                }
                result => return result,
            }
        }
    }

    /// Full jitter: uniform in `[0, min(max, base · 2^retry)]`.
    fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self
            .settings
            .backoff_base_ms
            .saturating_mul(2u64.saturating_pow(retry))
            .min(self.settings.backoff_max_ms);
        Duration::from_millis(fastrand::u64(0..=ceiling))
    }
}

fn counted<T>(op: &'static str, result: Result<T, PaymentError>) -> Result<T, PaymentError> {
    let outcome = match &result {
        Ok(_) => "ok",
        Err(e) => e.code(),
    };
    metrics::counter!("surge_payment_calls_total", "op" => op, "outcome" => outcome).increment(1);
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payment::SimulatedSettings;
    use tokio::time::Instant;

    fn token(raw: &str) -> PaymentToken {
        PaymentToken::parse(raw).unwrap()
    }

    fn eur(amount: i64) -> Money {
        Money::price(amount, "EUR").unwrap()
    }

    fn gateway(name: &str, failure_rate: f64) -> Arc<SimulatedGateway> {
        let settings = SimulatedSettings {
            failure_rate,
            ..SimulatedSettings::default()
        };
        Arc::new(SimulatedGateway::new(name, settings))
    }

    fn settings(retries: u32, breaker_failures: u32) -> ResilienceSettings {
        ResilienceSettings {
            timeout_ms: 100,
            retries,
            breaker_failures,
            ..ResilienceSettings::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_gateway_that_never_answers_times_out_after_the_retries() {
        let primary = gateway("primary", 0.0);
        let payments = Payments::new(primary.clone(), None, settings(2, 10));
        let started = Instant::now();
        let result = payments
            .authorize("k", &token("tok_timeout"), eur(10))
            .await;
        assert_eq!(result, Err(PaymentError::Timeout));
        assert_eq!(primary.stats().calls, 3);
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(300), "{took:?}");
        // Three timeouts, at most 50 + 100 ms of backoff between them.
        assert!(took <= Duration::from_millis(450), "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn errors_are_retried_then_the_circuit_opens_and_a_probe_closes_it() {
        let primary = gateway("primary", 0.0);
        let payments = Payments::new(primary.clone(), None, settings(2, 5));

        let first = payments.authorize("k1", &token("tok_error"), eur(10)).await;
        assert!(matches!(first, Err(PaymentError::Failed(_))), "{first:?}");
        assert_eq!(primary.stats().failed, 3, "one call and two retries");
        assert!(!payments.circuit_open("primary"));

        // Failures four and five open the circuit; the last retry is refused.
        let second = payments.authorize("k2", &token("tok_error"), eur(10)).await;
        assert!(
            matches!(second, Err(PaymentError::Unavailable { .. })),
            "{second:?}"
        );
        assert_eq!(primary.stats().failed, 5);
        assert!(payments.circuit_open("primary"));

        // Open: even a good token fails fast, without reaching the gateway.
        let started = Instant::now();
        let fast = payments.authorize("k3", &token("tok_ok"), eur(10)).await;
        let Err(PaymentError::Unavailable { retry_after_secs }) = fast else {
            panic!("expected unavailable, got {fast:?}");
        };
        assert!((1..=10).contains(&retry_after_secs), "{retry_after_secs}");
        assert_eq!(started.elapsed(), Duration::ZERO);
        assert_eq!(primary.stats().calls, 5);

        // After the open period one probe goes through; its success closes.
        tokio::time::sleep(Duration::from_secs(10)).await;
        let auth = payments
            .authorize("k3", &token("tok_ok"), eur(10))
            .await
            .unwrap();
        assert!(!payments.circuit_open("primary"));
        payments.capture("c3", &auth, eur(10)).await.unwrap();
        let again = payments.authorize("k4", &token("tok_error"), eur(10)).await;
        assert!(
            matches!(again, Err(PaymentError::Failed(_))),
            "closed: {again:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_probe_reopens_the_circuit() {
        let primary = gateway("primary", 0.0);
        let payments = Payments::new(primary.clone(), None, settings(0, 1));
        let tok_error = token("tok_error");
        assert!(payments.authorize("k1", &tok_error, eur(1)).await.is_err());
        tokio::time::sleep(Duration::from_secs(10)).await;
        let probe = payments.authorize("k2", &tok_error, eur(1)).await;
        assert!(matches!(probe, Err(PaymentError::Failed(_))), "{probe:?}");
        let after = payments.authorize("k3", &token("tok_ok"), eur(1)).await;
        assert!(
            matches!(after, Err(PaymentError::Unavailable { .. })),
            "{after:?}"
        );
        assert_eq!(primary.stats().calls, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_decline_is_final_and_healthy() {
        let primary = gateway("primary", 0.0);
        let fallback = gateway("fallback", 0.0);
        let payments = Payments::new(primary.clone(), Some(fallback.clone()), settings(3, 1));
        for i in 0..3 {
            let result = payments
                .authorize(&format!("k{i}"), &token("tok_decline"), eur(10))
                .await;
            assert_eq!(
                result,
                Err(PaymentError::Declined {
                    reason: "card declined".into(),
                    decline_code: Some("generic_decline".into()),
                })
            );
        }
        assert_eq!(primary.stats().calls, 3, "never retried");
        assert_eq!(fallback.stats().calls, 0, "never sent to the fallback");
        assert!(!payments.circuit_open("primary"));
        assert!(payments
            .authorize("ok", &token("tok_ok"), eur(10))
            .await
            .is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn the_fallback_authorizes_and_keeps_its_authorizations() {
        let primary = gateway("primary", 1.0);
        let fallback = gateway("fallback", 0.0);
        let payments = Payments::new(primary.clone(), Some(fallback.clone()), settings(1, 3));
        let visa = token("tok_visa");

        let auth = payments.authorize("a1", &visa, eur(100)).await.unwrap();
        assert_eq!(auth.gateway, "fallback");
        assert_eq!(primary.stats().failed, 2);
        payments.capture("c1", &auth, eur(60)).await.unwrap();
        payments.refund("r1", &auth, eur(60)).await.unwrap();
        assert_eq!(
            (fallback.stats().captured, fallback.stats().refunded),
            (1, 1)
        );
        assert_eq!(primary.stats().calls, 2);

        // The primary's circuit opens on the next failures; the fallback
        // still answers, and a void goes to it as well.
        let auth = payments.authorize("a2", &visa, eur(5)).await.unwrap();
        assert!(payments.circuit_open("primary"));
        let auth3 = payments.authorize("a3", &visa, eur(5)).await.unwrap();
        assert_eq!(primary.stats().calls, 3, "open circuit: not called");
        payments.void("v2", &auth).await.unwrap();
        payments.void("v3", &auth3).await.unwrap();
        assert_eq!(fallback.stats().voided, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_fallback_the_failure_is_returned() {
        let primary = gateway("primary", 1.0);
        let payments = Payments::new(primary.clone(), None, settings(1, 10));
        let result = payments.authorize("a", &token("tok_visa"), eur(1)).await;
        assert!(matches!(result, Err(PaymentError::Failed(_))), "{result:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn operations_go_to_the_gateway_that_authorized() {
        let payments = Payments::new(gateway("primary", 0.0), None, settings(2, 5));
        let mut auth = payments
            .authorize("a", &token("tok_ok"), eur(10))
            .await
            .unwrap();
        let too_much = payments.capture("c", &auth, eur(11)).await;
        assert!(
            matches!(too_much, Err(PaymentError::Invalid(_))),
            "{too_much:?}"
        );
        auth.gateway = "gone".into();
        let unknown = payments.void("v", &auth).await;
        assert!(
            matches!(unknown, Err(PaymentError::Invalid(_))),
            "{unknown:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn simulated_payments_follow_the_settings() {
        let settings = PaymentSettings {
            fallback: true,
            ..PaymentSettings::default()
        };
        let payments = Payments::simulated(&settings);
        let auth = payments
            .authorize("a", &token("tok_ok"), eur(10))
            .await
            .unwrap();
        assert_eq!(auth.gateway, "simulated");
        payments.capture("c", &auth, eur(10)).await.unwrap();
        assert!(payments.by_name("simulated-fallback").is_some());
        assert!(Payments::simulated(&PaymentSettings::default())
            .by_name("simulated-fallback")
            .is_none());
    }

    #[test]
    fn backoff_has_full_jitter_under_a_doubling_ceiling() {
        let payments = Payments::new(gateway("primary", 0.0), None, ResilienceSettings::default());
        for (retry, ceiling) in [(0, 50), (1, 100), (4, 800), (5, 1000), (200, 1000)] {
            for _ in 0..100 {
                assert!(payments.backoff(retry) <= Duration::from_millis(ceiling));
            }
        }
    }

    #[test]
    fn calls_can_be_spawned() {
        fn assert_send<T: Send>(_: &T) {}
        let payments = Payments::new(gateway("primary", 0.0), None, ResilienceSettings::default());
        let auth = Authorization {
            id: "auth_1".into(),
            gateway: "primary".into(),
            amount: eur(1),
        };
        assert_send(&payments.authorize("a", &token("tok_ok"), eur(1)));
        assert_send(&payments.capture("c", &auth, eur(1)));
    }
}
