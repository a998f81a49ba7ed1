//! `Orders`, the handle, and the moves of an order's life after it is
//! created: pay, fulfil, ship, deliver, refund (cancelling is in
//! [`cancellation`](super::cancellation)). Each runs under the order's lock
//! (one change of an order at a time), moves the order through
//! [`Order::apply`], and writes it with its event in one group. An order
//! awaiting payment is held by its SKU's actor (whose expiry may expire it),
//! so paying it rides on that actor's step: the hold is sold in the same
//! group as the order update.
//!
//! Payments follow authorize -> commit stock -> capture: if the stock step
//! fails the authorization is voided; an authorization orphaned by a crash
//! before the commit is never captured and lapses at the gateway.

use super::{event_data, Order, OrderError, OrderStatus, PaymentRef, Transition};
use crate::catalog::Catalog;
use crate::clock::{Clock, Millis};
use crate::domain::{Money, OrderId};
use crate::events::{EventKind, Outbox};
use crate::idempotency::{request_digest, Answered, Idempotency, IdempotencyKey, KeyedCall};
use crate::inventory::{Inventory, InventoryError, SkuError};
use crate::payment::{Authorization, PaymentToken, Payments};
use crate::queue::Queues;
use crate::store::{keys, Store, StoreError, WriteGroup};
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use tokio::sync::{Mutex, MutexGuard};

/// Order locks: a fixed set of mutexes an order id hashes to, so locking
/// costs no allocation and the set never grows.
const LOCKS: usize = 256;

/// What orders need from the rest of the process.
pub struct OrderParts {
    pub store: Store,
    pub catalog: Arc<Catalog>,
    pub inventory: Inventory,
    pub idempotency: Idempotency,
    pub payments: Arc<Payments>,
    pub outbox: Outbox,
    pub clock: Arc<dyn Clock>,
    /// The waiting rooms a purchase may have to pass.
    pub queues: Queues,
}

#[derive(Clone)]
pub struct Orders {
    pub(crate) store: Store,
    pub(super) catalog: Arc<Catalog>,
    pub(crate) inventory: Inventory,
    pub(super) idempotency: Idempotency,
    pub(crate) payments: Arc<Payments>,
    pub(crate) outbox: Outbox,
    pub(crate) clock: Arc<dyn Clock>,
    pub(super) queues: Queues,
    locks: Arc<Vec<Mutex<()>>>,
    hasher: RandomState,
}

impl Orders {
    pub fn new(parts: OrderParts) -> Self {
        Self {
            store: parts.store,
            catalog: parts.catalog,
            inventory: parts.inventory,
            idempotency: parts.idempotency,
            payments: parts.payments,
            outbox: parts.outbox,
            clock: parts.clock,
            queues: parts.queues,
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

    /// Pays a flash-sale order awaiting payment, once per Idempotency-Key.
    /// Paying a paid order again answers it as it is (a retried request).
    pub async fn pay(
        &self,
        id: &OrderId,
        token: &PaymentToken,
        key: Option<&IdempotencyKey>,
    ) -> Result<Answered<Order>, OrderError> {
        let digest = request_digest(&[id.as_str().as_bytes(), token.as_str().as_bytes()]);
        self.idempotency
            .once(&self.store, "pay", key, digest, |keyed| {
                self.pay_once(id, token, keyed)
            })
            .await
    }

    pub(super) async fn pay_once(
        &self,
        id: &OrderId,
        token: &PaymentToken,
        keyed: Option<KeyedCall>,
    ) -> Result<Order, OrderError> {
        let _lock = self.lock(id).await;
        let order = self.get(id)?;
        let now = self.now();
        match order.status() {
            status if status.is_paid() => return Ok(order),
            OrderStatus::Expired => return Err(OrderError::Expired),
            OrderStatus::AwaitingPayment if order.expires_at.is_some_and(|at| at <= now) => {
                return Err(OrderError::Expired)
            }
            status => drop(status.after(Transition::Pay)?),
        }
        let [line] = order.lines.as_slice() else {
            return Err(OrderError::Illegal(super::IllegalTransition {
                from: order.status(),
                transition: Transition::Pay,
            }));
        };
        let auth = self.authorize_pay(&order, token).await?;
        let mut paid = order.clone();
        paid.apply(Transition::Pay, now)?;
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
        self.capture(paid, &auth, WriteGroup::new(), keyed.as_ref())
            .await
    }

    /// Captures an authorization whose stock is committed, and records it
    /// together with `attach` (a checkout's last step rides in the same
    /// commit) and the receipt of a keyed call. A failed capture leaves the
    /// order paid with `captured: false` (the authorization stands; an
    /// operator can retry) rather than failing a sale whose stock is
    /// already sold; `attach` and the receipt are written then too.
    pub(crate) async fn capture(
        &self,
        mut order: Order,
        auth: &Authorization,
        attach: WriteGroup,
        keyed: Option<&KeyedCall>,
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
        if let Some(keyed) = keyed {
            keyed.record(&mut group, &order)?;
        }
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

    /// Fulfils, ships or delivers a paid order, once per Idempotency-Key.
    pub async fn advance(
        &self,
        id: &OrderId,
        step: Transition,
        key: Option<&IdempotencyKey>,
    ) -> Result<Answered<Order>, OrderError> {
        let scope = match step {
            Transition::Fulfil => "fulfil",
            Transition::Ship => "ship",
            _ => "deliver",
        };
        let digest = request_digest(&[id.as_str().as_bytes()]);
        self.idempotency
            .once(&self.store, scope, key, digest, |keyed| {
                self.advance_once(id, step, keyed)
            })
            .await
    }

    async fn advance_once(
        &self,
        id: &OrderId,
        step: Transition,
        keyed: Option<KeyedCall>,
    ) -> Result<Order, OrderError> {
        let _lock = self.lock(id).await;
        let mut order = self.get(id)?;
        let now = self.now();
        order.apply(step, now)?;
        let kind = match step {
            Transition::Fulfil => EventKind::OrderFulfilled,
            Transition::Ship => EventKind::OrderShipped,
            _ => EventKind::OrderDelivered,
        };
        let mut group = WriteGroup::new();
        self.put_with_event(&mut group, &order, kind, now)?;
        record(&mut group, keyed.as_ref(), &order)?;
        self.commit(group).await?;
        Ok(order)
    }

    /// Refunds `amount` (all that is left when `None`) of a paid order,
    /// once per Idempotency-Key: a refund retried after its answer was lost
    /// pays back nothing more.
    pub async fn refund(
        &self,
        id: &OrderId,
        amount: Option<Money>,
        key: Option<&IdempotencyKey>,
    ) -> Result<Answered<Order>, OrderError> {
        let asked = match amount {
            Some(m) => [
                m.amount.to_be_bytes().as_slice(),
                m.currency.as_str().as_bytes(),
            ]
            .concat(),
            None => b"all".to_vec(),
        };
        let digest = request_digest(&[id.as_str().as_bytes(), &asked]);
        self.idempotency
            .once(&self.store, "refund", key, digest, |keyed| {
                self.refund_once(id, amount, keyed)
            })
            .await
    }

    async fn refund_once(
        &self,
        id: &OrderId,
        amount: Option<Money>,
        keyed: Option<KeyedCall>,
    ) -> Result<Order, OrderError> {
        let _lock = self.lock(id).await;
        let mut order = self.get(id)?;
        let now = self.now();
        // Whether a refund is possible at all comes first (409), then how much.
        order.status().after(Transition::Refund { full: false })?;
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
        order.apply(Transition::Refund { full }, now)?;
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
        let mut group = WriteGroup::new();
        self.put_with_event(&mut group, &order, EventKind::OrderRefunded, now)?;
        record(&mut group, keyed.as_ref(), &order)?;
        self.commit(group).await?;
        Ok(order)
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

    /// One page of at most `limit` orders in id order after the cursor
    /// `after` (any text: the page starts after it), optionally of one
    /// status.
    pub fn list(
        &self,
        status: Option<OrderStatus>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        // One more than asked tells whether another page exists.
        let mut orders = self.store.scan_page::<Order>(
            keys::ORDER,
            after.map(str::as_bytes),
            limit.saturating_add(1),
            |o| status.is_none_or(|s| o.status() == s),
        )?;
        let next_cursor = if orders.len() > limit {
            orders.truncate(limit);
            orders.last().map(|o| o.id.clone())
        } else {
            None
        };
        Ok(Page {
            orders,
            next_cursor,
        })
    }
}

/// A page of orders and where the next one starts.
#[derive(Debug)]
pub struct Page {
    pub orders: Vec<Order>,
    /// The cursor of the next page: the last order's id; `None` on the last
    /// page.
    pub next_cursor: Option<OrderId>,
}

/// Puts the receipt of a keyed call answering `order` in `group`.
pub(super) fn record(
    group: &mut WriteGroup,
    keyed: Option<&KeyedCall>,
    order: &Order,
) -> Result<(), StoreError> {
    match keyed {
        Some(keyed) => keyed.record(group, order),
        None => Ok(()),
    }
}

/// The reference an order keeps of its authorization.
pub fn payment_ref(auth: &Authorization, token: &PaymentToken) -> PaymentRef {
    PaymentRef {
        gateway: auth.gateway.clone(),
        authorization_id: auth.id.clone(),
        token: token.clone(),
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
