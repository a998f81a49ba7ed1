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
//! - A checkout waiting for the customer's action (3-D Secure) is left
//!   waiting: nothing of it was interrupted.

use super::{CheckoutRecord, CheckoutStep};
use crate::domain::{CartId, OrderId};
use crate::inventory::{sell_offline, Availability};
use crate::order::{Order, Orders};
use crate::store::{keys, StoreError, WriteGroup};

/// How recovery settles the cart of an interrupted checkout, in the same
/// commit as the checkout's end. Implemented by the cart module.
pub trait CheckoutCarts {
    /// Adds the cart reopened (`None`) or checked out as `order` to `group`;
    /// nothing if the cart is gone.
    fn settle(
        &self,
        group: &mut WriteGroup,
        cart: &CartId,
        order: Option<&OrderId>,
    ) -> Result<(), StoreError>;
}

/// What recovery did, for the start-up log.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Recovered {
    pub checkouts_finished: usize,
    pub checkouts_compensated: usize,
    pub cancellations_finished: usize,
}

/// Recovers checkouts; must run before any SKU actor is activated.
pub async fn checkouts(
    orders: &Orders,
    availability: &Availability,
    carts: &dyn CheckoutCarts,
) -> anyhow::Result<Recovered> {
    let mut done = Recovered::default();
    let records: Vec<(Vec<u8>, CheckoutRecord)> = orders.store.scan(keys::CHECKOUT)?;
    for (_, record) in records {
        let id = record.order.id.clone();
        match &record.step {
            CheckoutStep::Authorized { sold, .. } if *sold > 0 => {
                finish(orders, availability, carts, record).await?;
                done.checkouts_finished += 1;
            }
            // Waiting for the customer is not an interruption: the
            // provider's webhook or the customer resumes it as before.
            CheckoutStep::AwaitingAction { .. } => continue,
            step => {
                if let CheckoutStep::Authorized { auth, .. } = step {
                    orders.void(&id, auth).await;
                }
                let mut group = WriteGroup::new();
                group.remove(keys::checkout(id.as_str()));
                carts.settle(&mut group, &record.cart_id, None)?;
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
    carts: &dyn CheckoutCarts,
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
                return cancel(orders, carts, record.order, &record.cart_id, index).await;
            }
        }
    }
    let mut finish = WriteGroup::new();
    finish.remove(keys::checkout(record.order.id.as_str()));
    carts.settle(&mut finish, &record.cart_id, Some(&record.order.id))?;
    orders.capture(record.order, &auth, finish, None).await?;
    Ok(())
}

/// Cancels a recovered order whose first `sold` lines were sold.
async fn cancel(
    orders: &Orders,
    carts: &dyn CheckoutCarts,
    mut order: Order,
    cart: &CartId,
    sold: usize,
) -> anyhow::Result<()> {
    let mut group = WriteGroup::new();
    orders.record_cancellation(&mut group, &mut order, (0..sold).collect(), true)?;
    group.remove(keys::checkout(order.id.as_str()));
    carts.settle(&mut group, cart, None)?;
    // The stock returns through `cancellations`, once actors may run.
    orders.commit(group).await?;
    Ok(())
}
