//! Moves orders through their life: pay, cancel, fulfil, ship, deliver,
//! refund. Each runs under the order's lock (one change of an order at a
//! time), checks the move against the state machine, and writes the order
//! with its event in one group:
//!
//! - An order awaiting payment is owned by its SKU's actor (whose expiry
//!   writes it), so paying or cancelling it rides on that actor's step: the
//!   hold is sold or released in the same group as the order update.
//! - Cancelling a paid order returns its stock line by line; the remaining
//!   lines and the payment to return are kept in a durable cancellation
//!   record, so a crash midway is finished at the next start (see
//!   `checkout::recovery`).
//!
//! Payments follow authorize -> commit stock -> capture: if the stock step
//! fails the authorization is voided; an authorization orphaned by a crash
//! before the commit is never captured and lapses at the gateway.

use super::{event_data, Order, OrderStatus, PaymentRef, Transition};
use crate::clock::{Clock, Millis};
use crate::domain::{Money, OrderId};
use crate::events::{EventKind, Outbox};
use crate::inventory::{Inventory, InventoryError, SkuError};
use crate::payment::{Authorization, PaymentError, PaymentToken, Payments};
use crate::store::{keys, Store, StoreError, WriteGroup};
use serde::{Deserialize, Serialize};
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use tokio::sync::{Mutex, MutexGuard};

/// Who asks for a cancellation: customers may cancel only before fulfilment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Canceller {
    Customer,
    Admin,
}

#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("no order '{0}'")]
    NotFound(String),
    #[error(transparent)]
    Illegal(#[from] super::IllegalTransition),
    #[error("the payment window of this order has closed")]
    Expired,
    #[error("a customer can cancel only an order awaiting payment or paid and not yet fulfilled; this one is {0}")]
    NotCancellable(&'static str),
    #[error("refund of {requested} exceeds the {refundable} minor units still refundable")]
    RefundTooLarge { requested: i64, refundable: i64 },
    #[error("the refund must be in {0}")]
    WrongCurrency(String),
    #[error("this order has no payment to refund")]
    NoPayment,
    #[error(transparent)]
    Payment(#[from] PaymentError),
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl OrderError {
    /// Stable machine-readable code; the last segment of the problem `type`.
    /// A failure of another capability carries that capability's code where
    /// it has one (it is answered as what it wraps).
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "order-not-found",
            Self::Illegal(_) => "illegal-transition",
            Self::Expired => "order-expired",
            Self::NotCancellable(_) => "not-cancellable",
            Self::RefundTooLarge { .. } => "refund-exceeds-paid",
            Self::WrongCurrency(_) => "currency-mismatch",
            Self::NoPayment => "no-payment",
            Self::Payment(e) => e.code(),
            Self::Inventory(_) => "inventory",
            Self::Store(_) => "store",
        }
    }
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

/// Order locks: a fixed set of mutexes an order id hashes to, so locking
/// costs no allocation and the set never grows.
const LOCKS: usize = 256;

#[derive(Clone)]
pub struct Orders {
    pub(crate) store: Store,
    pub(crate) inventory: Inventory,
    pub(crate) payments: Arc<Payments>,
    pub(crate) outbox: Outbox,
    pub(crate) clock: Arc<dyn Clock>,
    locks: Arc<Vec<Mutex<()>>>,
    hasher: RandomState,
}

impl Orders {
    pub fn new(
        store: Store,
        inventory: Inventory,
        payments: Arc<Payments>,
        outbox: Outbox,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            inventory,
            payments,
            outbox,
            clock,
            locks: Arc::new((0..LOCKS).map(|_| Mutex::new(())).collect()),
            hasher: RandomState::new(),
        }
    }

    /// The lock of one order. Held across a whole change, awaits included.
    pub async fn lock(&self, id: &OrderId) -> MutexGuard<'_, ()> {
        let slot = (self.hasher.hash_one(id) as usize) % self.locks.len();
        self.locks[slot].lock().await
    }

    pub fn get(&self, id: &OrderId) -> Result<Order, OrderError> {
        super::get(&self.store, id)?.ok_or_else(|| OrderError::NotFound(id.to_string()))
    }

    pub fn now(&self) -> Millis {
        self.clock.now_ms()
    }

    /// Pays a flash-sale order awaiting payment. Paying a paid order again
    /// answers it as it is (a retried request).
    pub async fn pay(&self, id: &OrderId, token: &PaymentToken) -> Result<Order, OrderError> {
        let _lock = self.lock(id).await;
        let order = self.get(id)?;
        let now = self.now();
        match order.status {
            status if status.is_paid() => return Ok(order),
            OrderStatus::Expired => return Err(OrderError::Expired),
            OrderStatus::AwaitingPayment if order.expires_at.is_some_and(|at| at <= now) => {
                return Err(OrderError::Expired)
            }
            status => drop(status.after(Transition::Pay)?),
        }
        let [line] = order.lines.as_slice() else {
            return Err(OrderError::Illegal(super::IllegalTransition {
                from: order.status,
                transition: Transition::Pay,
            }));
        };
        let auth = self
            .payments
            .authorize(&format!("pay:{id}"), token, order.total)
            .await?;
        let mut paid = order.clone();
        paid.status = OrderStatus::Paid;
        paid.updated_at = now;
        paid.payment = Some(payment_ref(&auth, token));
        let mut attach = WriteGroup::new();
        self.put_with_event(&mut attach, &paid, EventKind::OrderPaid, now)?;
        match self
            .inventory
            .sell_hold(&line.sku, &id.hold(), attach)
            .await
        {
            Ok(_) => {}
            Err(e) => {
                self.void(id, &auth).await;
                return Err(match e {
                    InventoryError::Refused(
                        SkuError::HoldExpired(_) | SkuError::UnknownHold(_),
                    ) => OrderError::Expired,
                    other => other.into(),
                });
            }
        }
        self.capture(paid, &auth, WriteGroup::new()).await
    }

    /// Captures an authorization whose stock is committed, and records it
    /// together with `attach` (a checkout's last step rides in the same
    /// commit). A failed capture leaves the order paid with `captured:
    /// false` (the authorization stands; an operator can retry) rather than
    /// failing a sale whose stock is already sold; `attach` is written then
    /// too.
    pub(crate) async fn capture(
        &self,
        mut order: Order,
        auth: &Authorization,
        attach: WriteGroup,
    ) -> Result<Order, OrderError> {
        let op = format!("capture:{}", order.id);
        let mut group = WriteGroup::new();
        match self.payments.capture(&op, auth, auth.amount).await {
            Ok(()) => {
                if let Some(payment) = order.payment.as_mut() {
                    payment.captured = true;
                }
                group.put(keys::order(order.id.as_str()), &order)?;
            }
            Err(e) => {
                tracing::warn!(order = %order.id, error = %e, "capture failed; the order stays paid, uncaptured")
            }
        }
        group.append(attach);
        if !group.is_empty() {
            self.store.commit(group).await?;
        }
        Ok(order)
    }

    pub(crate) async fn void(&self, id: &OrderId, auth: &Authorization) {
        if let Err(e) = self.payments.void(&format!("void:{id}"), auth).await {
            tracing::warn!(order = %id, error = %e, "voiding an authorization failed; it lapses at the gateway");
        }
    }

    /// Fulfils, ships or delivers a paid order.
    pub async fn advance(&self, id: &OrderId, step: Transition) -> Result<Order, OrderError> {
        let _lock = self.lock(id).await;
        let mut order = self.get(id)?;
        order.status = order.status.after(step)?;
        let now = self.now();
        order.updated_at = now;
        let kind = match step {
            Transition::Fulfil => EventKind::OrderFulfilled,
            Transition::Ship => EventKind::OrderShipped,
            _ => EventKind::OrderDelivered,
        };
        let mut group = WriteGroup::new();
        self.put_with_event(&mut group, &order, kind, now)?;
        self.commit(group).await?;
        Ok(order)
    }

    /// Refunds `amount` (all that is left when `None`) of a paid order.
    pub async fn refund(&self, id: &OrderId, amount: Option<Money>) -> Result<Order, OrderError> {
        let _lock = self.lock(id).await;
        let mut order = self.get(id)?;
        let now = self.now();
        // Whether a refund is possible at all comes first (409), then how much.
        order.status.after(Transition::Refund { full: false })?;
        let payment = order.payment.clone().ok_or(OrderError::NoPayment)?;
        let refundable = payment.amount.amount - payment.refunded;
        let amount = amount.unwrap_or(Money {
            amount: refundable,
            currency: payment.amount.currency,
        });
        if amount.currency != payment.amount.currency {
            return Err(OrderError::WrongCurrency(
                payment.amount.currency.to_string(),
            ));
        }
        if amount.amount <= 0 || amount.amount > refundable {
            return Err(OrderError::RefundTooLarge {
                requested: amount.amount,
                refundable,
            });
        }
        let full = amount.amount == refundable;
        order.status = order.status.after(Transition::Refund { full })?;
        let auth = authorization(&payment);
        if !payment.captured {
            self.payments
                .capture(&format!("capture:{id}"), &auth, payment.amount)
                .await?;
        }
        // Keyed by what was refunded before: a retry of this refund reuses
        // the key, the next refund gets a new one.
        let op = format!("refund:{id}:{}", payment.refunded);
        self.payments.refund(&op, &auth, amount).await?;
        if let Some(p) = order.payment.as_mut() {
            p.captured = true;
            p.refunded += amount.amount;
        }
        order.updated_at = now;
        let mut group = WriteGroup::new();
        self.put_with_event(&mut group, &order, EventKind::OrderRefunded, now)?;
        self.commit(group).await?;
        Ok(order)
    }

    /// Cancels an order; its stock returns and any payment is given back.
    pub async fn cancel(&self, id: &OrderId, by: Canceller) -> Result<Order, OrderError> {
        let _lock = self.lock(id).await;
        let mut order = self.get(id)?;
        let next = order.status.after(Transition::Cancel)?;
        if by == Canceller::Customer && order.status == OrderStatus::Fulfilled {
            return Err(OrderError::NotCancellable(order.status.as_str()));
        }
        let now = self.now();
        let was = order.status;
        order.status = next;
        order.updated_at = now;
        if was == OrderStatus::AwaitingPayment {
            return self.cancel_unpaid(order, now).await;
        }
        let cancellation = Cancellation {
            order_id: id.clone(),
            lines: (0..order.lines.len()).collect(),
            return_payment: order.payment.is_some(),
        };
        let mut group = WriteGroup::new();
        self.put_with_event(&mut group, &order, EventKind::OrderCancelled, now)?;
        group.put(keys::cancellation(id.as_str()), &cancellation)?;
        self.commit(group).await?;
        self.finish_cancellation(order, cancellation).await
    }

    async fn cancel_unpaid(&self, order: Order, now: Millis) -> Result<Order, OrderError> {
        let [line] = order.lines.as_slice() else {
            return Err(OrderError::Illegal(super::IllegalTransition {
                from: OrderStatus::AwaitingPayment,
                transition: Transition::Cancel,
            }));
        };
        let mut attach = WriteGroup::new();
        self.put_with_event(&mut attach, &order, EventKind::OrderCancelled, now)?;
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
    /// durable cancellation record), then the payment, then drops the record.
    pub(crate) async fn finish_cancellation(
        &self,
        mut order: Order,
        mut cancellation: Cancellation,
    ) -> Result<Order, OrderError> {
        let key = keys::cancellation(order.id.as_str());
        while let Some(&index) = cancellation.lines.first() {
            let Some(line) = order.lines.get(index) else {
                cancellation.lines.remove(0);
                continue;
            };
            cancellation.lines.remove(0);
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
            match self.finish_cancellation(order, cancellation).await {
                Ok(_) => finished += 1,
                Err(e) => {
                    tracing::warn!(order = %stale.order_id, error = %e, "a cancellation is still unfinished; retrying later")
                }
            }
        }
        Ok(finished)
    }

    async fn return_payment(&self, id: &OrderId, payment: &PaymentRef) -> Result<(), OrderError> {
        let auth = authorization(payment);
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

    /// Puts `order` and its event in `group`.
    pub(crate) fn put_with_event(
        &self,
        group: &mut WriteGroup,
        order: &Order,
        kind: EventKind,
        now: Millis,
    ) -> Result<(), StoreError> {
        group.put(keys::order(order.id.as_str()), order)?;
        self.outbox.record(group, kind, &event_data(order), now)
    }

    pub(crate) async fn commit(&self, group: WriteGroup) -> Result<(), StoreError> {
        self.store.commit(group).await?;
        self.outbox.poke();
        Ok(())
    }

    /// One page of orders in id order after `after`, optionally of one status.
    pub fn list(
        &self,
        status: Option<OrderStatus>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Order>, StoreError> {
        self.store
            .scan_page::<Order>(keys::ORDER, after.map(str::as_bytes), limit, |o| {
                status.is_none_or(|s| o.status == s)
            })
    }
}

/// The reference an order keeps of its authorization.
pub fn payment_ref(auth: &Authorization, token: &PaymentToken) -> PaymentRef {
    PaymentRef {
        gateway: auth.gateway.clone(),
        authorization_id: auth.id.clone(),
        token: token.as_str().to_owned(),
        amount: auth.amount,
        captured: false,
        refunded: 0,
    }
}

/// The authorization an order's payment reference stands for.
pub fn authorization(payment: &PaymentRef) -> Authorization {
    Authorization {
        id: payment.authorization_id.clone(),
        gateway: payment.gateway.clone(),
        amount: payment.amount,
    }
}
