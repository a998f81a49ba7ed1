//! The SKU actor: the single owner of one SKU's stock. It handles one message
//! at a time, so no lock and no retry loop is needed for correctness under any
//! contention. A change is applied in memory, handed to the committer, and the
//! caller is answered by the committer once the change is durable; meanwhile
//! the actor goes on with the next message, so one fsync serves many buyers.
//!
//! This file holds the messages, the actor, and the handlers of stock counts
//! and sale rules; the handlers of holds are in [`holds`].
//! Every change takes the same path ([`SkuActor::change`]): refused before it
//! touches anything, or applied and committed; a change that cannot be
//! queued poisons the actor (memory is ahead of disk) and the next message
//! reloads the SKU first ([`durability`]). Holds expire on a timer
//! ([`expiry`]). An actor with no holds and no work for a while passivates;
//! the next message activates a fresh one from the store.

mod durability;
mod expiry;
mod holds;
#[cfg(test)]
mod tests;

pub use expiry::LapsedHolds;

use super::error::InventoryError;
use super::hold_pages::HoldPages;
use super::persist::Loaded;
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
/// Answered with the SKU's levels after it (the caller knows its hold).
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

impl From<TakeHold> for Reserve {
    fn from(take: TakeHold) -> Self {
        let TakeHold {
            holder,
            customer,
            quantity,
            expires_at,
            attach,
        } = take;
        Self {
            holder,
            customer,
            quantity,
            expires_at,
            attach,
        }
    }
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

/// Each request and what it is answered.
macro_rules! answers {
    ($($request:ty => $answer:ty),* $(,)?) => {
        $(impl Request for $request {
            type Answer = $answer;
        })*
    };
}

answers! {
    Reserve => Levels,
    TakeHold => Levels,
    Release => Hold,
    Sell => Hold,
    Unsell => Levels,
    Restock => Standing,
    SetStocked => Standing,
    SetSale => Standing,
    Inspect => Standing,
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
        self.last_message = Instant::now();
        // Ready first: a poisoned actor reloads, so the answer is the disk's.
        if let Err(refusal) = self.ready(ctx) {
            return drop(ask.reply.send(Err(refusal)));
        }
        if self.in_flight.load(Ordering::Acquire) == 0 {
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
