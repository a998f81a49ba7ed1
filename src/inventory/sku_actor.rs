//! The SKU actor: the single owner of one SKU's stock. It handles one message
//! at a time, so no lock and no retry loop is needed for correctness under any
//! contention. A change is applied in memory, handed to the committer, and the
//! caller is answered by the committer once the change is durable; meanwhile
//! the actor goes on with the next message, so one fsync serves many buyers.
//!
//! This file holds the messages, the actor and one short handler per message.
//! Every change takes the same path ([`SkuActor::change`]): refused before it
//! touches anything, or applied and committed; a change that cannot be
//! queued poisons the actor (memory is ahead of disk) and the next message
//! reloads the SKU first ([`durability`]). Holds expire on a timer
//! ([`expiry`]). An actor with no holds and no work for a while passivates;
//! the next message activates a fresh one from the store.

mod durability;
mod expiry;

pub use expiry::LapsedHolds;

use super::error::InventoryError;
use super::hold_pages::{HoldPages, Place};
use super::persist::{self, Loaded};
use super::registry::Env;
use super::sku::{Hold, Levels, SaleRules, SkuError, SkuState};
use crate::clock::Millis;
use crate::domain::{CustomerId, HoldId, Sku};
use crate::store::{StoreError, WriteGroup};
use crate::virtual_actors::{Mailbox, Undelivered};
use actix::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where an actor sends its answer.
pub type Reply<T> = crate::virtual_actors::Reply<T, InventoryError>;

/// Where a SKU stands after a change: its levels and its sale rules.
pub type Standing = (Levels, SaleRules);

/// A request to a SKU actor; `Answer` is what the caller gets once the
/// change it made is durable.
pub trait Request: Clone + Send + 'static {
    type Answer: Send + 'static;
}

/// A request and where its answer goes.
pub struct Ask<R: Request> {
    pub request: R,
    pub reply: Reply<R::Answer>,
}

impl<R: Request> Message for Ask<R> {
    type Result = ();
}

/// Reserves `quantity` units for a holder that holds nothing here yet (a
/// flash-sale order), writing `attach` (the order) in the same commit.
#[derive(Debug, Clone)]
pub struct Reserve {
    pub holder: HoldId,
    pub customer: Option<CustomerId>,
    pub quantity: u64,
    pub expires_at: Millis,
    pub attach: WriteGroup,
}

/// Sets `holder`'s hold to `quantity` units until `expires_at`, taking it if
/// the holder has none (or only a lapsed one); `attach` (the cart line that
/// explains it) is written in the same commit.
#[derive(Debug, Clone)]
pub struct TakeHold {
    pub holder: HoldId,
    pub customer: Option<CustomerId>,
    pub quantity: u64,
    pub expires_at: Millis,
    pub attach: WriteGroup,
}

/// Ends a hold whatever its expiry, writing `attach` with it.
#[derive(Debug, Clone)]
pub struct Release {
    pub holder: HoldId,
    pub attach: WriteGroup,
}

/// Sells a live hold (reserved -> sold), writing `attach` with it. A lapsed
/// hold is refused and left to the expiry, which also expires its order.
#[derive(Debug, Clone)]
pub struct Sell {
    pub holder: HoldId,
    pub attach: WriteGroup,
}

/// Returns `quantity` sold units to available (a cancelled order).
#[derive(Debug, Clone)]
pub struct Unsell {
    pub customer: Option<CustomerId>,
    pub quantity: u64,
    pub attach: WriteGroup,
}

/// Adds `units` new units, all available.
#[derive(Debug, Clone)]
pub struct Restock {
    pub units: u64,
    pub attach: WriteGroup,
}

/// Sets the stock count; refused below reserved + sold.
#[derive(Debug, Clone)]
pub struct SetStocked {
    pub stocked: u64,
}

#[derive(Debug, Clone)]
pub struct SetSale {
    pub rules: SaleRules,
}

/// The current standing, answered once every change it reflects is durable.
#[derive(Debug, Clone)]
pub struct Inspect;

impl Request for Reserve {
    type Answer = Hold;
}
impl Request for TakeHold {
    type Answer = Hold;
}
impl Request for Release {
    type Answer = Hold;
}
impl Request for Sell {
    type Answer = Hold;
}
impl Request for Unsell {
    type Answer = Levels;
}
impl Request for Restock {
    type Answer = Standing;
}
impl Request for SetStocked {
    type Answer = Standing;
}
impl Request for SetSale {
    type Answer = Standing;
}
impl Request for Inspect {
    type Answer = Standing;
}

/// A change applied in memory: what it writes (or why that could not be
/// built) and what the caller is answered once it is durable.
struct Change<T> {
    written: Result<WriteGroup, StoreError>,
    answer: T,
}

pub struct SkuActor {
    sku: Sku,
    state: SkuState,
    /// Where the holds of `state` are stored; changes with them.
    pages: HoldPages,
    env: Arc<Env>,
    /// This SKU's published available count.
    published: Arc<AtomicU64>,
    /// Commits handed to the committer and not yet completed.
    in_flight: Arc<AtomicUsize>,
    /// Set when a change could not be made durable: memory may be ahead of
    /// disk, so the SKU is reloaded before anything else runs.
    poisoned: Arc<AtomicBool>,
    last_message: Instant,
    /// The armed expiry timer: when it fires, and its handle.
    timer: Option<(Millis, SpawnHandle)>,
    /// Passivated: answers `Passivated` so callers activate a fresh actor.
    retired: bool,
    /// A reload after a failed change is armed on a timer.
    reload_armed: bool,
    /// No expiry attempt before this (a failed one backs off).
    expiry_not_before: Millis,
    expiry_backoff_ms: u64,
}

impl SkuActor {
    pub fn new(sku: Sku, loaded: Loaded, env: Arc<Env>) -> Self {
        let Loaded { state, pages } = loaded;
        let published = env.availability.cell(&sku);
        published.store(state.levels().available, Ordering::Release);
        Self {
            sku,
            state,
            pages,
            env,
            published,
            in_flight: Arc::default(),
            poisoned: Arc::default(),
            last_message: Instant::now(),
            timer: None,
            retired: false,
            reload_armed: false,
            expiry_not_before: 0,
            expiry_backoff_ms: 0,
        }
    }

    /// Serves one request: refused as a whole when the actor cannot take
    /// work or `apply` refuses it (nothing changed), else committed.
    fn serve<R: Request>(
        &mut self,
        ask: Ask<R>,
        ctx: &mut Context<Self>,
        apply: impl FnOnce(&mut Self, R, &mut Context<Self>) -> Result<Change<R::Answer>, SkuError>,
    ) {
        self.last_message = Instant::now();
        let Ask { request, reply } = ask;
        if let Err(refusal) = self.ready(ctx) {
            return drop(reply.send(Err(refusal)));
        }
        match apply(self, request, ctx) {
            Ok(change) => drop(self.commit(change, move |answer| drop(reply.send(answer)), ctx)),
            Err(refusal) => drop(reply.send(Err(refusal.into()))),
        }
        self.publish();
        self.schedule(ctx);
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

    /// A change of counters or rules only: the SKU's record, then `attach`.
    fn record_change<T>(&self, attach: WriteGroup, answer: T) -> Change<T> {
        let written = self.record_group().map(|mut group| {
            group.append(attach);
            group
        });
        Change { written, answer }
    }

    fn standing(&self) -> Standing {
        (self.state.levels(), self.state.sale().clone())
    }
}

impl Actor for SkuActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Holds that lapsed while the SKU was passive (or the process down)
        // expire now; the rest get a timer.
        self.on_timer(ctx);
        let idle = Duration::from_secs(self.env.settings.idle_passivate_secs.max(1));
        ctx.run_interval(idle.min(Duration::from_secs(5)), |act, ctx| {
            act.maybe_passivate(ctx)
        });
    }
}

impl Handler<Ask<Reserve>> for SkuActor {
    type Result = ();

    fn handle(&mut self, ask: Ask<Reserve>, ctx: &mut Context<Self>) {
        self.serve(ask, ctx, |act, req, _| {
            let Reserve {
                holder,
                customer,
                quantity,
                expires_at,
                attach,
            } = req;
            let now = act.env.clock.now_ms();
            let was = act.state.levels().available;
            act.state
                .hold(holder.clone(), customer, quantity, expires_at, now)?;
            Ok(act.placed_hold_change(was, holder, attach))
        });
    }
}

impl Handler<Ask<TakeHold>> for SkuActor {
    type Result = ();

    fn handle(&mut self, ask: Ask<TakeHold>, ctx: &mut Context<Self>) {
        self.serve(ask, ctx, |act, req, ctx| {
            let TakeHold {
                holder,
                customer,
                quantity,
                expires_at,
                attach,
            } = req;
            let now = act.env.clock.now_ms();
            if act
                .state
                .hold_of(&holder)
                .is_some_and(|h| h.expires_at <= now)
            {
                // A lapsed hold is expired (and its expiry written) first, so
                // taking it again starts from a clean slate.
                act.on_timer(ctx);
            }
            let was = act.state.levels().available;
            if act.state.hold_of(&holder).is_some() {
                act.state.resize(&holder, quantity, expires_at, now)?;
            } else {
                act.state
                    .hold(holder.clone(), customer, quantity, expires_at, now)?;
            }
            Ok(act.placed_hold_change(was, holder, attach))
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

impl Handler<Ask<Restock>> for SkuActor {
    type Result = ();

    fn handle(&mut self, ask: Ask<Restock>, ctx: &mut Context<Self>) {
        self.serve(ask, ctx, |act, req, _| {
            act.state.restock(req.units)?;
            Ok(act.record_change(req.attach, act.standing()))
        });
    }
}

impl Handler<Ask<SetStocked>> for SkuActor {
    type Result = ();

    fn handle(&mut self, ask: Ask<SetStocked>, ctx: &mut Context<Self>) {
        self.serve(ask, ctx, |act, req, _| {
            act.state.set_stocked(req.stocked)?;
            Ok(act.record_change(WriteGroup::new(), act.standing()))
        });
    }
}

impl Handler<Ask<SetSale>> for SkuActor {
    type Result = ();

    fn handle(&mut self, ask: Ask<SetSale>, ctx: &mut Context<Self>) {
        self.serve(ask, ctx, |act, req, _| {
            act.state.set_sale(req.rules);
            Ok(act.record_change(WriteGroup::new(), act.standing()))
        });
    }
}

impl Handler<Ask<Inspect>> for SkuActor {
    type Result = ();

    /// Answers with the current standing, but never before the changes it
    /// reflects are durable: with commits in flight, the answer rides an
    /// empty group, which the committer completes after every earlier one.
    fn handle(&mut self, ask: Ask<Inspect>, ctx: &mut Context<Self>) {
        let settled =
            self.in_flight.load(Ordering::Acquire) == 0 && !self.poisoned.load(Ordering::Acquire);
        if settled && !self.retired {
            return drop(ask.reply.send(Ok(self.standing())));
        }
        self.serve(ask, ctx, |act, Inspect, _| {
            Ok(Change {
                written: Ok(WriteGroup::new()),
                answer: act.standing(),
            })
        });
    }
}

impl SkuActor {
    /// The change of a hold just made or resized: placed in the pages (a
    /// new hold joins the open page), then written with `attach`.
    fn placed_hold_change(&mut self, was: u64, holder: HoldId, attach: WriteGroup) -> Change<Hold> {
        let Some(hold) = self.state.hold_of(&holder).cloned() else {
            // The hold was just made: not finding it is a bug. Memory changed,
            // so this fails like a store error (and reloads the SKU).
            return Change {
                written: Err(StoreError::Closed),
                answer: Hold {
                    holder,
                    customer: None,
                    quantity: 0,
                    expires_at: 0,
                },
            };
        };
        let place = self.pages.put(&hold);
        self.hold_change(was, &holder, place, hold, |_, group| {
            group.append(attach);
            Ok(())
        })
    }

    fn maybe_passivate(&mut self, ctx: &mut Context<Self>) {
        let idle = Duration::from_secs(self.env.settings.idle_passivate_secs);
        let quiet = self.last_message.elapsed() >= idle
            && self.state.holds().next().is_none()
            && self.in_flight.load(Ordering::Acquire) == 0;
        if quiet && !self.retired {
            self.retired = true;
            self.env.registry.forget(&self.sku, &ctx.address());
            ctx.stop();
        }
    }
}

impl Mailbox for Addr<SkuActor> {
    fn same(&self, other: &Self) -> bool {
        self == other
    }
}

/// Sends `ask` to a SKU actor without waiting for room.
pub fn try_send<R: Request>(addr: &Addr<SkuActor>, ask: Ask<R>) -> Result<(), Undelivered>
where
    SkuActor: Handler<Ask<R>>,
{
    addr.try_send(ask).map_err(|e| match e {
        SendError::Full(_) => Undelivered::Full,
        SendError::Closed(_) => Undelivered::Closed,
    })
}
