//! The SKU actor: the single owner of one SKU's stock. It handles one message
//! at a time, so no lock and no retry loop is needed for correctness under any
//! contention. A change is applied in memory, handed to the committer, and the
//! caller is answered by the committer once the change is durable; meanwhile
//! the actor goes on with the next message, so one fsync serves many buyers.
//!
//! Holds expire on a timer at their exact time. An actor with no holds and no
//! work for a while passivates (removes itself from the registry and stops);
//! the next message activates a fresh one from the store.

use super::error::InventoryError;
use super::hold_pages::HoldPages;
use super::holding::TakeHold;
use super::persist::{self, Loaded};
use super::purchase::{new_order, PurchaseRequest};
use super::registry::Env;
use super::sku::{Hold, Levels, SaleRules, SkuState};
use crate::clock::Millis;
use crate::domain::{CustomerId, HoldId, Sku};
use crate::events::EventKind;
use crate::order::Order;
use crate::store::{keys, Completion, StoreError, WriteGroup};
use actix::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Where an actor sends its answer.
pub type Reply<T> = oneshot::Sender<Result<T, InventoryError>>;

/// Where a SKU stands after a change: its levels and its sale rules.
pub type Standing = (Levels, SaleRules);

/// Everything a SKU actor can be asked.
#[derive(Message)]
#[rtype(result = "()")]
pub enum Command {
    Purchase(PurchaseRequest, Reply<Order>),
    Take(TakeHold, Reply<Hold>),
    Release(HoldId, WriteGroup, Reply<Hold>),
    Sell(HoldId, WriteGroup, Reply<Hold>),
    Unsell(Option<CustomerId>, u64, WriteGroup, Reply<Levels>),
    Restock(u64, WriteGroup, Reply<Standing>),
    SetStocked(u64, Reply<Standing>),
    SetSale(SaleRules, Reply<Standing>),
    Inspect(Reply<Standing>),
}

pub struct SkuActor {
    pub(super) sku: Sku,
    pub(super) state: SkuState,
    /// Where the holds of `state` are stored; changes with them.
    pub(super) pages: HoldPages,
    pub(super) env: Arc<Env>,
    /// This SKU's published available count.
    pub(super) published: Arc<AtomicU64>,
    /// Commits handed to the committer and not yet completed.
    pub(super) in_flight: Arc<AtomicUsize>,
    /// Set when a commit failed: memory may be ahead of disk; reload.
    pub(super) poisoned: Arc<AtomicBool>,
    pub(super) last_message: Instant,
    pub(super) timer: Option<(Millis, SpawnHandle)>,
    /// Passivated: answers `Passivated` so callers activate a fresh actor.
    pub(super) retired: bool,
    /// No expiry attempt before this (a failed one backs off).
    pub(super) expiry_not_before: Millis,
    pub(super) expiry_backoff_ms: u64,
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
            expiry_not_before: 0,
            expiry_backoff_ms: 0,
        }
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

impl Handler<Command> for SkuActor {
    type Result = ();

    fn handle(&mut self, cmd: Command, ctx: &mut Context<Self>) {
        self.last_message = Instant::now();
        if let Err(refusal) = self.ready(ctx) {
            return refuse(cmd, refusal);
        }
        match cmd {
            Command::Purchase(req, reply) => self.purchase(req, reply, ctx),
            Command::Take(req, reply) => self.take_hold(req, reply, ctx),
            Command::Release(holder, attach, reply) => {
                self.release_hold(holder, attach, reply, ctx)
            }
            Command::Sell(holder, attach, reply) => self.sell_hold(holder, attach, reply, ctx),
            Command::Unsell(customer, units, attach, reply) => {
                self.unsell(customer, units, attach, reply)
            }
            Command::Restock(units, attach, reply) => {
                let before = self.state.levels().stocked;
                let result = self.state.restock(units);
                self.commit_levels(result, before, attach, reply);
            }
            Command::SetStocked(stocked, reply) => {
                let before = self.state.levels().stocked;
                let result = self.state.set_stocked(stocked);
                self.commit_levels(result, before, WriteGroup::new(), reply);
            }
            Command::SetSale(rules, reply) => self.set_sale(rules, reply),
            Command::Inspect(reply) => self.inspect(reply),
        }
    }
}

impl SkuActor {
    /// Whether the actor may take work: not retired, and memory not ahead of
    /// a failed disk write (reloading first when it is safe to).
    fn ready(&mut self, ctx: &mut Context<Self>) -> Result<(), InventoryError> {
        if self.retired {
            return Err(InventoryError::Passivated);
        }
        if self.reload_if_poisoned()? {
            self.schedule(ctx);
        }
        Ok(())
    }

    /// After a failed commit, memory may be ahead of disk: once nothing is in
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

    fn purchase(&mut self, req: PurchaseRequest, reply: Reply<Order>, ctx: &mut Context<Self>) {
        let now = self.env.clock.now_ms();
        let expires_at =
            now.saturating_add(self.env.settings.payment_window_secs.saturating_mul(1000));
        let holder = req.order_id.hold();
        let customer = Some(req.customer.clone());
        let was = self.state.levels().available;
        if let Err(e) = self
            .state
            .hold(holder.clone(), customer, req.quantity, expires_at, now)
        {
            let _ = reply.send(Err(e.into()));
            return;
        }
        // The hold was just made; not finding it fails the purchase like a
        // store error rather than committing an order without its hold.
        let place = self
            .state
            .hold_of(&holder)
            .map(|hold| self.pages.put(hold))
            .ok_or(StoreError::Closed);
        let written = place.and_then(|place| {
            let mut group = self.change_group(was, now)?;
            let order = new_order(&self.sku, req, now, expires_at)?;
            self.pages
                .write(&mut group, &self.sku, &self.state, &holder, place)?;
            group.put(keys::order(order.id.as_str()), &order)?;
            let event = crate::order::event_data(&order);
            self.env
                .outbox
                .record(&mut group, EventKind::OrderCreated, &event, now)?;
            Ok((group, order))
        });
        let submitted = match written {
            Ok((group, order)) => self.submit(group, reply, order) && self.poke(),
            Err(e) => {
                let _ = reply.send(Err(e.into()));
                false
            }
        };
        if !submitted {
            // Nothing was queued: undo, so memory matches what clients were told.
            let _ = self.state.release(&holder);
            self.pages.remove(&holder);
        }
        self.publish();
        self.schedule(ctx);
    }

    /// Commits a counter change with `attach`, or reverts it to
    /// `stocked_before`.
    fn commit_levels(
        &mut self,
        result: Result<Levels, super::SkuError>,
        stocked_before: u64,
        attach: WriteGroup,
        reply: Reply<Standing>,
    ) {
        let standing = match result {
            Ok(levels) => (levels, self.state.sale().clone()),
            Err(e) => {
                let _ = reply.send(Err(e.into()));
                return;
            }
        };
        let submitted = match self.record_group() {
            Ok(mut group) => {
                group.append(attach);
                self.submit(group, reply, standing)
            }
            Err(e) => {
                let _ = reply.send(Err(e.into()));
                false
            }
        };
        if !submitted {
            let _ = self.state.set_stocked(stocked_before);
        }
        self.publish();
    }

    /// Answers with the current levels, but never before the changes they
    /// reflect are durable: with commits in flight, the answer rides an empty
    /// group, which the committer completes after every earlier one.
    fn inspect(&mut self, reply: Reply<Standing>) {
        let answer = (self.state.levels(), self.state.sale().clone());
        if self.in_flight.load(Ordering::Acquire) == 0 {
            let _ = reply.send(Ok(answer));
        } else {
            self.submit(WriteGroup::new(), reply, answer);
        }
    }

    fn set_sale(&mut self, rules: SaleRules, reply: Reply<Standing>) {
        let before = self.state.sale().clone();
        self.state.set_sale(rules.clone());
        let submitted = match self.record_group() {
            Ok(group) => self.submit(group, reply, (self.state.levels(), rules)),
            Err(e) => {
                let _ = reply.send(Err(e.into()));
                false
            }
        };
        if !submitted {
            self.state.set_sale(before);
        }
    }

    /// A write group holding the SKU's hot record.
    pub(super) fn record_group(&self) -> Result<WriteGroup, StoreError> {
        let mut group = WriteGroup::new();
        persist::put_record(&mut group, &self.sku, &self.state)?;
        Ok(group)
    }

    /// Hands `group` to the committer; `reply` gets `value` once it is
    /// durable. Returns false (after answering) if nothing was queued.
    pub(super) fn submit<T: Send + 'static>(
        &self,
        group: WriteGroup,
        reply: Reply<T>,
        value: T,
    ) -> bool {
        let done = self.completion(move |result| {
            let _ = reply.send(result.map(|()| value).map_err(InventoryError::from));
        });
        self.env.store.committer().submit_with(group, done).is_ok()
    }

    /// Wraps `then` with the actor's bookkeeping of in-flight commits.
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

    /// Wakes event delivery; true, so it chains after a successful submit.
    pub(super) fn poke(&self) -> bool {
        self.env.outbox.poke();
        true
    }

    pub(super) fn publish(&self) {
        let available = self.state.levels().available;
        if self.published.swap(available, Ordering::AcqRel) != available {
            self.env.availability.announce(&self.sku, available);
        }
    }

    fn maybe_passivate(&mut self, ctx: &mut Context<Self>) {
        let idle = Duration::from_secs(self.env.settings.idle_passivate_secs);
        let quiet = self.last_message.elapsed() >= idle
            && self.state.holds().next().is_none()
            && self.in_flight.load(Ordering::Acquire) == 0;
        if quiet && !self.retired {
            self.retired = true;
            let me = ctx.address();
            self.env
                .registry
                .remove_if(&self.sku, |_, addr| *addr == me);
            ctx.stop();
        }
    }
}

/// Answers `cmd` with `refusal` without touching state.
fn refuse(cmd: Command, refusal: InventoryError) {
    match cmd {
        Command::Purchase(_, r) => drop(r.send(Err(refusal))),
        Command::Take(_, r) | Command::Release(_, _, r) | Command::Sell(_, _, r) => {
            drop(r.send(Err(refusal)))
        }
        Command::Unsell(_, _, _, r) => drop(r.send(Err(refusal))),
        Command::Restock(_, _, r)
        | Command::SetStocked(_, r)
        | Command::SetSale(_, r)
        | Command::Inspect(r) => drop(r.send(Err(refusal))),
    }
}
