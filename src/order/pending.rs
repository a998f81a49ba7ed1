//! A payment that waits for the customer's action (3-D Secure) on an order
//! awaiting payment, and what the provider reports later: the pending
//! payment is kept on the order (still awaiting payment) until the next
//! `pay` or the provider's webhook finds it authorized (the order is paid
//! as any other) or failed (it is forgotten); money paid back at the
//! provider is recorded on its order.

use super::lifecycle::{authorization, payment_ref};
use super::{Order, OrderError, OrderStatus, Orders, PaymentRef, Transition};
use crate::domain::OrderId;
use crate::events::EventKind;
use crate::payment::{Authorization, PaymentError, PaymentToken};
use crate::store::{keys, WriteGroup};

impl Orders {
    /// The authorization that pays `order`: a payment that waited for the
    /// customer's action (3-D Secure) is asked where it stands; otherwise
    /// `token` is authorized. A payment that needs the customer's action is
    /// recorded on the order (still awaiting payment) before
    /// `ActionRequired` is answered, so that the provider's webhook or the
    /// next `pay` goes on with it; one that failed is forgotten, so the
    /// next `pay` may use another payment method.
    pub(super) async fn authorize_pay(
        &self,
        order: &Order,
        token: &PaymentToken,
    ) -> Result<Authorization, OrderError> {
        let op = format!("pay:{}", order.id);
        if let Some(pending) = &order.payment {
            match self.payments.resume(&op, &authorization(pending)).await {
                Err(PaymentError::Declined { .. }) if pending.token != *token => {
                    self.set_pending(order, None).await?;
                }
                Err(e @ PaymentError::Declined { .. }) => {
                    self.set_pending(order, None).await?;
                    return Err(e.into());
                }
                other => return Ok(other?),
            }
        }
        match self.payments.authorize(&op, token, order.total).await {
            Err(PaymentError::ActionRequired(pending)) => {
                let payment = payment_ref(&pending.auth, token);
                self.set_pending(order, Some(payment)).await?;
                Err(PaymentError::ActionRequired(pending).into())
            }
            other => Ok(other?),
        }
    }

    /// Writes `order` (awaiting payment) with `payment` as its pending
    /// payment.
    async fn set_pending(
        &self,
        order: &Order,
        payment: Option<PaymentRef>,
    ) -> Result<(), OrderError> {
        let mut pending = order.clone();
        pending.payment = payment;
        let mut group = WriteGroup::new();
        group.put(keys::order(order.id.as_str()), &pending)?;
        self.store.commit(group).await?;
        Ok(())
    }

    /// Goes on with the payment of order `id` that waited for the customer's
    /// action (the provider's webhook says it moved): pays the order if
    /// its payment is now authorized. No receipt: the order's status is
    /// the answer to a retry.
    pub async fn resume_pending(&self, id: &OrderId) -> Result<Order, OrderError> {
        let order = self.get(id)?;
        let Some(pending) = order.payment.clone() else {
            return Ok(order);
        };
        if order.status() == OrderStatus::AwaitingPayment {
            return self.pay_once(id, &pending.token, None).await;
        }
        if !order.status().is_paid() && !pending.captured {
            // Authorized after the order lapsed: nothing may be captured.
            self.void(id, &authorization(&pending)).await;
        }
        Ok(order)
    }

    /// Records money paid back at the provider (Stripe's dashboard, say)
    /// that surge did not ask for: `refunded_total` is all the provider has
    /// refunded for the order's payment so far. A refund surge made itself
    /// is already counted and changes nothing.
    pub async fn record_provider_refund(
        &self,
        id: &OrderId,
        refunded_total: i64,
    ) -> Result<Order, OrderError> {
        let _lock = self.lock(id).await;
        let mut order = self.get(id)?;
        let Some(payment) = order.payment.clone() else {
            return Ok(order);
        };
        let total = refunded_total.min(payment.amount.amount);
        if total <= payment.refunded || !order.status().is_paid() {
            return Ok(order);
        }
        let now = self.now();
        let full = total == payment.amount.amount;
        order.apply(Transition::Refund { full }, now)?;
        if let Some(p) = order.payment.as_mut() {
            p.captured = true;
            p.refunded = total;
        }
        let mut group = WriteGroup::new();
        self.put_with_event(&mut group, &order, EventKind::OrderRefunded, now)?;
        self.commit(group).await?;
        Ok(order)
    }
}
