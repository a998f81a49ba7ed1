//! The contract every payment gateway meets. Each operation carries an
//! `op_key` chosen by the caller, and is idempotent by it: calling again
//! with the same key returns the first call's result and does nothing new.
//! That is what makes retrying after a timeout safe, since a timed-out call
//! may well have happened.
//!
//! An authorization may need the customer first (3-D Secure): `authorize`
//! then answers [`PaymentError::ActionRequired`] with the pending
//! authorization, and `resume` asks later where it stands.

use super::{Authorization, PaymentError, PaymentToken};
use crate::domain::Money;
use std::future::Future;
use std::pin::Pin;

/// A boxed, sendable future: what the gateway trait returns, so the trait
/// stays object-safe (`Arc<dyn PaymentGateway>`) without `async-trait`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub trait PaymentGateway: Send + Sync {
    /// The gateway's name, recorded in every [`Authorization`] it grants.
    fn name(&self) -> &str;

    /// Reserves `amount` on the payment method behind `token`.
    fn authorize<'a>(
        &'a self,
        op_key: &'a str,
        token: &'a PaymentToken,
        amount: Money,
    ) -> BoxFuture<'a, Result<Authorization, PaymentError>>;

    /// Takes `amount` (at most what is authorized and not yet captured).
    fn capture<'a>(
        &'a self,
        op_key: &'a str,
        auth: &'a Authorization,
        amount: Money,
    ) -> BoxFuture<'a, Result<(), PaymentError>>;

    /// Releases an authorization that was never captured.
    fn void<'a>(
        &'a self,
        op_key: &'a str,
        auth: &'a Authorization,
    ) -> BoxFuture<'a, Result<(), PaymentError>>;

    /// Returns `amount` (at most what is captured and not yet refunded).
    fn refund<'a>(
        &'a self,
        op_key: &'a str,
        auth: &'a Authorization,
        amount: Money,
    ) -> BoxFuture<'a, Result<(), PaymentError>>;

    /// Where an authorization that answered
    /// [`PaymentError::ActionRequired`] stands now: authorized, still
    /// waiting for the customer (`ActionRequired` again) or declined.
    /// Gateways that never ask the customer to act have nothing pending:
    /// the authorization stands as it is.
    fn resume<'a>(
        &'a self,
        op_key: &'a str,
        auth: &'a Authorization,
    ) -> BoxFuture<'a, Result<Authorization, PaymentError>> {
        let _ = op_key;
        Box::pin(async move { Ok(auth.clone()) })
    }
}
