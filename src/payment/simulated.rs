//! A payment gateway that lives in the process: it answers after a random
//! latency, fails at a configured rate, and reacts to magic tokens, so the
//! checkout path, its retries and its compensations can be exercised (and
//! benchmarked) without a real provider. It keeps the books a real gateway
//! keeps (what each authorization allows, what was captured, voided and
//! refunded) and refuses what a real one would refuse.
//!
//! Magic tokens, each with a fixed outcome:
//! - `tok_ok`: always succeeds, and so do the operations on its authorization;
//! - `tok_decline`: declined ("card declined");
//! - `tok_timeout`: never answers (the caller's timeout cuts it);
//! - `tok_error`: fails with a gateway error.
//!
//! Any other well-formed token succeeds, except that each call fails with a
//! gateway error with probability `failure_rate`.
//!
//! Idempotency: the result of each op key is remembered (with the request it
//! answered), and a call with a known key replays it. Transient failures and
//! invalid requests change nothing and are not remembered, so a retry with
//! the same key tries again; reusing a key for a different request is invalid.

use super::{Authorization, BoxFuture, PaymentError, PaymentGateway, PaymentToken};
use crate::domain::Money;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Duration;

const TOK_OK: &str = "tok_ok";
const TOK_DECLINE: &str = "tok_decline";
const TOK_TIMEOUT: &str = "tok_timeout";
const TOK_ERROR: &str = "tok_error";

/// How long `tok_timeout` takes to answer: far longer than any timeout.
const NEVER: Duration = Duration::from_secs(3600);

/// The simulated gateway (`[payment.simulated]` in the config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimulatedSettings {
    /// Shortest simulated gateway latency, in milliseconds.
    pub latency_ms_min: u64,
    /// Longest simulated gateway latency, in milliseconds; each call waits a
    /// uniformly random time between the two.
    pub latency_ms_max: u64,
    /// Share of calls (0.0 to 1.0) that fail with a gateway error. Applies to
    /// ordinary tokens only; the magic `tok_*` tokens always behave the same.
    pub failure_rate: f64,
}

impl Default for SimulatedSettings {
    fn default() -> Self {
        Self {
            latency_ms_min: 1,
            latency_ms_max: 5,
            failure_rate: 0.0,
        }
    }
}

/// Effective operations so far (a replayed op key counts once) and failures
/// answered. Tests use it to check that compensations happened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimulatedStats {
    /// Calls received, replays and failures included.
    pub calls: u64,
    pub authorized: u64,
    pub declined: u64,
    pub captured: u64,
    /// Authorizations voided (voiding one again changes nothing).
    pub voided: u64,
    pub refunded: u64,
    /// Gateway errors answered (`tok_error` and random failures).
    pub failed: u64,
}

pub struct SimulatedGateway {
    name: String,
    settings: SimulatedSettings,
    ledger: Mutex<Ledger>,
}

impl SimulatedGateway {
    pub fn new(name: impl Into<String>, settings: SimulatedSettings) -> Self {
        Self {
            name: name.into(),
            settings,
            ledger: Mutex::new(Ledger::default()),
        }
    }

    pub fn stats(&self) -> SimulatedStats {
        self.ledger.lock().stats
    }

    fn latency(&self) -> Duration {
        let (min, max) = (self.settings.latency_ms_min, self.settings.latency_ms_max);
        let ms = if min < max {
            fastrand::u64(min..=max)
        } else {
            min
        };
        Duration::from_millis(ms)
    }

    fn check_owner(&self, auth: &Authorization) -> Result<(), PaymentError> {
        if auth.gateway != self.name {
            return Err(PaymentError::Invalid(format!(
                "authorization {} belongs to gateway '{}', not '{}'",
                auth.id, auth.gateway, self.name
            )));
        }
        Ok(())
    }

    /// One call: wait, then (under the lock, so concurrent calls with one op
    /// key agree) fail, replay or apply.
    async fn perform(&self, op_key: &str, request: Request) -> Result<Outcome, PaymentError> {
        self.ledger.lock().stats.calls += 1;
        let never_answers =
            matches!(&request, Request::Authorize { token, .. } if token == TOK_TIMEOUT);
        if never_answers {
            tokio::time::sleep(NEVER).await;
            return Err(PaymentError::Timeout);
        }
        tokio::time::sleep(self.latency()).await;

        let mut ledger = self.ledger.lock();
        if let Some(failure) = ledger.transient_failure(&request, self.settings.failure_rate) {
            ledger.stats.failed += 1;
            return Err(failure);
        }
        if let Some(recorded) = ledger.ops.get(op_key) {
            if recorded.request != request {
                return Err(PaymentError::Invalid(format!(
                    "op key '{op_key}' was already used for a different request"
                )));
            }
            return recorded.result.clone();
        }
        let result = ledger.apply(&self.name, &request);
        if !matches!(result, Err(PaymentError::Invalid(_))) {
            let recorded = Recorded {
                request,
                result: result.clone(),
            };
            ledger.ops.insert(op_key.to_owned(), recorded);
        }
        result
    }
}

impl PaymentGateway for SimulatedGateway {
    fn name(&self) -> &str {
        &self.name
    }

    fn authorize<'a>(
        &'a self,
        op_key: &'a str,
        token: &'a PaymentToken,
        amount: Money,
    ) -> BoxFuture<'a, Result<Authorization, PaymentError>> {
        Box::pin(async move {
            let request = Request::Authorize {
                token: token.as_str().to_owned(),
                amount,
            };
            match self.perform(op_key, request).await? {
                Outcome::Authorized(auth) => Ok(auth),
                Outcome::Done => Err(PaymentError::Invalid(format!(
                    "op key '{op_key}' did not authorize"
                ))),
            }
        })
    }

    fn capture<'a>(
        &'a self,
        op_key: &'a str,
        auth: &'a Authorization,
        amount: Money,
    ) -> BoxFuture<'a, Result<(), PaymentError>> {
        Box::pin(async move {
            self.check_owner(auth)?;
            let request = Request::Capture {
                auth: auth.id.clone(),
                amount,
            };
            self.perform(op_key, request).await.map(drop)
        })
    }

    fn void<'a>(
        &'a self,
        op_key: &'a str,
        auth: &'a Authorization,
    ) -> BoxFuture<'a, Result<(), PaymentError>> {
        Box::pin(async move {
            self.check_owner(auth)?;
            let request = Request::Void {
                auth: auth.id.clone(),
            };
            self.perform(op_key, request).await.map(drop)
        })
    }

    fn refund<'a>(
        &'a self,
        op_key: &'a str,
        auth: &'a Authorization,
        amount: Money,
    ) -> BoxFuture<'a, Result<(), PaymentError>> {
        Box::pin(async move {
            self.check_owner(auth)?;
            let request = Request::Refund {
                auth: auth.id.clone(),
                amount,
            };
            self.perform(op_key, request).await.map(drop)
        })
    }
}

/// What an op key asked for; a replay must ask for the same.
#[derive(Debug, Clone, PartialEq)]
enum Request {
    Authorize { token: String, amount: Money },
    Capture { auth: String, amount: Money },
    Void { auth: String },
    Refund { auth: String, amount: Money },
}

#[derive(Debug, Clone)]
enum Outcome {
    Authorized(Authorization),
    Done,
}

struct Recorded {
    request: Request,
    result: Result<Outcome, PaymentError>,
}

/// The books of one authorization, in minor units of its currency.
struct AuthState {
    amount: Money,
    captured: i64,
    refunded: i64,
    voided: bool,
    /// Granted to a magic token: operations on it never fail at random.
    magic: bool,
}

#[derive(Default)]
struct Ledger {
    ops: HashMap<String, Recorded>,
    auths: HashMap<String, AuthState>,
    stats: SimulatedStats,
}

impl Ledger {
    fn transient_failure(&self, request: &Request, failure_rate: f64) -> Option<PaymentError> {
        let magic = match request {
            Request::Authorize { token, .. } if token == TOK_ERROR => {
                return Some(PaymentError::Failed(
                    "simulated gateway error (tok_error)".into(),
                ))
            }
            Request::Authorize { token, .. } => is_magic(token),
            Request::Capture { auth, .. }
            | Request::Void { auth }
            | Request::Refund { auth, .. } => self.auths.get(auth).is_some_and(|a| a.magic),
        };
        let fails = !magic && fastrand::f64() < failure_rate;
        fails.then(|| PaymentError::Failed("simulated gateway error".into()))
    }

    /// Applies a new request. Every check comes before any change, so an
    /// `Invalid` answer leaves the books as they were.
    fn apply(&mut self, gateway: &str, request: &Request) -> Result<Outcome, PaymentError> {
        match request {
            Request::Authorize { token, amount } => self
                .authorize(gateway, token, *amount)
                .map(Outcome::Authorized),
            Request::Capture { auth, amount } => {
                self.capture(auth, *amount).map(|()| Outcome::Done)
            }
            Request::Void { auth } => self.void(auth).map(|()| Outcome::Done),
            Request::Refund { auth, amount } => self.refund(auth, *amount).map(|()| Outcome::Done),
        }
    }

    fn authorize(
        &mut self,
        gateway: &str,
        token: &str,
        amount: Money,
    ) -> Result<Authorization, PaymentError> {
        if amount.amount < 0 {
            return Err(PaymentError::Invalid(
                "cannot authorize a negative amount".into(),
            ));
        }
        if token == TOK_DECLINE {
            self.stats.declined += 1;
            return Err(PaymentError::Declined {
                reason: "card declined".into(),
            });
        }
        let id = loop {
            let id = format!("auth_{:016x}", fastrand::u64(..));
            if !self.auths.contains_key(&id) {
                break id;
            }
        };
        let state = AuthState {
            amount,
            captured: 0,
            refunded: 0,
            voided: false,
            magic: is_magic(token),
        };
        self.auths.insert(id.clone(), state);
        self.stats.authorized += 1;
        Ok(Authorization {
            id,
            gateway: gateway.to_owned(),
            amount,
        })
    }

    fn capture(&mut self, id: &str, amount: Money) -> Result<(), PaymentError> {
        let auth = books(&mut self.auths, id, amount)?;
        if auth.voided {
            return Err(invalid(id, "was voided"));
        }
        let captured = auth
            .captured
            .checked_add(amount.amount)
            .filter(|&total| total <= auth.amount.amount)
            .ok_or_else(|| {
                invalid(
                    id,
                    &format!(
                        "authorizes {}, {} already captured: cannot capture {} more",
                        auth.amount.amount, auth.captured, amount.amount
                    ),
                )
            })?;
        auth.captured = captured;
        self.stats.captured += 1;
        Ok(())
    }

    fn void(&mut self, id: &str) -> Result<(), PaymentError> {
        let Some(auth) = self.auths.get_mut(id) else {
            return Err(invalid(id, "is unknown"));
        };
        if auth.captured > 0 {
            return Err(invalid(id, "was captured: refund it instead"));
        }
        if !auth.voided {
            auth.voided = true;
            self.stats.voided += 1;
        }
        Ok(())
    }

    fn refund(&mut self, id: &str, amount: Money) -> Result<(), PaymentError> {
        let auth = books(&mut self.auths, id, amount)?;
        let refundable = auth.captured - auth.refunded;
        if amount.amount > refundable {
            return Err(invalid(
                id,
                &format!(
                    "has {refundable} captured and not refunded: cannot refund {}",
                    amount.amount
                ),
            ));
        }
        auth.refunded += amount.amount;
        self.stats.refunded += 1;
        Ok(())
    }
}

fn is_magic(token: &str) -> bool {
    [TOK_OK, TOK_DECLINE, TOK_TIMEOUT, TOK_ERROR].contains(&token)
}

/// The books of authorization `id`, for moving a positive `amount` in its
/// currency.
fn books<'a>(
    auths: &'a mut HashMap<String, AuthState>,
    id: &str,
    amount: Money,
) -> Result<&'a mut AuthState, PaymentError> {
    let Some(auth) = auths.get_mut(id) else {
        return Err(invalid(id, "is unknown"));
    };
    if amount.currency != auth.amount.currency {
        return Err(invalid(
            id,
            &format!("is in {}, not {}", auth.amount.currency, amount.currency),
        ));
    }
    if amount.amount <= 0 {
        return Err(PaymentError::Invalid("amount must be positive".into()));
    }
    Ok(auth)
}

fn invalid(id: &str, why: &str) -> PaymentError {
    PaymentError::Invalid(format!("authorization {id} {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gateway() -> SimulatedGateway {
        SimulatedGateway::new("simulated", SimulatedSettings::default())
    }

    fn token(raw: &str) -> PaymentToken {
        PaymentToken::parse(raw).unwrap()
    }

    fn eur(amount: i64) -> Money {
        Money::price(amount, "EUR").unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn magic_tokens_have_fixed_outcomes() {
        let g = gateway();
        let auth = g.authorize("a1", &token("tok_ok"), eur(100)).await.unwrap();
        assert_eq!(auth.gateway, "simulated");
        assert_eq!(auth.amount, eur(100));
        assert!(auth.id.starts_with("auth_"));
        assert_eq!(
            g.authorize("a2", &token("tok_decline"), eur(100)).await,
            Err(PaymentError::Declined {
                reason: "card declined".into()
            })
        );
        let err = g.authorize("a3", &token("tok_error"), eur(100)).await;
        assert!(matches!(err, Err(PaymentError::Failed(_))), "{err:?}");
        let never = tokio::time::timeout(
            Duration::from_secs(60),
            g.authorize("a4", &token("tok_timeout"), eur(100)),
        )
        .await;
        assert!(never.is_err(), "tok_timeout answered");
        let stats = g.stats();
        assert_eq!((stats.authorized, stats.declined, stats.failed), (1, 1, 1));
        assert_eq!(stats.calls, 4);
    }

    #[tokio::test(start_paused = true)]
    async fn an_op_key_is_answered_once() {
        let g = gateway();
        let t = token("tok_visa");
        let first = g.authorize("k", &t, eur(100)).await.unwrap();
        let again = g.authorize("k", &t, eur(100)).await.unwrap();
        assert_eq!(first, again);
        let (x, y) = tokio::join!(g.authorize("k2", &t, eur(5)), g.authorize("k2", &t, eur(5)));
        assert_eq!(x.unwrap(), y.unwrap());
        assert_eq!(g.stats().authorized, 2);

        g.capture("c", &first, eur(60)).await.unwrap();
        g.capture("c", &first, eur(60)).await.unwrap();
        assert_eq!(g.stats().captured, 1);

        let reused = g.authorize("k", &t, eur(101)).await;
        assert!(
            matches!(reused, Err(PaymentError::Invalid(_))),
            "{reused:?}"
        );
        let declined = g.authorize("d", &token("tok_decline"), eur(1)).await;
        assert_eq!(
            declined,
            g.authorize("d", &token("tok_decline"), eur(1)).await
        );
        assert_eq!(g.stats().declined, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn capture_void_and_refund_keep_the_books() {
        let g = gateway();
        let auth = g.authorize("a", &token("tok_ok"), eur(100)).await.unwrap();
        let too_much = g.capture("c0", &auth, eur(101)).await;
        assert!(
            matches!(too_much, Err(PaymentError::Invalid(_))),
            "{too_much:?}"
        );
        // An invalid request is not remembered: the key stays usable.
        g.capture("c0", &auth, eur(70)).await.unwrap();
        assert!(g.capture("c1", &auth, eur(31)).await.is_err());
        g.capture("c1", &auth, eur(30)).await.unwrap();
        assert!(g.void("v", &auth).await.is_err(), "void after capture");

        assert!(g.refund("r0", &auth, eur(101)).await.is_err());
        g.refund("r0", &auth, eur(60)).await.unwrap();
        assert!(g.refund("r1", &auth, eur(41)).await.is_err());
        g.refund("r1", &auth, eur(40)).await.unwrap();
        assert!(g.refund("r2", &auth, eur(1)).await.is_err());
        assert!(g
            .refund("r3", &auth, Money::price(1, "USD").unwrap())
            .await
            .is_err());

        let other = g.authorize("b", &token("tok_ok"), eur(10)).await.unwrap();
        g.void("v1", &other).await.unwrap();
        g.void("v2", &other).await.unwrap();
        assert!(
            g.capture("c2", &other, eur(1)).await.is_err(),
            "capture after void"
        );

        let stats = g.stats();
        assert_eq!(
            (
                stats.authorized,
                stats.captured,
                stats.voided,
                stats.refunded
            ),
            (2, 2, 1, 2)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn unknown_or_foreign_authorizations_are_invalid() {
        let g = gateway();
        let mut auth = g.authorize("a", &token("tok_ok"), eur(10)).await.unwrap();
        auth.gateway = "elsewhere".into();
        assert!(matches!(
            g.void("v", &auth).await,
            Err(PaymentError::Invalid(_))
        ));
        auth.gateway = "simulated".into();
        auth.id = "auth_missing".into();
        assert!(matches!(
            g.capture("c", &auth, eur(1)).await,
            Err(PaymentError::Invalid(_))
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn failure_rate_applies_to_ordinary_tokens_only() {
        let settings = SimulatedSettings {
            failure_rate: 1.0,
            ..SimulatedSettings::default()
        };
        let g = SimulatedGateway::new("simulated", settings);
        let failed = g.authorize("a", &token("tok_visa"), eur(10)).await;
        assert!(matches!(failed, Err(PaymentError::Failed(_))), "{failed:?}");
        let auth = g.authorize("b", &token("tok_ok"), eur(10)).await.unwrap();
        g.capture("c", &auth, eur(10)).await.unwrap();
        assert_eq!(g.stats().failed, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn latency_stays_within_the_settings() {
        let settings = SimulatedSettings {
            latency_ms_min: 20,
            latency_ms_max: 30,
            failure_rate: 0.0,
        };
        let g = SimulatedGateway::new("simulated", settings);
        for i in 0..20 {
            let started = tokio::time::Instant::now();
            g.authorize(&format!("k{i}"), &token("tok_ok"), eur(1))
                .await
                .unwrap();
            let took = started.elapsed();
            assert!(
                (Duration::from_millis(20)..=Duration::from_millis(31)).contains(&took),
                "{took:?}"
            );
        }
    }

    #[test]
    fn settings_reject_unknown_keys() {
        let parsed: SimulatedSettings = serde_json::from_str(r#"{"failure_rate":0.5}"#).unwrap();
        assert_eq!(parsed.latency_ms_max, 5);
        assert!(serde_json::from_str::<SimulatedSettings>(r#"{"failure":0.5}"#).is_err());
    }
}
