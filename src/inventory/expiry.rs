//! Hold expiry, inside the SKU actor. One timer is armed for the earliest
//! hold; when it fires every lapsed hold is released and its unpaid order
//! marked expired, in one commit. If that commit cannot be queued (the
//! committer is full or failed), the holds are put back and the next attempt
//! backs off, so an overloaded store is not hammered by retries.

use super::hold_pages::Place;
use super::sku::Hold;
use super::sku_actor::SkuActor;
use crate::clock::Millis;
use crate::events::EventKind;
use crate::order::{Order, OrderStatus};
use crate::store::{keys, StoreError, WriteGroup};
use actix::prelude::*;
use serde_json::json;

/// Longest pause between two attempts to write an expiry.
const BACKOFF_MAX_MS: u64 = 5_000;
const BACKOFF_MIN_MS: u64 = 100;

impl SkuActor {
    /// Keeps exactly one timer armed, for the earliest hold expiry but not
    /// before a pending back-off ends.
    pub(super) fn schedule(&mut self, ctx: &mut Context<Self>) {
        let next = self
            .state
            .next_expiry()
            .map(|at| at.max(self.expiry_not_before));
        if self.timer.as_ref().map(|(at, _)| *at) == next {
            return;
        }
        if let Some((_, handle)) = self.timer.take() {
            ctx.cancel_future(handle);
        }
        if let Some(at) = next {
            // On the injected clock, not a real-time delay: a test that
            // moves the clock past `at` fires the timer.
            let wake = self.env.clock.sleep_until(at).into_actor(self);
            let handle = ctx.spawn(wake.map(|(), act, ctx| {
                act.timer = None;
                act.on_timer(ctx);
            }));
            self.timer = Some((at, handle));
        }
    }

    /// Expires every lapsed hold in one commit; their unpaid orders expire.
    pub(super) fn on_timer(&mut self, ctx: &mut Context<Self>) {
        if self.retired {
            return;
        }
        let now = self.env.clock.now_ms();
        if self.reload_if_poisoned().is_err() {
            self.back_off(now);
        } else if now >= self.expiry_not_before {
            let was = self.state.levels().available;
            let expired = self.state.expire(now);
            if !expired.is_empty() {
                let places: Vec<Place> = expired
                    .iter()
                    .map(|h| self.pages.remove(&h.holder))
                    .collect();
                if self.commit_expiry(&expired, &places, was, now) {
                    self.expiry_backoff_ms = 0;
                    metrics::counter!("surge_reservations_expired_total")
                        .increment(expired.len() as u64);
                } else {
                    self.restore(expired, places);
                    self.back_off(now);
                }
                self.publish();
            }
        }
        self.schedule(ctx);
    }

    fn back_off(&mut self, now: Millis) {
        self.expiry_backoff_ms = (self.expiry_backoff_ms * 2).clamp(BACKOFF_MIN_MS, BACKOFF_MAX_MS);
        self.expiry_not_before = now + self.expiry_backoff_ms;
    }

    /// Queues the expiry of `expired`; false if nothing was queued.
    fn commit_expiry(&mut self, expired: &[Hold], places: &[Place], was: u64, now: Millis) -> bool {
        let group = match self.expiry_group(expired, places, was, now) {
            Ok(group) => group,
            Err(e) => {
                tracing::error!(sku = %self.sku, error = %e, "cannot encode expired holds");
                return false;
            }
        };
        let done = self.completion(|result| {
            if let Err(e) = result {
                tracing::error!(error = %e, "expiring holds failed");
            }
        });
        self.env.store.committer().submit_with(group, done).is_ok() && self.poke()
    }

    /// Puts holds back (where they were stored) after their expiry could not
    /// be queued.
    fn restore(&mut self, holds: Vec<Hold>, places: Vec<Place>) {
        for (hold, place) in holds.into_iter().zip(places) {
            let holder = hold.holder.clone();
            self.pages.restore(holder.clone(), place);
            if let Err(e) = self.state.restore(hold) {
                // Cannot happen: nothing ran between the expiry and this.
                tracing::error!(sku = %self.sku, %holder, error = %e, "could not restore a hold");
            }
        }
    }

    fn expiry_group(
        &mut self,
        expired: &[Hold],
        places: &[Place],
        was: u64,
        now: Millis,
    ) -> Result<WriteGroup, StoreError> {
        let mut group = self.change_group(was, now)?;
        let placed = expired
            .iter()
            .map(|h| &h.holder)
            .zip(places.iter().copied());
        self.pages
            .write_all(&mut group, &self.sku, &self.state, placed)?;
        let outbox = &self.env.outbox;
        for hold in expired {
            let data = json!({"sku": self.sku, "holder": hold.holder, "quantity": hold.quantity});
            outbox.record(&mut group, EventKind::ReservationExpired, &data, now)?;
            let key = keys::order(hold.holder.as_str());
            match self.env.store.get::<Order>(&key) {
                Ok(Some(mut order)) if order.status == OrderStatus::AwaitingPayment => {
                    order.status = OrderStatus::Expired;
                    order.updated_at = now;
                    group.put(key, &order)?;
                    let data = crate::order::event_data(&order);
                    outbox.record(&mut group, EventKind::OrderExpired, &data, now)?;
                }
                Ok(_) => {}
                // The stock must come back even if its order is unreadable.
                Err(e) => {
                    tracing::error!(sku = %self.sku, holder = %hold.holder, error = %e, "order of an expired hold is unreadable")
                }
            }
        }
        Ok(group)
    }
}
