//! The checkout steps, run by the cart's actor (see the module docs).

use crate::cart::{Cart, CartActor, CartError, CartState};
use crate::catalog::SkuStatus;
use crate::clock::Millis;
use crate::domain::{CartId, Money, OrderId, Sku};
use crate::events::EventKind;
use crate::inventory::{InventoryError, SkuError, TakeHold};
use crate::order::{self, payment_ref, Cancellation, Order, OrderLine, OrderStatus};
use crate::payment::{Authorization, PaymentToken};
use crate::store::{keys, WriteGroup};
use serde::{Deserialize, Serialize};

/// A checkout as the client asked for it.
#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    /// Derived from the Idempotency-Key: a retry finds the same order.
    pub order_id: OrderId,
    pub request_digest: [u8; 32],
    pub email: String,
    /// A JSON object, as text.
    pub shipping_address: Option<String>,
    pub payment_token: PaymentToken,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckoutStep {
    /// Recorded; holds being extended; no payment yet.
    Started,
    /// The payment is authorized; `sold` lines of the order are sold.
    Authorized { auth: Authorization, sold: usize },
}

/// The durable state of one checkout, under `checkout/<order id>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutRecord {
    pub order: Order,
    pub cart_id: CartId,
    pub token: String,
    pub step: CheckoutStep,
}

/// Runs a checkout of the actor's cart. `true` when the order existed (a
/// retried request).
pub async fn run(actor: &mut CartActor, req: CheckoutRequest) -> Result<(Order, bool), CartError> {
    let env = actor.env.clone();
    if let Some(existing) = order::get(&env.store, &req.order_id)? {
        if existing.request_digest != req.request_digest
            || existing.cart_id.as_deref() != Some(actor.cart.id.as_str())
        {
            return Err(CartError::KeyReused);
        }
        return Ok((existing, true));
    }
    match &actor.cart.state {
        CartState::Open => {}
        CartState::CheckingOut(_) => return Err(CartError::CheckoutInProgress),
        CartState::CheckedOut(order) => return Err(CartError::CheckedOut(order.to_string())),
    }
    let now = env.clock.now_ms();
    let order = price(actor, &req, now)?;
    let mut record = CheckoutRecord {
        order,
        cart_id: actor.cart.id.clone(),
        token: req.payment_token.as_str().to_owned(),
        step: CheckoutStep::Started,
    };
    let started = actor.cart.clone();
    actor.cart.state = CartState::CheckingOut(req.order_id.clone());
    // The saga's first durable step rides with the first hold extension:
    // one commit round instead of two.
    let begun = cart_group(actor, Some(&record))?;
    if let Err(e) = extend_holds(actor, now, begun).await {
        reopen(actor, started, &record.order.id).await;
        return Err(e);
    }
    let auth = match env
        .orders
        .payments
        .authorize(
            &format!("checkout:{}", req.order_id),
            &req.payment_token,
            record.order.total,
        )
        .await
    {
        Ok(auth) => auth,
        Err(e) => {
            metrics::counter!("surge_checkouts_total", "outcome" => e.code()).increment(1);
            reopen(actor, started, &record.order.id).await;
            return Err(e.into());
        }
    };
    record.order.payment = Some(payment_ref(&auth, &req.payment_token));
    record.step = CheckoutStep::Authorized {
        auth: auth.clone(),
        sold: 0,
    };
    if let Err(e) = write(actor, Some(&record)).await {
        env.orders.void(&req.order_id, &auth).await;
        reopen(actor, started, &record.order.id).await;
        return Err(e);
    }
    if let Err((sold, e)) = sell_lines(actor, &mut record).await {
        metrics::counter!("surge_checkouts_total", "outcome" => "stock-lost").increment(1);
        undo_sold(actor, started, record, sold).await;
        return Err(e);
    }
    // The last step (cart checked out, saga record gone) rides with the
    // capture's commit.
    actor.cart.state = CartState::CheckedOut(record.order.id.clone());
    actor.cart.updated_at = env.clock.now_ms();
    let finished = cart_group(actor, None)?;
    let order = env
        .orders
        .capture(record.order.clone(), &auth, finished)
        .await?;
    metrics::counter!("surge_checkouts_total", "outcome" => "paid").increment(1);
    Ok((order, false))
}

/// The order the cart would become: every line must hold stock and still be
/// sold, at today's catalog price, in the cart's currency.
fn price(actor: &CartActor, req: &CheckoutRequest, now: Millis) -> Result<Order, CartError> {
    let cart = &actor.cart;
    if cart.lines.is_empty() {
        return Err(CartError::Empty);
    }
    let snapshot = actor.env.catalog.snapshot();
    let mut unavailable: Vec<Sku> = Vec::new();
    let mut lines = Vec::with_capacity(cart.lines.len());
    let mut total = Money {
        amount: 0,
        currency: cart.currency,
    };
    for line in &cart.lines {
        let price = match snapshot.sku(&line.sku) {
            Some(SkuStatus::Listed(_, variant)) if line.unavailable.is_none() => variant.price,
            _ => {
                unavailable.push(line.sku.clone());
                continue;
            }
        };
        let line_total = price
            .times(line.quantity)
            .filter(|t| t.currency == cart.currency);
        let Some((line_total, sum)) = line_total.and_then(|t| Some((t, total.plus(t)?))) else {
            unavailable.push(line.sku.clone());
            continue;
        };
        total = sum;
        lines.push(OrderLine {
            sku: line.sku.clone(),
            product_id: line.product_id.clone(),
            quantity: line.quantity,
            unit_price: price,
            line_total,
        });
    }
    if !unavailable.is_empty() {
        return Err(CartError::LinesUnavailable(unavailable));
    }
    Ok(Order {
        id: req.order_id.clone(),
        status: OrderStatus::Paid,
        customer_id: cart.customer_id.clone(),
        lines,
        total,
        created_at: now,
        expires_at: None,
        request_digest: req.request_digest,
        email: Some(req.email.clone()),
        shipping_address: req.shipping_address.clone(),
        payment: None,
        cart_id: Some(cart.id.to_string()),
        updated_at: now,
    })
}

/// Makes every line's hold last the checkout out, re-taking a lapsed hold
/// when stock allows. A hold that already lasts that long is left alone:
/// taking it again would cost a commit round and could only cut it short,
/// and a checkout that fails puts the cart back with its lines' expiries,
/// which the holds must still honour. `first` (the saga's first record) is
/// written with the first hold taken, or on its own if none is.
async fn extend_holds(actor: &CartActor, now: Millis, first: WriteGroup) -> Result<(), CartError> {
    let env = &actor.env;
    let until = now.saturating_add(env.settings.checkout_hold_secs.saturating_mul(1000));
    let mut first = Some(first);
    for line in actor
        .cart
        .lines
        .iter()
        .filter(|l| l.hold_expires_at < until)
    {
        let take = TakeHold {
            holder: actor.cart.id.hold(),
            customer: actor.cart.customer_id.clone(),
            quantity: line.quantity,
            expires_at: until,
            attach: first.take().unwrap_or_default(),
        };
        env.inventory.take_hold(&line.sku, take).await?;
    }
    if let Some(first) = first {
        env.store.commit(first).await?;
    }
    Ok(())
}

/// Sells each line's hold in turn. Each sale writes the order and the
/// checkout's progress with it; the first also records the order's events.
/// On failure, how many lines were sold.
async fn sell_lines(
    actor: &CartActor,
    record: &mut CheckoutRecord,
) -> Result<(), (usize, CartError)> {
    let env = &actor.env;
    let holder = actor.cart.id.hold();
    let lines = record.order.lines.clone();
    for (index, line) in lines.iter().enumerate() {
        let CheckoutStep::Authorized { sold, .. } = &mut record.step else {
            return Err((index, CartError::CheckoutInProgress));
        };
        *sold = index + 1;
        let attach = (|| {
            let mut attach = WriteGroup::new();
            if index == 0 {
                let now = record.order.created_at;
                env.orders.put_with_event(
                    &mut attach,
                    &record.order,
                    EventKind::OrderCreated,
                    now,
                )?;
                env.orders
                    .put_with_event(&mut attach, &record.order, EventKind::OrderPaid, now)?;
            }
            attach.put(keys::checkout(record.order.id.as_str()), &*record)?;
            Ok::<_, crate::store::StoreError>(attach)
        })()
        .map_err(|e| (index, e.into()))?;
        match env.inventory.sell_hold(&line.sku, &holder, attach).await {
            Ok(_) => {}
            Err(InventoryError::Refused(SkuError::HoldExpired(_) | SkuError::UnknownHold(_))) => {
                return Err((index, CartError::LinesUnavailable(vec![line.sku.clone()])))
            }
            Err(e) => return Err((index, e.into())),
        }
    }
    env.orders.outbox.poke();
    Ok(())
}

/// Compensates a checkout that sold `sold` lines before failing: with none
/// sold, the authorization is voided and the cart reopens; otherwise the
/// order is cancelled (its sold lines return, the payment is voided).
async fn undo_sold(actor: &mut CartActor, started: Cart, record: CheckoutRecord, sold: usize) {
    let env = actor.env.clone();
    let CheckoutStep::Authorized { auth, .. } = &record.step else {
        return;
    };
    if sold == 0 {
        env.orders.void(&record.order.id, auth).await;
        reopen(actor, started, &record.order.id).await;
        return;
    }
    let mut order = record.order.clone();
    order.status = OrderStatus::Cancelled;
    order.updated_at = env.clock.now_ms();
    let cancellation = Cancellation {
        order_id: order.id.clone(),
        lines: (0..sold).collect(),
        return_payment: true,
    };
    let written = (|| {
        let mut group = WriteGroup::new();
        env.orders.put_with_event(
            &mut group,
            &order,
            EventKind::OrderCancelled,
            order.updated_at,
        )?;
        group.put(keys::cancellation(order.id.as_str()), &cancellation)?;
        group.remove(keys::checkout(order.id.as_str()));
        let mut cart = started.clone();
        cart.updated_at = order.updated_at;
        group.put(keys::cart(cart.id.as_str()), &cart)?;
        Ok::<_, crate::store::StoreError>(group)
    })();
    let committed = match written {
        Ok(group) => env.orders.commit(group).await,
        Err(e) => Err(e),
    };
    match committed {
        Ok(()) => {
            actor.cart = started;
            if let Err(e) = env.orders.finish_cancellation(order, cancellation).await {
                tracing::error!(error = %e, "returning the stock of a failed checkout; start-up will finish it");
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "recording a failed checkout; start-up will finish it")
        }
    }
}

/// Puts the cart back as it was before the checkout and drops the record.
async fn reopen(actor: &mut CartActor, started: Cart, order: &OrderId) {
    actor.cart = started;
    let mut group = WriteGroup::new();
    group.remove(keys::checkout(order.as_str()));
    let result = match group.put(keys::cart(actor.cart.id.as_str()), &actor.cart) {
        Ok(()) => actor.env.store.commit(group).await,
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        // The store refuses writes from here on; start-up reopens the cart.
        tracing::error!(cart = %actor.cart.id, error = %e, "reopening a cart after a failed checkout");
    }
}

/// The cart with the checkout record, or (when `record` is `None`, at the
/// end) with the record removed.
fn cart_group(actor: &CartActor, record: Option<&CheckoutRecord>) -> Result<WriteGroup, CartError> {
    let mut group = WriteGroup::new();
    group.put(keys::cart(actor.cart.id.as_str()), &actor.cart)?;
    match (record, &actor.cart.state) {
        (Some(record), _) => group.put(keys::checkout(record.order.id.as_str()), record)?,
        (None, CartState::CheckedOut(id)) => group.remove(keys::checkout(id.as_str())),
        (None, _) => {}
    }
    Ok(group)
}

/// Writes [`cart_group`] on its own.
async fn write(actor: &CartActor, record: Option<&CheckoutRecord>) -> Result<(), CartError> {
    let group = cart_group(actor, record)?;
    actor.env.store.commit(group).await?;
    Ok(())
}
