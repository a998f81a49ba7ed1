//! Unpaid orders lapse with their hold. Inventory owns the hold and its
//! timer, and calls back through [`LapsedHolds`] so that the order's expiry
//! is written in the same commit as its stock's return, without inventory
//! knowing what an order is.

use super::{event_data, Order, OrderStatus, Transition};
use crate::clock::Millis;
use crate::events::{EventKind, Outbox};
use crate::inventory::{Hold, LapsedHolds};
use crate::store::{keys, Store, StoreError, WriteGroup};

/// Expires the order awaiting payment that a lapsed hold belonged to.
pub struct UnpaidOrders {
    store: Store,
    outbox: Outbox,
}

impl UnpaidOrders {
    pub fn new(store: Store, outbox: Outbox) -> Self {
        Self { store, outbox }
    }
}

impl LapsedHolds for UnpaidOrders {
    fn lapsed(&self, hold: &Hold, group: &mut WriteGroup, now: Millis) -> Result<(), StoreError> {
        // Cart holds have no order; their key finds nothing.
        let key = keys::order(hold.holder.as_str());
        match self.store.get::<Order>(&key) {
            Ok(Some(mut order)) if order.status() == OrderStatus::AwaitingPayment => {
                if order.apply(Transition::Expire, now).is_ok() {
                    group.put(key, &order)?;
                    let data = event_data(&order);
                    self.outbox
                        .record(group, EventKind::OrderExpired, &data, now)?;
                }
                Ok(())
            }
            Ok(_) => Ok(()),
            // The stock must come back even if its order is unreadable.
            Err(e) => {
                tracing::error!(holder = %hold.holder, error = %e, "order of an expired hold is unreadable");
                Ok(())
            }
        }
    }
}
