//! A checkout whose payment waits for the customer's action (3-D Secure):
//! recorded as [`CheckoutStep::AwaitingAction`] with the cart frozen and
//! its holds kept, then resumed when the provider's webhook, a retry of
//! the checkout or a `pay` of its order asks: sold and captured once the
//! payment is authorized, given up (payment voided, cart reopened) when it
//! failed or outlived its holds.

use super::saga::with_record;
use super::{
    CartAfter, CartWrites, CheckoutError, CheckoutRecord, CheckoutStep, Checkouts, Outcome,
};
use crate::clock::Millis;
use crate::domain::OrderId;
use crate::order::payment_ref;
use crate::payment::{PaymentError, PendingAction};
use crate::store::{keys, WriteGroup};

impl Checkouts {
    /// Records that the payment waits for the customer: the cart stays
    /// frozen, its holds kept, until the checkout is resumed.
    pub(super) async fn await_action(
        &self,
        mut record: CheckoutRecord,
        pending: PendingAction,
        reopened: WriteGroup,
    ) -> Outcome {
        record.order.payment = Some(payment_ref(&pending.auth, &record.token));
        record.step = CheckoutStep::AwaitingAction {
            pending: pending.clone(),
        };
        let written = match with_record(WriteGroup::new(), &record) {
            Ok(group) => self.orders.store.commit(group).await,
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            self.orders.void(&record.order.id, &pending.auth).await;
            self.reopen(&record, reopened).await;
            return Outcome::failed(e, CartAfter::Reopened);
        }
        let waiting = PaymentError::ActionRequired(Box::new(pending));
        Outcome::failed(waiting, CartAfter::Frozen)
    }

    /// Whether a checkout waiting for the customer has outlived its holds.
    pub fn lapsed(&self, record: &CheckoutRecord, now: Millis) -> bool {
        now >= record.order.created_at.saturating_add(self.hold_ms)
    }

    /// The checkout of order `id` if it waits for the customer's action.
    pub fn pending(&self, id: &OrderId) -> Result<Option<CheckoutRecord>, CheckoutError> {
        let record: Option<CheckoutRecord> = self.orders.store.get(&keys::checkout(id.as_str()))?;
        Ok(record.filter(|r| matches!(r.step, CheckoutStep::AwaitingAction { .. })))
    }

    /// Goes on with a checkout whose payment waited for the customer: asks
    /// the gateway where it stands; authorized, the lines are sold and the
    /// payment captured (as a checkout that never waited); declined, the
    /// payment is voided and the cart reopens; still waiting, nothing
    /// changes. A checkout waiting longer than its holds last
    /// (`checkout_hold_secs`), whatever the gateway says, is given up:
    /// voided, cart reopened. The cart actor calls this (it owns the cart).
    pub async fn resume(&self, id: &OrderId, cart: CartWrites, now: Millis) -> Outcome {
        let record = match self.pending(id) {
            Ok(Some(record)) => record,
            Ok(None) => return Outcome::failed(CheckoutError::NotPending, CartAfter::Frozen),
            Err(e) => return Outcome::failed(e, CartAfter::Frozen),
        };
        let CheckoutStep::AwaitingAction { pending } = record.step.clone() else {
            return Outcome::failed(CheckoutError::NotPending, CartAfter::Frozen);
        };
        let op = format!("checkout:{id}");
        let answer = if self.lapsed(&record, now) {
            Err(CheckoutError::ActionLapsed)
        } else {
            self.orders
                .payments
                .resume(&op, &pending.auth)
                .await
                .map_err(CheckoutError::from)
        };
        match answer {
            Ok(auth) => {
                let mut record = record;
                record.order.payment = Some(payment_ref(&auth, &record.token));
                record.step = CheckoutStep::Authorized {
                    auth: auth.clone(),
                    sold: 0,
                };
                self.sell_and_finish(record, auth, cart).await
            }
            Err(
                e @ (CheckoutError::ActionLapsed
                | CheckoutError::Payment(PaymentError::Declined { .. })),
            ) => {
                metrics::counter!("surge_checkouts_total", "outcome" => "action-failed")
                    .increment(1);
                self.orders.void(id, &pending.auth).await;
                self.reopen(&record, cart.reopened).await;
                Outcome::failed(e, CartAfter::Reopened)
            }
            Err(e) => Outcome::failed(e, CartAfter::Frozen),
        }
    }
}
