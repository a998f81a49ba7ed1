//! Stripe's webhook events applied to orders: a payment that waited for the
//! customer (3-D Secure) goes on when Stripe says it is authorized
//! (`payment_intent.amount_capturable_updated`, `payment_intent.succeeded`)
//! or failed (`payment_intent.payment_failed`); money paid back from
//! Stripe's dashboard (`charge.refunded`) is recorded on its order.
//!
//! An event is taken only with a genuine `Stripe-Signature`, and applied
//! once: its id is recorded ([`seen`]) in the commit after it was applied,
//! and a redelivery is acknowledged without acting. Applying is itself
//! idempotent (a resumed checkout that already finished answers its order),
//! so an event applied but not yet recorded when the process died is safely
//! applied again. An event that cannot be applied now (Stripe or the store
//! unavailable) is refused with 503, and Stripe delivers it again later.

mod seen;

pub use seen::SeenEvent;

use crate::cart::{CartError, Carts};
use crate::clock::Clock;
use crate::config::Secret;
use crate::domain::OrderId;
use crate::order::{OrderError, Orders};
use crate::payment::stripe::event::{self, Action, StripeEvent};
use crate::payment::stripe::signature::{self, SignatureError};
use crate::payment::stripe::StripeGateway;
use crate::payment::PaymentError;
use crate::store::{Store, StoreError, WriteGroup};
use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::sync::Arc;

/// Why an event is not taken.
#[derive(Debug, thiserror::Error)]
pub enum StripeWebhookError {
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error("not a Stripe event: {0}")]
    Malformed(String),
    /// The same event is being applied by another delivery right now.
    #[error("this event is being applied by another delivery")]
    InProgress,
    /// It could not be applied now; Stripe will deliver it again.
    #[error("the event could not be applied now: {0}")]
    Unavailable(String),
}

impl StripeWebhookError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Signature(_) => "stripe-signature-invalid",
            Self::Malformed(_) => "stripe-event-invalid",
            Self::InProgress => "stripe-event-in-progress",
            Self::Unavailable(_) => "stripe-event-unavailable",
        }
    }
}

/// What was done with an event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Received {
    pub event_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// `applied`, `duplicate` (applied before: nothing done), or `ignored`
    /// (a type surge does not act on, or about no order of this shop).
    pub outcome: &'static str,
    /// The order the event was about, if it names one of ours.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
}

pub struct StripeWebhookParts {
    pub secret: Secret,
    pub tolerance_secs: u64,
    pub gateway: Arc<StripeGateway>,
    pub carts: Carts,
    pub orders: Orders,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
}

/// Takes Stripe's webhook deliveries.
pub struct StripeWebhook {
    parts: StripeWebhookParts,
    /// Event ids being applied now.
    in_flight: Mutex<HashSet<String>>,
}

impl StripeWebhook {
    pub fn new(parts: StripeWebhookParts) -> Self {
        Self {
            parts,
            in_flight: Mutex::new(HashSet::new()),
        }
    }

    /// Verifies, deduplicates and applies one delivery.
    pub async fn receive(
        &self,
        signature_header: &str,
        payload: &[u8],
    ) -> Result<Received, StripeWebhookError> {
        let p = &self.parts;
        let now_ms = p.clock.now_ms();
        signature::verify(
            signature_header,
            payload,
            p.secret.expose(),
            now_ms / 1000,
            p.tolerance_secs,
        )?;
        let event = event::parse(payload).map_err(StripeWebhookError::Malformed)?;
        let _claim = self.claim(&event.id)?;
        let received = |outcome, order: Option<&OrderId>| Received {
            event_id: event.id.clone(),
            kind: event.kind.clone(),
            outcome,
            order_id: order.map(ToString::to_string),
        };
        if seen::seen(&p.store, &event.id).map_err(unavailable)? {
            metrics::counter!("surge_stripe_events_total", "outcome" => "duplicate").increment(1);
            return Ok(received("duplicate", None));
        }
        let order = self.apply(&event).await?;
        let mut group = WriteGroup::new();
        let record = SeenEvent {
            payload_digest: Sha256::digest(payload).into(),
            at: now_ms,
            kind: event.kind.clone(),
        };
        seen::record(&mut group, &event.id, &record).map_err(unavailable)?;
        p.store.commit(group).await.map_err(unavailable)?;
        let outcome = if order.is_some() {
            "applied"
        } else {
            "ignored"
        };
        metrics::counter!("surge_stripe_events_total", "outcome" => outcome).increment(1);
        Ok(received(outcome, order.as_ref()))
    }

    /// Applies the event; the order it was about, if one of ours.
    async fn apply(&self, event: &StripeEvent) -> Result<Option<OrderId>, StripeWebhookError> {
        let (intent, order) = match &event.action {
            Action::Authorized { intent, order } | Action::Failed { intent, order } => {
                (intent, order.clone())
            }
            Action::Refunded {
                intent,
                amount_refunded,
            } => return self.refunded(intent, *amount_refunded).await,
            Action::Ignored => return Ok(None),
        };
        let Some(id) = order.as_deref().and_then(|o| OrderId::parse(o).ok()) else {
            tracing::info!(event = %event.id, intent = %intent, "a Stripe event about no order of ours");
            return Ok(None);
        };
        self.resume(&id).await
    }

    /// Goes on with the payment of order `id`, a checkout's or a
    /// purchase's, as the gateway now sees it.
    async fn resume(&self, id: &OrderId) -> Result<Option<OrderId>, StripeWebhookError> {
        let p = &self.parts;
        let pending = p.carts.pending_checkout(id).map_err(unavailable)?;
        let result = match pending {
            Some(record) => settled_cart(p.carts.resume_checkout(&record.cart_id, id).await),
            None => settled_order(p.orders.resume_pending(id).await),
        };
        result.map(|known| known.then(|| id.clone()))
    }

    async fn refunded(
        &self,
        intent: &str,
        amount_refunded: i64,
    ) -> Result<Option<OrderId>, StripeWebhookError> {
        let p = &self.parts;
        let order = p
            .gateway
            .order_of_intent(intent)
            .await
            .map_err(unavailable)?;
        let Some(id) = order.as_deref().and_then(|o| OrderId::parse(o).ok()) else {
            return Ok(None);
        };
        let recorded = p.orders.record_provider_refund(&id, amount_refunded).await;
        settled_order(recorded.map(drop)).map(|known| known.then_some(id))
    }

    /// Claims an event id for this delivery; released when dropped.
    fn claim(&self, id: &str) -> Result<Claim<'_>, StripeWebhookError> {
        if !self.in_flight.lock().insert(id.to_owned()) {
            return Err(StripeWebhookError::InProgress);
        }
        Ok(Claim {
            set: &self.in_flight,
            id: id.to_owned(),
        })
    }
}

struct Claim<'a> {
    set: &'a Mutex<HashSet<String>>,
    id: String,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.set.lock().remove(&self.id);
    }
}

/// Whether a resumed checkout settled (`true`: its order is ours, whatever
/// the payment's answer), or must be retried later (`Err`).
fn settled_cart<T>(result: Result<T, CartError>) -> Result<bool, StripeWebhookError> {
    match result {
        Ok(_) => Ok(true),
        Err(CartError::Payment(e)) => settled_payment(e),
        Err(CartError::NotFound(_)) => Ok(false),
        Err(
            e @ (CartError::Busy
            | CartError::Passivated
            | CartError::Store(_)
            | CartError::Inventory(_)),
        ) => Err(unavailable(e)),
        // Lapsed, already finished, lines gone: the checkout is settled.
        Err(_) => Ok(true),
    }
}

fn settled_order<T>(result: Result<T, OrderError>) -> Result<bool, StripeWebhookError> {
    match result {
        Ok(_) => Ok(true),
        Err(OrderError::NotFound(_)) => Ok(false),
        Err(OrderError::Payment(e)) => settled_payment(e),
        Err(e @ (OrderError::Store(_) | OrderError::Inventory(_))) => Err(unavailable(e)),
        Err(_) => Ok(true),
    }
}

/// A decline or a still-pending action is an answer (the order shows it);
/// the gateway's trouble is retried by Stripe's redelivery.
fn settled_payment(e: PaymentError) -> Result<bool, StripeWebhookError> {
    match e {
        PaymentError::Declined { .. }
        | PaymentError::ActionRequired(_)
        | PaymentError::Invalid(_) => Ok(true),
        other => Err(unavailable(other)),
    }
}

fn unavailable(e: impl std::fmt::Display) -> StripeWebhookError {
    StripeWebhookError::Unavailable(e.to_string())
}

impl From<StoreError> for StripeWebhookError {
    fn from(e: StoreError) -> Self {
        unavailable(e)
    }
}
