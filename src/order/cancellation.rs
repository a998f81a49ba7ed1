//! Cancelling an order, and the one way a cancellation is recorded, shared by
//! the API, a checkout that fails after selling stock, and start-up recovery.
//!
//! - An order awaiting payment is cancelled with its hold released, in the
//!   SKU actor's step.
//! - Otherwise the order is marked cancelled together with a durable
//!   cancellation record (the lines whose stock must come back, and whether
//!   the payment must be returned). The stock then returns line by line,
//!   each step shortening the record; the payment goes back last and the
//!   record is dropped. A crash or a gateway outage midway leaves the record,
//!   and [`Orders::resume_cancellations`] finishes it (at start-up and
//!   periodically).

use super::{Order, OrderError, OrderStatus, Orders, PaymentRef, Transition};
use crate::domain::{Money, OrderId};
use crate::events::EventKind;
use crate::idempotency::{request_digest, Answered, IdempotencyKey, KeyedCall};
use crate::inventory::{InventoryError, SkuError};
use crate::store::{keys, WriteGroup};
use serde::{Deserialize, Serialize};

/// Who asks for a cancellation: customers may cancel only before fulfilment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Canceller {
    Customer,
    Admin,
}

/// The durable record of a cancellation in progress: lines whose stock has
/// not come back yet, and whether the payment still has to be returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancellation {
    pub order_id: OrderId,
    /// Indexes into the order's lines still to unsell.
    pub lines: Vec<usize>,
    pub return_payment: bool,
}

impl Orders {
    /// Cancels an order, once per Idempotency-Key; its stock returns and
    /// any payment is given back.
    pub async fn cancel(
        &self,
        id: &OrderId,
        by: Canceller,
        key: Option<&IdempotencyKey>,
    ) -> Result<Answered<Order>, OrderError> {
        let scope = match by {
            Canceller::Customer => "cancel",
            Canceller::Admin => "admin-cancel",
        };
        let digest = request_digest(&[id.as_str().as_bytes()]);
        self.idempotency
            .once(&self.store, scope, key, digest, |keyed| {
                self.cancel_once(id, by, keyed)
            })
            .await
    }

    /// The receipt of a keyed cancellation is written with the
    /// cancellation, and again with the order as it ends once its payment
    /// is back: a retry is answered with the order as the first call was,
    /// or, if the payment could not be returned yet, as it was cancelled.
    async fn cancel_once(
        &self,
        id: &OrderId,
        by: Canceller,
        keyed: Option<KeyedCall>,
    ) -> Result<Order, OrderError> {
        let _lock = self.lock(id).await;
        let mut order = self.get(id)?;
        let was = order.status();
        if by == Canceller::Customer && was == OrderStatus::Fulfilled {
            return Err(OrderError::NotCancellable(was.as_str()));
        }
        if was == OrderStatus::AwaitingPayment {
            return self.cancel_unpaid(order, keyed.as_ref()).await;
        }
        let mut group = WriteGroup::new();
        let lines = (0..order.lines.len()).collect();
        let return_payment = order.payment.is_some();
        let cancellation =
            self.record_cancellation(&mut group, &mut order, lines, return_payment)?;
        super::lifecycle::record(&mut group, keyed.as_ref(), &order)?;
        self.commit(group).await?;
        self.finish_cancellation(order, cancellation, keyed.as_ref())
            .await
    }

    /// Cancels `order` in `group`: the order with its event, and the record
    /// of what must come back (`lines`, sold; the payment if
    /// `return_payment`). The stock returns once the group is committed,
    /// through [`finish_cancellation`](Self::finish_cancellation).
    pub(crate) fn record_cancellation(
        &self,
        group: &mut WriteGroup,
        order: &mut Order,
        lines: Vec<usize>,
        return_payment: bool,
    ) -> Result<Cancellation, OrderError> {
        let now = self.now();
        order.apply(Transition::Cancel, now)?;
        let cancellation = Cancellation {
            order_id: order.id.clone(),
            lines,
            return_payment,
        };
        self.put_with_event(group, order, EventKind::OrderCancelled, now)?;
        group.put(keys::cancellation(order.id.as_str()), &cancellation)?;
        Ok(cancellation)
    }

    async fn cancel_unpaid(
        &self,
        mut order: Order,
        keyed: Option<&KeyedCall>,
    ) -> Result<Order, OrderError> {
        let now = self.now();
        order.apply(Transition::Cancel, now)?;
        let [line] = order.lines.as_slice() else {
            return Err(OrderError::Illegal(super::IllegalTransition {
                from: OrderStatus::AwaitingPayment,
                transition: Transition::Cancel,
            }));
        };
        let mut attach = WriteGroup::new();
        self.put_with_event(&mut attach, &order, EventKind::OrderCancelled, now)?;
        super::lifecycle::record(&mut attach, keyed, &order)?;
        match self
            .inventory
            .release_hold(&line.sku, &order.id.hold(), attach)
            .await
        {
            Ok(_) => Ok(order),
            // The hold lapsed as we asked: the expiry owns the order now.
            Err(InventoryError::Refused(SkuError::UnknownHold(_))) => Err(OrderError::Expired),
            Err(e) => Err(e.into()),
        }
    }

    /// Returns the stock of each remaining line (each step also shortens the
    /// durable cancellation record), then the payment, then drops the record
    /// (rewriting a keyed call's receipt with the order as it ends).
    pub(crate) async fn finish_cancellation(
        &self,
        mut order: Order,
        mut cancellation: Cancellation,
        keyed: Option<&KeyedCall>,
    ) -> Result<Order, OrderError> {
        let key = keys::cancellation(order.id.as_str());
        while let Some(&index) = cancellation.lines.first() {
            cancellation.lines.remove(0);
            let Some(line) = order.lines.get(index) else {
                continue;
            };
            let mut attach = WriteGroup::new();
            attach.put(key.clone(), &cancellation)?;
            self.inventory
                .unsell(&line.sku, order.customer_id.as_ref(), line.quantity, attach)
                .await?;
        }
        if let (true, Some(payment)) = (cancellation.return_payment, order.payment.clone()) {
            self.return_payment(&order.id, &payment).await?;
            if let Some(p) = order.payment.as_mut() {
                p.refunded = p.amount.amount;
            }
        }
        let mut group = WriteGroup::new();
        group.put(keys::order(order.id.as_str()), &order)?;
        group.remove(key);
        super::lifecycle::record(&mut group, keyed, &order)?;
        self.commit(group).await?;
        Ok(order)
    }

    /// Finishes every cancellation still recorded: interrupted by a crash,
    /// or whose payment could not be returned yet (the gateway was down).
    /// Each runs under its order's lock. Returns how many finished.
    pub async fn resume_cancellations(&self) -> Result<usize, OrderError> {
        let pending: Vec<(Vec<u8>, Cancellation)> = self.store.scan(keys::CANCELLATION)?;
        let mut finished = 0;
        for (key, stale) in pending {
            let _lock = self.lock(&stale.order_id).await;
            // A live cancellation may have finished while we waited.
            let Some(cancellation) = self.store.get::<Cancellation>(&key)? else {
                continue;
            };
            let order = self.get(&cancellation.order_id)?;
            match self.finish_cancellation(order, cancellation, None).await {
                Ok(_) => finished += 1,
                Err(e) => {
                    tracing::warn!(order = %stale.order_id, error = %e, "a cancellation is still unfinished; retrying later")
                }
            }
        }
        Ok(finished)
    }

    async fn return_payment(&self, id: &OrderId, payment: &PaymentRef) -> Result<(), OrderError> {
        let auth = super::authorization(payment);
        if payment.captured {
            let rest = Money {
                amount: payment.amount.amount - payment.refunded,
                currency: payment.amount.currency,
            };
            if rest.amount > 0 {
                let op = format!("refund:{id}:{}", payment.refunded);
                self.payments.refund(&op, &auth, rest).await?;
            }
        } else {
            self.payments.void(&format!("void:{id}"), &auth).await?;
        }
        Ok(())
    }
}
