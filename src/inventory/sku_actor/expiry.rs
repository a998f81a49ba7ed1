//! Hold expiry, inside the SKU actor. One timer is armed for the earliest
//! hold; when it fires every lapsed hold is released, and what its holder
//! does about it (an unpaid order expires: see [`LapsedHolds`]) is written in
//! the same commit. If that commit cannot be queued (the committer is full
//! or failed), the actor is poisoned like after any failed change (the
//! reload brings the holds back) and the next attempt backs off, so an
//! overloaded store is not hammered by retries.

use super::{Change, SkuActor};
use crate::clock::Millis;
use crate::events::EventKind;
use crate::inventory::hold_pages::Place;
use crate::inventory::sku::Hold;
use crate::store::{StoreError, WriteGroup};
use actix::prelude::*;
use serde_json::json;

/// What the holder of a lapsed hold does in the same commit as the expiry.
/// Inventory does not know who holds stock; `order` implements this at
/// start-up (an unpaid flash-sale order expires with its hold).
pub trait LapsedHolds: Send + Sync + 'static {
    /// Adds to `group` what follows from `hold` lapsing at `now`. Only a
    /// failure to encode is an error: the stock comes back regardless.
    fn lapsed(&self, hold: &Hold, group: &mut WriteGroup, now: Millis) -> Result<(), StoreError>;
}

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

    /// Expires every lapsed hold in one commit.
    pub(super) fn on_timer(&mut self, ctx: &mut Context<Self>) {
        if self.retired {
            return;
        }
        let now = self.env.clock.now_ms();
        if self.reload_if_poisoned().is_err() {
            self.back_off(now);
        } else if now >= self.expiry_not_before {
            self.expire(now, ctx);
        }
        self.schedule(ctx);
    }

    fn expire(&mut self, now: Millis, ctx: &mut Context<Self>) {
        let was = self.state.levels().available;
        let expired = self.state.expire(now);
        if expired.is_empty() {
            return;
        }
        let places: Vec<Place> = expired
            .iter()
            .map(|h| self.pages.remove(&h.holder))
            .collect();
        let written = self.expiry_group(&expired, &places, was, now);
        let logged = |result: Result<(), _>| {
            if let Err(e) = result {
                tracing::error!(error = %e, "expiring holds failed");
            }
        };
        if self.commit(
            Change {
                written,
                answer: (),
            },
            logged,
            ctx,
        ) {
            self.expiry_backoff_ms = 0;
            metrics::counter!("surge_reservations_expired_total").increment(expired.len() as u64);
        } else {
            self.back_off(now);
        }
        self.publish();
    }

    fn back_off(&mut self, now: Millis) {
        self.expiry_backoff_ms = (self.expiry_backoff_ms * 2).clamp(BACKOFF_MIN_MS, BACKOFF_MAX_MS);
        self.expiry_not_before = now + self.expiry_backoff_ms;
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
        for hold in expired {
            let data = json!({"sku": self.sku, "holder": hold.holder, "quantity": hold.quantity});
            self.env
                .outbox
                .record(&mut group, EventKind::ReservationExpired, &data, now)?;
            self.env.lapsed.lapsed(hold, &mut group, now)?;
        }
        Ok(group)
    }
}
