//! The simulated gateway's books: every authorization with what it allows,
//! what was captured, voided and refunded, and the answer given to each op
//! key. A real gateway keeps these, so the simulation refuses what a real
//! one would refuse and replays what a real one would replay.

use super::{is_magic, SimulatedStats, TOK_DECLINE, TOK_ERROR};
use crate::domain::Money;
use crate::payment::{Authorization, PaymentError};
use std::collections::HashMap;

/// What an op key asked for; a replay must ask for the same.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Request {
    Authorize { token: String, amount: Money },
    Capture { auth: String, amount: Money },
    Void { auth: String },
    Refund { auth: String, amount: Money },
}

/// What an applied request gave: an authorization, or an operation done.
#[derive(Debug, Clone)]
pub(super) enum Outcome {
    Authorized(Authorization),
    Done,
}

/// The answer given to an op key, with the request it answered.
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

/// The books of every authorization, the answer to every op key, and the
/// counts callers can read.
pub(super) struct Ledger {
    /// Names this process's authorizations (`auth_<epoch>_<n>`). The books
    /// live in memory, so after a restart the store still holds
    /// authorizations an earlier process granted: those (another epoch)
    /// are taken as the caller describes them, as a real gateway would
    /// still know them; an unknown one of this epoch is refused.
    epoch: u32,
    ops: HashMap<String, Recorded>,
    auths: HashMap<String, AuthState>,
    pub(super) stats: SimulatedStats,
}

impl Default for Ledger {
    fn default() -> Self {
        Self {
            epoch: fastrand::u32(..),
            ops: HashMap::new(),
            auths: HashMap::new(),
            stats: SimulatedStats::default(),
        }
    }
}

impl Ledger {
    /// Takes `auth` into the books if an earlier process granted it
    /// (`captured`: as the caller says; a refund is only asked of a
    /// captured one).
    pub(super) fn adopt(&mut self, auth: &Authorization, captured: bool) {
        if self.auths.contains_key(&auth.id) || !self.granted_earlier(&auth.id) {
            return;
        }
        let state = AuthState {
            amount: auth.amount,
            captured: if captured { auth.amount.amount } else { 0 },
            refunded: 0,
            voided: false,
            magic: false,
        };
        self.auths.insert(auth.id.clone(), state);
    }

    /// Whether `id` looks like an authorization of another epoch (or of
    /// the release before epochs: `auth_` and 16 hex digits).
    fn granted_earlier(&self, id: &str) -> bool {
        let Some(rest) = id.strip_prefix("auth_") else {
            return false;
        };
        let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
        match rest.split_once('_') {
            Some((epoch, n)) => hex(epoch) && hex(n) && epoch != format!("{:08x}", self.epoch),
            None => rest.len() == 16 && hex(rest),
        }
    }

    /// Answers `request` made with `op_key`: a transient failure (changes
    /// nothing, not remembered), the answer already given to the key, or the
    /// request applied and its answer remembered (unless it was invalid, so
    /// a corrected retry with the same key is applied).
    pub(super) fn answer(
        &mut self,
        gateway: &str,
        op_key: &str,
        request: Request,
        failure_rate: f64,
    ) -> Result<Outcome, PaymentError> {
        if let Some(failure) = self.transient_failure(&request, failure_rate) {
            self.stats.failed += 1;
            return Err(failure);
        }
        if let Some(recorded) = self.ops.get(op_key) {
            if recorded.request != request {
                return Err(PaymentError::Invalid(format!(
                    "op key '{op_key}' was already used for a different request"
                )));
            }
            return recorded.result.clone();
        }
        let result = self.apply(gateway, &request);
        if !matches!(result, Err(PaymentError::Invalid(_))) {
            let recorded = Recorded {
                request,
                result: result.clone(),
            };
            self.ops.insert(op_key.to_owned(), recorded);
        }
        result
    }

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
                decline_code: Some("generic_decline".into()),
            });
        }
        let id = loop {
            let id = format!("auth_{:08x}_{:016x}", self.epoch, fastrand::u64(..));
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
