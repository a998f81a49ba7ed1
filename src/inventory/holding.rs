//! Holds taken by carts and orders, as the SKU actor handles them: take (or
//! resize) a hold, release it, sell it (reserved -> sold), and return sold
//! units (a cancelled order). Each writes the SKU's records and the caller's
//! `attach`ed writes (its cart, order, saga step, events) in one group, so a
//! stock move and the record that explains it become durable together or not
//! at all.
//!
//! When a change cannot be queued, the actor marks itself poisoned: memory is
//! ahead of disk, and the next message reloads the SKU from the store before
//! anything else runs.

use super::error::InventoryError;
use super::persist;
use super::sku::{Hold, Levels};
use super::sku_actor::{Reply, SkuActor};
use crate::clock::Millis;
use crate::domain::{CustomerId, HoldId};
use crate::events::EventKind;
use crate::store::{StoreError, WriteGroup};
use actix::prelude::*;
use serde_json::json;
use std::sync::atomic::Ordering;

/// Sets `holder`'s hold to `quantity` units until `expires_at`, taking it if
/// the holder has none (or only a lapsed one).
#[derive(Debug, Clone)]
pub struct TakeHold {
    pub holder: HoldId,
    pub customer: Option<CustomerId>,
    pub quantity: u64,
    pub expires_at: Millis,
    pub attach: WriteGroup,
}

impl SkuActor {
    pub(super) fn take_hold(&mut self, req: TakeHold, reply: Reply<Hold>, ctx: &mut Context<Self>) {
        let now = self.env.clock.now_ms();
        if self
            .state
            .hold_of(&req.holder)
            .is_some_and(|h| h.expires_at <= now)
        {
            // A lapsed hold is expired (and its expiry written) first, so
            // taking it again starts from a clean slate.
            self.on_timer(ctx);
        }
        let was = self.state.levels().available;
        let result = if self.state.hold_of(&req.holder).is_some() {
            self.state
                .resize(&req.holder, req.quantity, req.expires_at, now)
        } else {
            self.state.hold(
                req.holder.clone(),
                req.customer,
                req.quantity,
                req.expires_at,
                now,
            )
        };
        if let Err(e) = result {
            let _ = reply.send(Err(e.into()));
            return;
        }
        let hold = self.state.hold_of(&req.holder).cloned();
        let written = hold.ok_or(StoreError::Closed).and_then(|hold| {
            let place = self.pages.put(&hold);
            let mut group = self.change_group(was, now)?;
            self.pages
                .write(&mut group, &self.sku, &self.state, &req.holder, place)?;
            group.append(req.attach);
            Ok((group, hold))
        });
        self.finish(written, reply);
        self.schedule(ctx);
    }

    pub(super) fn release_hold(
        &mut self,
        holder: HoldId,
        attach: WriteGroup,
        reply: Reply<Hold>,
        ctx: &mut Context<Self>,
    ) {
        let now = self.env.clock.now_ms();
        let was = self.state.levels().available;
        let hold = match self.state.release(&holder) {
            Ok(hold) => hold,
            Err(e) => return drop(reply.send(Err(e.into()))),
        };
        let place = self.pages.remove(&holder);
        let written = self.change_group(was, now).and_then(|mut group| {
            self.pages
                .write(&mut group, &self.sku, &self.state, &holder, place)?;
            group.append(attach);
            Ok((group, hold))
        });
        self.finish(written, reply);
        self.schedule(ctx);
    }

    /// Sells a live hold. A lapsed one is refused (`HoldExpired`) and left for
    /// the expiry, which also expires its order.
    pub(super) fn sell_hold(
        &mut self,
        holder: HoldId,
        attach: WriteGroup,
        reply: Reply<Hold>,
        ctx: &mut Context<Self>,
    ) {
        let now = self.env.clock.now_ms();
        let was = self.state.levels().available;
        let hold = match self.state.commit(&holder, now) {
            Ok(hold) => hold,
            Err(e) => return drop(reply.send(Err(e.into()))),
        };
        let place = self.pages.remove(&holder);
        let written = self.change_group(was, now).and_then(|mut group| {
            self.pages
                .write(&mut group, &self.sku, &self.state, &holder, place)?;
            persist::put_sold(&mut group, &self.sku, &self.state, hold.customer.as_ref())?;
            group.append(attach);
            Ok((group, hold))
        });
        self.finish(written, reply);
        self.schedule(ctx);
    }

    /// Returns `quantity` sold units to available (a cancelled order).
    pub(super) fn unsell(
        &mut self,
        customer: Option<CustomerId>,
        quantity: u64,
        attach: WriteGroup,
        reply: Reply<Levels>,
    ) {
        let now = self.env.clock.now_ms();
        let was = self.state.levels().available;
        let levels = match self.state.unsell(customer.as_ref(), quantity) {
            Ok(levels) => levels,
            Err(e) => return drop(reply.send(Err(e.into()))),
        };
        let written = self.change_group(was, now).and_then(|mut group| {
            persist::put_sold(&mut group, &self.sku, &self.state, customer.as_ref())?;
            group.append(attach);
            Ok((group, levels))
        });
        self.finish(written, reply);
    }

    /// The SKU's record plus the stock events of a change from `was` units
    /// available to what is available now.
    pub(super) fn change_group(&self, was: u64, now: Millis) -> Result<WriteGroup, StoreError> {
        let mut group = self.record_group()?;
        self.stock_events(&mut group, was, now)?;
        Ok(group)
    }

    pub(super) fn stock_events(
        &self,
        group: &mut WriteGroup,
        was: u64,
        now: Millis,
    ) -> Result<(), StoreError> {
        let levels = self.state.levels();
        let outbox = &self.env.outbox;
        // Most of the time nobody listens: skip building the event at all.
        if !outbox.wants(EventKind::StockChanged) && !outbox.wants(EventKind::StockSoldOut) {
            return Ok(());
        }
        let data = json!({
            "sku": self.sku,
            "available": levels.available,
            "reserved": levels.reserved,
            "sold": levels.sold,
            "stocked": levels.stocked,
        });
        outbox.record(group, EventKind::StockChanged, &data, now)?;
        if levels.available == 0 && was > 0 {
            outbox.record(
                group,
                EventKind::StockSoldOut,
                &json!({ "sku": self.sku }),
                now,
            )?;
        }
        Ok(())
    }

    /// Queues `written`; the caller's reply comes once it is durable. A change
    /// that cannot be queued poisons the actor (memory is ahead of disk) so
    /// the next message reloads the SKU first.
    fn finish<T: Send + 'static>(
        &mut self,
        written: Result<(WriteGroup, T), StoreError>,
        reply: Reply<T>,
    ) {
        let queued = match written {
            Ok((group, value)) => self.submit(group, reply, value),
            Err(e) => {
                let _ = reply.send(Err(InventoryError::from(e)));
                false
            }
        };
        if queued {
            self.env.outbox.poke();
        } else {
            self.poisoned.store(true, Ordering::Release);
        }
        self.publish();
    }
}
