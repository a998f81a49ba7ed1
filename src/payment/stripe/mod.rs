//! The Stripe gateway: each authorization is a PaymentIntent created and
//! confirmed server-side with the customer's PaymentMethod (`pm_…`, made
//! by Stripe.js in the shopper's browser), with `capture_method=manual`:
//! the money is reserved, and captured only once the stock is committed,
//! exactly as the saga's authorize → commit → capture wants. Void cancels
//! the PaymentIntent; refund creates a Refund.
//!
//! Every call carries an `Idempotency-Key` made from the caller's op key
//! (`surge:<op key>`; for an authorization, with the PaymentMethod too, so
//! that paying again with another card after a decline is a new
//! PaymentIntent), so a call retried after a timeout, a 429 or a 5xx is
//! answered by Stripe from its first result and charges once.
//!
//! A card that needs 3-D Secure leaves the PaymentIntent in
//! `requires_action`: [`PaymentError::ActionRequired`] carries its
//! `next_action` and `client_secret` to the storefront, and
//! [`PaymentGateway::resume`] reads the PaymentIntent later (after the
//! Stripe webhook or the customer's next `pay`).
//!
//! Stripe's webhook events are verified by [`signature`] and read by
//! [`event`]; applying them to orders is `payment_events`'.

mod answer;
mod client;
pub mod event;
pub mod signature;

use super::{Authorization, BoxFuture, PaymentError, PaymentGateway, PaymentToken};
use crate::config::Secret;
use crate::domain::Money;
use crate::tls::Tls;
use client::Client;

/// The gateway's name, in every authorization it grants.
pub const GATEWAY: &str = "stripe";

pub struct StripeGateway {
    client: Client,
}

impl StripeGateway {
    pub fn new(api_base: &str, secret_key: Secret, tls: Tls) -> Self {
        Self {
            client: Client::new(api_base, secret_key, tls),
        }
    }

    /// The order a PaymentIntent pays (its `metadata.order_id`), for events
    /// about its charge, which do not carry the PaymentIntent's metadata.
    pub async fn order_of_intent(&self, intent: &str) -> Result<Option<String>, PaymentError> {
        let answer = self
            .client
            .get(&format!("/v1/payment_intents/{}", checked_id(intent)?))
            .await?;
        if let Some(e) = answer::error(&answer) {
            return Err(e);
        }
        Ok(answer.body["metadata"]["order_id"]
            .as_str()
            .map(str::to_owned))
    }

    async fn authorize_intent(
        &self,
        op_key: &str,
        token: &PaymentToken,
        amount: Money,
    ) -> Result<Authorization, PaymentError> {
        let pm = token.as_str();
        if !pm.starts_with("pm_") {
            return Err(PaymentError::Invalid(
                "payment_token must be a Stripe PaymentMethod id (pm_…)".into(),
            ));
        }
        let mut form = vec![
            ("amount", amount.amount.to_string()),
            ("currency", amount.currency.as_str().to_ascii_lowercase()),
            ("payment_method", pm.to_owned()),
            ("payment_method_types[]", "card".to_owned()),
            ("confirm", "true".to_owned()),
            ("capture_method", "manual".to_owned()),
            ("metadata[surge_op]", op_key.to_owned()),
        ];
        if let Some(order) = order_of(op_key) {
            form.push(("metadata[order_id]", order.to_owned()));
        }
        let key = format!("surge:{op_key}:{pm}");
        let answer = self.client.post("/v1/payment_intents", &form, &key).await?;
        match answer::error(&answer) {
            Some(e) => Err(e),
            None => answer::intent(&answer.body, amount),
        }
    }

    /// `POST /v1/payment_intents/{id}/{verb}`; done too when Stripe says
    /// the PaymentIntent is already `done_status` (an earlier try went
    /// through).
    async fn act(
        &self,
        op_key: &str,
        auth: &Authorization,
        verb: &str,
        form: &[(&str, String)],
        done_status: &str,
    ) -> Result<(), PaymentError> {
        let path = format!("/v1/payment_intents/{}/{verb}", intent_id(auth)?);
        let answer = self
            .client
            .post(&path, form, &format!("surge:{op_key}"))
            .await?;
        match answer::error(&answer) {
            Some(_) if answer::already(&answer, done_status) => Ok(()),
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl PaymentGateway for StripeGateway {
    fn name(&self) -> &str {
        GATEWAY
    }

    fn authorize<'a>(
        &'a self,
        op_key: &'a str,
        token: &'a PaymentToken,
        amount: Money,
    ) -> BoxFuture<'a, Result<Authorization, PaymentError>> {
        Box::pin(self.authorize_intent(op_key, token, amount))
    }

    fn capture<'a>(
        &'a self,
        op_key: &'a str,
        auth: &'a Authorization,
        amount: Money,
    ) -> BoxFuture<'a, Result<(), PaymentError>> {
        Box::pin(async move {
            let form = [("amount_to_capture", amount.amount.to_string())];
            self.act(op_key, auth, "capture", &form, "succeeded").await
        })
    }

    fn void<'a>(
        &'a self,
        op_key: &'a str,
        auth: &'a Authorization,
    ) -> BoxFuture<'a, Result<(), PaymentError>> {
        Box::pin(async move { self.act(op_key, auth, "cancel", &[], "canceled").await })
    }

    fn refund<'a>(
        &'a self,
        op_key: &'a str,
        auth: &'a Authorization,
        amount: Money,
    ) -> BoxFuture<'a, Result<(), PaymentError>> {
        Box::pin(async move {
            let form = [
                ("payment_intent", intent_id(auth)?.to_owned()),
                ("amount", amount.amount.to_string()),
                ("metadata[surge_op]", op_key.to_owned()),
            ];
            let answer = self
                .client
                .post("/v1/refunds", &form, &format!("surge:{op_key}"))
                .await?;
            answer::error(&answer).map_or(Ok(()), Err)
        })
    }

    fn resume<'a>(
        &'a self,
        _op_key: &'a str,
        auth: &'a Authorization,
    ) -> BoxFuture<'a, Result<Authorization, PaymentError>> {
        Box::pin(async move {
            let path = format!("/v1/payment_intents/{}", intent_id(auth)?);
            let answer = self.client.get(&path).await?;
            match answer::error(&answer) {
                Some(e) => Err(e),
                None => answer::intent(&answer.body, auth.amount),
            }
        })
    }
}

/// A PaymentIntent id fit for a URL path (Stripe's are `pi_` and
/// alphanumerics; anything else was not granted by Stripe).
fn intent_id(auth: &Authorization) -> Result<&str, PaymentError> {
    checked_id(&auth.id)
}

fn checked_id(id: &str) -> Result<&str, PaymentError> {
    let fits = id.starts_with("pi_") && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if fits {
        Ok(id)
    } else {
        Err(PaymentError::Invalid(format!(
            "'{id}' is not a PaymentIntent id"
        )))
    }
}

/// The order an op key names: surge's op keys are `<op>:<order id>`.
pub fn order_of(op_key: &str) -> Option<&str> {
    op_key.split_once(':').map(|(_, order)| order)
}
