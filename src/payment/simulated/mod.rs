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

mod ledger;

#[cfg(test)]
mod tests;

use super::{Authorization, BoxFuture, PaymentError, PaymentGateway, PaymentToken};
use crate::domain::Money;
use ledger::{Ledger, Outcome, Request};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
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

        let failure_rate = self.settings.failure_rate;
        self.ledger
            .lock()
            .answer(&self.name, op_key, request, failure_rate)
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
            self.ledger.lock().adopt(auth, false);
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
            self.ledger.lock().adopt(auth, false);
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
            self.ledger.lock().adopt(auth, true);
            let request = Request::Refund {
                auth: auth.id.clone(),
                amount,
            };
            self.perform(op_key, request).await.map(drop)
        })
    }
}

/// Whether `token` is one of the magic tokens, whose outcomes are fixed.
fn is_magic(token: &str) -> bool {
    [TOK_OK, TOK_DECLINE, TOK_TIMEOUT, TOK_ERROR].contains(&token)
}
