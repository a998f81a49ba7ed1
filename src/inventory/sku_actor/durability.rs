//! How a SKU actor's changes become durable: what a change writes (the SKU's
//! record, its stock events), handing it to the committer, and the one
//! failure path. A change is applied in memory before it is written; when it
//! cannot be queued (the committer is full or failed) or fails on disk, the
//! actor is poisoned: memory is ahead of disk. A poisoned actor publishes
//! nothing (readers keep the last good count: a failed purchase of the last
//! unit must not make the SKU look sold out), takes no other work, and
//! reloads the SKU from the store as soon as its commits in flight are done,
//! on the next message or on a short timer, whichever comes first.

use super::{Change, SkuActor};
use crate::clock::Millis;
use crate::events::EventKind;
use crate::inventory::error::InventoryError;
use crate::inventory::persist;
use crate::store::{Completion, StoreError, WriteGroup};
use actix::prelude::*;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// How soon a poisoned actor tries to reload (again, while commits are in
/// flight or the store cannot be read).
const RELOAD_RETRY: Duration = Duration::from_millis(10);

impl SkuActor {
    /// Whether the actor may take work: not retired, and memory not ahead of
    /// a failed disk write (reloading first when it is safe to).
    pub(super) fn ready(&mut self, ctx: &mut Context<Self>) -> Result<(), InventoryError> {
        if self.retired {
            return Err(InventoryError::Passivated);
        }
        if self.reload_if_poisoned()? {
            self.schedule(ctx);
        }
        Ok(())
    }

    /// After a failed change, memory may be ahead of disk: once nothing is in
    /// flight, reload from the store. `Ok(true)` if it reloaded.
    pub(super) fn reload_if_poisoned(&mut self) -> Result<bool, InventoryError> {
        if !self.poisoned.load(Ordering::Acquire) {
            return Ok(false);
        }
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return Err(InventoryError::Busy(self.sku.clone()));
        }
        let loaded = persist::load(&self.env.store, &self.sku)?
            .ok_or_else(|| InventoryError::UnknownSku(self.sku.clone()))?;
        tracing::warn!(sku = %self.sku, "reloaded from the store after a failed commit");
        (self.state, self.pages) = (loaded.state, loaded.pages);
        self.poisoned.store(false, Ordering::Release);
        self.publish();
        Ok(true)
    }

    /// Queues a change; `then` gets its answer once it is durable (or the
    /// error). A change that cannot be queued poisons the actor. Returns
    /// whether it was queued.
    pub(super) fn commit<T: Send + 'static>(
        &mut self,
        change: Change<T>,
        then: impl FnOnce(Result<T, InventoryError>) + Send + 'static,
        ctx: &mut Context<Self>,
    ) -> bool {
        let Change { written, answer } = change;
        let queued = match written {
            Ok(group) => {
                let done = self.completion(move |result| {
                    then(result.map(|()| answer).map_err(InventoryError::from));
                });
                self.env.store.committer().submit_with(group, done).is_ok()
            }
            Err(e) => {
                then(Err(e.into()));
                false
            }
        };
        if queued {
            self.env.outbox.poke();
        } else {
            self.poisoned.store(true, Ordering::Release);
            self.reload_soon(ctx);
        }
        queued
    }

    /// Tries to reload shortly, and again until the poisoned state is gone.
    fn reload_soon(&mut self, ctx: &mut Context<Self>) {
        if self.reload_armed {
            return;
        }
        self.reload_armed = true;
        ctx.run_later(RELOAD_RETRY, |act, ctx| {
            act.reload_armed = false;
            match act.reload_if_poisoned() {
                Ok(true) => act.schedule(ctx),
                Ok(false) => {}
                Err(_) => act.reload_soon(ctx),
            }
        });
    }

    /// Wraps `then` with the bookkeeping of commits in flight; a commit that
    /// failed on disk poisons the actor.
    pub(super) fn completion(
        &self,
        then: impl FnOnce(Result<(), StoreError>) + Send + 'static,
    ) -> Completion {
        let in_flight = self.in_flight.clone();
        let poisoned = self.poisoned.clone();
        in_flight.fetch_add(1, Ordering::AcqRel);
        Box::new(move |result: Result<(), StoreError>| {
            if matches!(result, Err(StoreError::Io(_) | StoreError::Corrupt { .. })) {
                poisoned.store(true, Ordering::Release);
            }
            in_flight.fetch_sub(1, Ordering::AcqRel);
            then(result);
        })
    }

    /// Stores the available count where readers look, announcing a change;
    /// nothing while memory may be ahead of disk.
    pub(super) fn publish(&self) {
        if self.poisoned.load(Ordering::Acquire) {
            return;
        }
        let available = self.state.levels().available;
        let previous = self.published.swap(available, Ordering::AcqRel);
        if previous != available {
            self.env
                .availability
                .announce(&self.sku, Some(previous), available);
        }
    }

    /// A write group holding the SKU's hot record.
    pub(super) fn record_group(&self) -> Result<WriteGroup, StoreError> {
        let mut group = WriteGroup::new();
        persist::put_record(&mut group, &self.sku, &self.state)?;
        Ok(group)
    }

    /// The SKU's record plus the stock events of a change from `was` units
    /// available to what is available now.
    pub(super) fn change_group(&self, was: u64, now: Millis) -> Result<WriteGroup, StoreError> {
        let mut group = self.record_group()?;
        self.stock_events(&mut group, was, now)?;
        Ok(group)
    }

    fn stock_events(
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
}
