//! The SKU actor's handlers of holds: reserve (a new holder), take or resize
//! (a cart line), release, sell (reserved -> sold) and unsell (a cancelled
//! order's units back to available). Each writes the SKU's records and the
//! caller's `attach`ed writes (its cart, order, saga step, events) in one
//! group, so a stock move and the record that explains it become durable
//! together or not at all.

use super::{Ask, Change, Release, Reserve, Sell, SkuActor, TakeHold, Unsell};
use crate::domain::HoldId;
use crate::inventory::hold_pages::Place;
use crate::inventory::persist;
use crate::inventory::sku::{Levels, SkuError};
use crate::store::{StoreError, WriteGroup};
use actix::prelude::*;

impl Handler<Ask<Reserve>> for SkuActor {
    type Result = ();

    fn handle(&mut self, ask: Ask<Reserve>, ctx: &mut Context<Self>) {
        self.serve(ask, ctx, |act, req, _| act.reserve(req));
    }
}

impl Handler<Ask<TakeHold>> for SkuActor {
    type Result = ();

    fn handle(&mut self, ask: Ask<TakeHold>, ctx: &mut Context<Self>) {
        self.serve(ask, ctx, |act, req, ctx| {
            let now = act.env.clock.now_ms();
            let held = act.state.hold_of(&req.holder).map(|h| h.expires_at);
            if held.is_some_and(|expires_at| expires_at <= now) {
                // A lapsed hold is expired (and its expiry written) first, so
                // taking it again starts from a clean slate.
                act.on_timer(ctx);
            }
            if act.state.hold_of(&req.holder).is_none() {
                return act.reserve(req.into());
            }
            let was = act.state.levels().available;
            act.state
                .resize(&req.holder, req.quantity, req.expires_at, now)?;
            Ok(act.placed_hold_change(was, req.holder, req.attach))
        });
    }
}

impl Handler<Ask<Release>> for SkuActor {
    type Result = ();

    fn handle(&mut self, ask: Ask<Release>, ctx: &mut Context<Self>) {
        self.serve(ask, ctx, |act, req, _| {
            let was = act.state.levels().available;
            let hold = act.state.release(&req.holder)?;
            let place = act.pages.remove(&req.holder);
            Ok(act.hold_change(was, &req.holder, place, hold, |_, group| {
                group.append(req.attach);
                Ok(())
            }))
        });
    }
}

impl Handler<Ask<Sell>> for SkuActor {
    type Result = ();

    fn handle(&mut self, ask: Ask<Sell>, ctx: &mut Context<Self>) {
        self.serve(ask, ctx, |act, req, _| {
            let was = act.state.levels().available;
            let hold = act.state.commit(&req.holder, act.env.clock.now_ms())?;
            let place = act.pages.remove(&req.holder);
            let customer = hold.customer.clone();
            Ok(
                act.hold_change(was, &req.holder, place, hold, |act, group| {
                    persist::put_sold(group, &act.sku, &act.state, customer.as_ref())?;
                    group.append(req.attach);
                    Ok(())
                }),
            )
        });
    }
}

impl Handler<Ask<Unsell>> for SkuActor {
    type Result = ();

    fn handle(&mut self, ask: Ask<Unsell>, ctx: &mut Context<Self>) {
        self.serve(ask, ctx, |act, req, _| {
            let was = act.state.levels().available;
            let levels = act.state.unsell(req.customer.as_ref(), req.quantity)?;
            let now = act.env.clock.now_ms();
            let written = act.change_group(was, now).and_then(|mut group| {
                persist::put_sold(&mut group, &act.sku, &act.state, req.customer.as_ref())?;
                group.append(req.attach);
                Ok(group)
            });
            Ok(Change {
                written,
                answer: levels,
            })
        });
    }
}

impl SkuActor {
    /// A new hold for a holder that holds nothing here.
    fn reserve(&mut self, req: Reserve) -> Result<Change<Levels>, SkuError> {
        let Reserve {
            holder,
            customer,
            quantity,
            expires_at,
            attach,
        } = req;
        let now = self.env.clock.now_ms();
        let was = self.state.levels().available;
        self.state
            .hold(holder.clone(), customer, quantity, expires_at, now)?;
        Ok(self.placed_hold_change(was, holder, attach))
    }

    /// A change of holds: the SKU's record and stock events, the page (or
    /// key) that stores `holder`, then what `also` adds (the caller's
    /// attached writes).
    fn hold_change<T>(
        &mut self,
        was: u64,
        holder: &HoldId,
        place: Place,
        answer: T,
        also: impl FnOnce(&Self, &mut WriteGroup) -> Result<(), StoreError>,
    ) -> Change<T> {
        let now = self.env.clock.now_ms();
        let written = self.change_group(was, now).and_then(|mut group| {
            self.pages
                .write(&mut group, &self.sku, &self.state, holder, place)?;
            also(self, &mut group)?;
            Ok(group)
        });
        Change { written, answer }
    }

    /// The change of a hold just made or resized: placed in the pages (a
    /// new hold joins the open page), then written with `attach`.
    fn placed_hold_change(
        &mut self,
        was: u64,
        holder: HoldId,
        attach: WriteGroup,
    ) -> Change<Levels> {
        let levels = self.state.levels();
        let Some(hold) = self.state.hold_of(&holder) else {
            // The hold was just made: not finding it is a bug. Memory changed,
            // so this fails like a store error (and reloads the SKU).
            return Change {
                written: Err(StoreError::Closed),
                answer: levels,
            };
        };
        let place = self.pages.put(hold);
        self.hold_change(was, &holder, place, levels, |_, group| {
            group.append(attach);
            Ok(())
        })
    }
}
