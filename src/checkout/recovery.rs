//! Start-up recovery: finishes or compensates every checkout and every
//! cancellation a crash interrupted. It runs after the store opens and
//! before any SKU actor starts (so no expiry can take a hold a paid checkout
//! still needs) and before the HTTP server listens.
//!
//! - A checkout that sold no line yet is compensated: its authorization is
//!   voided, its cart reopens; its holds stay until their TTL.
//! - A checkout that sold some lines is finished: the remaining holds are
//!   sold (whatever their expiry: the sale was decided), the payment
//!   captured, the cart marked checked out. A line whose hold is gone cannot
//!   be sold; the order is then cancelled and its sold lines return.
//! - A cancellation returns its remaining lines and its payment.

use super::{CheckoutRecord, CheckoutStep};
use crate::cart::{Cart, CartState};
use crate::domain::CartId;
use crate::events::EventKind;
use crate::inventory::{sell_offline, Availability};
use crate::order::{Cancellation, Order, OrderStatus, Orders};
use crate::store::{keys, StoreError, WriteGroup};

/// What recovery did, for the start-up log.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Recovered {
    pub checkouts_finished: usize,
    pub checkouts_compensated: usize,
    pub cancellations_finished: usize,
}

/// Recovers checkouts; must run before any SKU actor is activated.
pub async fn checkouts(orders: &Orders, availability: &Availability) -> anyhow::Result<Recovered> {
    let mut done = Recovered::default();
    let records: Vec<(Vec<u8>, CheckoutRecord)> = orders.store.scan(keys::CHECKOUT)?;
    for (_, record) in records {
        let id = record.order.id.clone();
        match &record.step {
            CheckoutStep::Authorized { sold, .. } if *sold > 0 => {
                finish(orders, availability, record).await?;
                done.checkouts_finished += 1;
            }
            step => {
                if let CheckoutStep::Authorized { auth, .. } = step {
                    orders.void(&id, auth).await;
                }
                let mut group = WriteGroup::new();
                group.remove(keys::checkout(id.as_str()));
                set_cart_state(orders, &mut group, &record.cart_id, CartState::Open)?;
                orders.commit(group).await?;
                done.checkouts_compensated += 1;
            }
        }
        tracing::warn!(order = %id, "recovered an interrupted checkout");
    }
    Ok(done)
}

/// Finishes the cancellations a crash interrupted (through the SKU actors).
pub async fn cancellations(orders: &Orders) -> anyhow::Result<usize> {
    Ok(orders.resume_cancellations().await?)
}

async fn finish(
    orders: &Orders,
    availability: &Availability,
    mut record: CheckoutRecord,
) -> anyhow::Result<()> {
    let CheckoutStep::Authorized { auth, sold } = record.step.clone() else {
        return Ok(());
    };
    let holder = record.cart_id.hold();
    let lines = record.order.lines.clone();
    for (index, line) in lines.iter().enumerate().skip(sold) {
        record.step = CheckoutStep::Authorized {
            auth: auth.clone(),
            sold: index + 1,
        };
        let mut attach = WriteGroup::new();
        attach.put(keys::checkout(record.order.id.as_str()), &record)?;
        match sell_offline(&orders.store, &line.sku, &holder, attach).await? {
            Some(levels) => availability.publish(&line.sku, levels.available),
            None => {
                tracing::error!(order = %record.order.id, sku = %line.sku, "a paid checkout lost its hold; cancelling the order");
                return cancel(orders, record.order, index).await;
            }
        }
    }
    let mut finish = WriteGroup::new();
    finish.remove(keys::checkout(record.order.id.as_str()));
    set_cart_state(
        orders,
        &mut finish,
        &record.cart_id,
        CartState::CheckedOut(record.order.id.clone()),
    )?;
    orders.capture(record.order, &auth, finish).await?;
    Ok(())
}

/// Cancels a recovered order whose first `sold` lines were sold.
async fn cancel(orders: &Orders, mut order: Order, sold: usize) -> anyhow::Result<()> {
    order.status = OrderStatus::Cancelled;
    order.updated_at = orders.now();
    let cancellation = Cancellation {
        order_id: order.id.clone(),
        lines: (0..sold).collect(),
        return_payment: true,
    };
    let mut group = WriteGroup::new();
    orders.put_with_event(
        &mut group,
        &order,
        EventKind::OrderCancelled,
        order.updated_at,
    )?;
    group.put(keys::cancellation(order.id.as_str()), &cancellation)?;
    group.remove(keys::checkout(order.id.as_str()));
    if let Some(cart) = order.cart_id.as_deref().and_then(|c| CartId::parse(c).ok()) {
        set_cart_state(orders, &mut group, &cart, CartState::Open)?;
    }
    // The stock returns through `cancellations`, once actors may run.
    orders.commit(group).await?;
    Ok(())
}

fn set_cart_state(
    orders: &Orders,
    group: &mut WriteGroup,
    cart: &CartId,
    state: CartState,
) -> Result<(), StoreError> {
    let key = keys::cart(cart.as_str());
    if let Some(mut cart) = orders.store.get::<Cart>(&key)? {
        cart.state = state;
        cart.updated_at = orders.now();
        group.put(key, &cart)?;
    }
    Ok(())
}
