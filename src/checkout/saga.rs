//! The checkout steps (see the module docs). The saga knows orders, stock
//! and payments, not carts: the cart actor hands it a [`CheckoutPlan`] with
//! the cart's own records at each end ([`CartWrites`]), which the saga
//! writes in the same commits as its steps, and learns from the
//! [`Outcome`] where its cart now stands.

use super::CheckoutError;
use crate::clock::Millis;
use crate::domain::{CartId, CustomerId, Email, OrderId, ShippingAddress, Sku};
use crate::events::EventKind;
use crate::inventory::{InventoryError, SkuError, TakeHold};
use crate::order::{payment_ref, Order, Orders};
use crate::payment::{Authorization, PaymentError, PaymentToken, PendingAction};
use crate::store::{keys, StoreError, WriteGroup};
use serde::{Deserialize, Serialize};

/// A checkout as the client asked for it, with the order id and digest its
/// Idempotency-Key and content make (built by `Carts::checkout`).
#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    /// Derived from the Idempotency-Key: a retry finds the same order.
    pub order_id: OrderId,
    pub request_digest: [u8; 32],
    pub email: Email,
    pub shipping_address: Option<ShippingAddress>,
    pub payment_token: PaymentToken,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckoutStep {
    /// Recorded; holds being extended; no payment yet.
    Started,
    /// The payment is authorized; `sold` lines of the order are sold.
    Authorized { auth: Authorization, sold: usize },
    /// The payment waits for the customer (3-D Secure); nothing is sold,
    /// the cart stays frozen with its holds. The provider's webhook, a
    /// retry of the checkout or a `pay` of the order resumes it
    /// ([`Checkouts::resume`]).
    AwaitingAction { pending: PendingAction },
}

/// The durable state of one checkout, under `checkout/<order id>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutRecord {
    pub order: Order,
    pub cart_id: CartId,
    pub token: PaymentToken,
    pub step: CheckoutStep,
}

/// A line's hold as the cart knows it.
#[derive(Debug, Clone)]
pub struct LineHold {
    pub sku: Sku,
    pub quantity: u64,
    pub expires_at: Millis,
}

/// The cart's record at each end of a checkout, written by the saga with
/// its steps: frozen (checking out) with the first step, reopened with a
/// compensation, checked out with the last step.
pub struct CartWrites {
    pub frozen: WriteGroup,
    pub reopened: WriteGroup,
    pub checked_out: WriteGroup,
}

/// A checkout ready to run.
pub struct CheckoutPlan {
    /// The priced order (status paid: see `Order::checkout`).
    pub order: Order,
    pub cart_id: CartId,
    pub customer: Option<CustomerId>,
    pub holds: Vec<LineHold>,
    pub token: PaymentToken,
    pub cart: CartWrites,
}

/// Where the cart stands after a checkout, as far as memory should know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CartAfter {
    /// Open again, as before the checkout.
    Reopened,
    CheckedOut,
    /// Still checking out: a compensation could not be recorded; start-up
    /// recovery settles it.
    Frozen,
}

pub struct Outcome {
    pub result: Result<Order, CheckoutError>,
    pub cart: CartAfter,
}

impl Outcome {
    pub(super) fn failed(e: impl Into<CheckoutError>, cart: CartAfter) -> Self {
        Self {
            result: Err(e.into()),
            cart,
        }
    }
}

/// Runs checkouts: the saga's steps and compensations.
#[derive(Clone)]
pub struct Checkouts {
    pub(super) orders: Orders,
    /// How long every hold must still last when a checkout starts, in ms.
    pub(super) hold_ms: u64,
}

impl Checkouts {
    pub fn new(orders: Orders, checkout_hold_secs: u64) -> Self {
        Self {
            orders,
            hold_ms: checkout_hold_secs.saturating_mul(1000),
        }
    }

    /// The order a checkout with `id` made, if any (a retried request).
    pub fn existing(&self, id: &OrderId) -> Result<Option<Order>, CheckoutError> {
        Ok(crate::order::get(&self.orders.store, id)?)
    }

    /// Runs a checkout to its end or its compensation.
    pub async fn run(&self, plan: CheckoutPlan) -> Outcome {
        let CheckoutPlan {
            order,
            cart_id,
            customer,
            holds,
            token,
            cart,
        } = plan;
        let now = order.created_at;
        let mut record = CheckoutRecord {
            order,
            cart_id,
            token: token.clone(),
            step: CheckoutStep::Started,
        };
        // The saga's first durable step rides with the first hold extension:
        // one commit round instead of two.
        let CartWrites {
            frozen,
            reopened,
            checked_out,
        } = cart;
        let begun = with_record(frozen, &record);
        let extended = match begun {
            Ok(begun) => {
                self.extend_holds(&record, customer, &holds, now, begun)
                    .await
            }
            Err(e) => Err(e.into()),
        };
        if let Err(e) = extended {
            self.reopen(&record, reopened).await;
            return Outcome::failed(e, CartAfter::Reopened);
        }
        let auth = match self.authorize(&mut record, &token).await {
            Ok(auth) => auth,
            Err(CheckoutError::Payment(PaymentError::ActionRequired(pending))) => {
                return self.await_action(record, *pending, reopened).await;
            }
            Err(e) => {
                self.reopen(&record, reopened).await;
                return Outcome::failed(e, CartAfter::Reopened);
            }
        };
        let cart = CartWrites {
            frozen: WriteGroup::new(),
            reopened,
            checked_out,
        };
        self.sell_and_finish(record, auth, cart).await
    }

    /// Sells the lines of an authorized checkout and captures, or undoes
    /// what was sold.
    pub(super) async fn sell_and_finish(
        &self,
        mut record: CheckoutRecord,
        auth: Authorization,
        cart: CartWrites,
    ) -> Outcome {
        if let Err((sold, e)) = self.sell_lines(&mut record).await {
            metrics::counter!("surge_checkouts_total", "outcome" => "stock-lost").increment(1);
            let after = self.undo_sold(record, auth, sold, cart.reopened).await;
            return Outcome::failed(e, after);
        }
        self.finish(record, auth, cart.checked_out).await
    }

    /// Makes every line's hold last the checkout out, re-taking a lapsed hold
    /// when stock allows. A hold that already lasts that long is left alone:
    /// taking it again would cost a commit round and could only cut it
    /// short, and a checkout that fails puts the cart back with its lines'
    /// expiries, which the holds must still honour. `first` (the saga's
    /// first record) is written with the first hold taken, or on its own.
    async fn extend_holds(
        &self,
        record: &CheckoutRecord,
        customer: Option<CustomerId>,
        holds: &[LineHold],
        now: Millis,
        first: WriteGroup,
    ) -> Result<(), CheckoutError> {
        let until = now.saturating_add(self.hold_ms);
        let mut first = Some(first);
        for line in holds.iter().filter(|l| l.expires_at < until) {
            let take = TakeHold {
                holder: record.cart_id.hold(),
                customer: customer.clone(),
                quantity: line.quantity,
                expires_at: until,
                attach: first.take().unwrap_or_default(),
            };
            self.orders.inventory.take_hold(&line.sku, take).await?;
        }
        if let Some(first) = first {
            self.orders.store.commit(first).await?;
        }
        Ok(())
    }

    /// Authorizes the payment and records the authorization; a failure after
    /// the gateway said yes voids it.
    async fn authorize(
        &self,
        record: &mut CheckoutRecord,
        token: &PaymentToken,
    ) -> Result<Authorization, CheckoutError> {
        let id = record.order.id.clone();
        let op = format!("checkout:{id}");
        let payments = &self.orders.payments;
        let auth = match payments.authorize(&op, token, record.order.total).await {
            Ok(auth) => auth,
            Err(e) => {
                metrics::counter!("surge_checkouts_total", "outcome" => e.code()).increment(1);
                return Err(e.into());
            }
        };
        record.order.payment = Some(payment_ref(&auth, token));
        record.step = CheckoutStep::Authorized {
            auth: auth.clone(),
            sold: 0,
        };
        let written = match with_record(WriteGroup::new(), record) {
            Ok(group) => self.orders.store.commit(group).await,
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            self.orders.void(&id, &auth).await;
            return Err(e.into());
        }
        Ok(auth)
    }

    /// Sells each line's hold in turn. Each sale writes the order and the
    /// checkout's progress with it; the first also records the order's
    /// events. On failure, how many lines were sold.
    async fn sell_lines(&self, record: &mut CheckoutRecord) -> Result<(), (usize, CheckoutError)> {
        let holder = record.cart_id.hold();
        let lines = record.order.lines.clone();
        for (index, line) in lines.iter().enumerate() {
            if let CheckoutStep::Authorized { sold, .. } = &mut record.step {
                *sold = index + 1;
            }
            let attach = self
                .sale_group(record, index)
                .map_err(|e| (index, e.into()))?;
            match self
                .orders
                .inventory
                .sell_hold(&line.sku, &holder, attach)
                .await
            {
                Ok(_) => {}
                Err(InventoryError::Refused(
                    SkuError::HoldExpired(_) | SkuError::UnknownHold(_),
                )) => {
                    let lost = CheckoutError::LinesUnavailable(vec![line.sku.clone()]);
                    return Err((index, lost));
                }
                Err(e) => return Err((index, e.into())),
            }
        }
        self.orders.outbox.poke();
        Ok(())
    }

    /// What the sale of line `index` writes besides the stock: the record
    /// of progress, and with the first line the order and its events.
    fn sale_group(&self, record: &CheckoutRecord, index: usize) -> Result<WriteGroup, StoreError> {
        let mut group = WriteGroup::new();
        if index == 0 {
            let (orders, order) = (&self.orders, &record.order);
            let now = order.created_at;
            orders.put_with_event(&mut group, order, EventKind::OrderCreated, now)?;
            orders.put_with_event(&mut group, order, EventKind::OrderPaid, now)?;
        }
        with_record(group, record)
    }

    /// Captures the payment; the last step (cart checked out, record gone)
    /// rides with the capture's commit.
    async fn finish(
        &self,
        record: CheckoutRecord,
        auth: Authorization,
        cart: WriteGroup,
    ) -> Outcome {
        let mut finished = cart;
        finished.remove(keys::checkout(record.order.id.as_str()));
        let result = self
            .orders
            .capture(record.order, &auth, finished, None)
            .await;
        if let Ok(order) = &result {
            metrics::counter!("surge_checkouts_total", "outcome" => "paid").increment(1);
            crate::order::count_placed(order);
        }
        Outcome {
            result: result.map_err(CheckoutError::from),
            cart: CartAfter::CheckedOut,
        }
    }

    /// Compensates a checkout that sold `sold` lines before failing: with
    /// none sold, the authorization is voided and the cart reopens;
    /// otherwise the order is cancelled (its sold lines return, the payment
    /// is voided) with the cart reopened in the same commit.
    async fn undo_sold(
        &self,
        record: CheckoutRecord,
        auth: Authorization,
        sold: usize,
        reopened: WriteGroup,
    ) -> CartAfter {
        let orders = &self.orders;
        if sold == 0 {
            orders.void(&record.order.id, &auth).await;
            self.reopen(&record, reopened).await;
            return CartAfter::Reopened;
        }
        let mut order = record.order;
        let mut group = reopened;
        group.remove(keys::checkout(order.id.as_str()));
        let lines = (0..sold).collect();
        let recorded = orders.record_cancellation(&mut group, &mut order, lines, true);
        let committed = match recorded {
            Ok(cancellation) => orders
                .commit(group)
                .await
                .map(|()| cancellation)
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let cancellation = match committed {
            Ok(cancellation) => cancellation,
            Err(e) => {
                tracing::error!(error = %e, "recording a failed checkout; start-up will finish it");
                return CartAfter::Frozen;
            }
        };
        if let Err(e) = orders.finish_cancellation(order, cancellation, None).await {
            tracing::error!(error = %e, "returning the stock of a failed checkout; start-up will finish it");
        }
        CartAfter::Reopened
    }

    /// Writes the cart as it was before the checkout and drops the record.
    pub(super) async fn reopen(&self, record: &CheckoutRecord, reopened: WriteGroup) {
        let mut group = reopened;
        group.remove(keys::checkout(record.order.id.as_str()));
        if let Err(e) = self.orders.store.commit(group).await {
            // The store refuses writes from here on; start-up reopens the cart.
            tracing::error!(cart = %record.cart_id, error = %e, "reopening a cart after a failed checkout");
        }
    }
}

/// `group` with the checkout's record put in it.
pub(super) fn with_record(
    mut group: WriteGroup,
    record: &CheckoutRecord,
) -> Result<WriteGroup, StoreError> {
    group.put(keys::checkout(record.order.id.as_str()), record)?;
    Ok(group)
}
