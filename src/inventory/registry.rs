//! The `Inventory` handle: how the rest of the program talks to SKU actors.
//! Actors are virtual (see [`crate::virtual_actors`]): the first message for
//! a SKU activates its actor from the store on the arbiter its SKU hashes to;
//! idle actors passivate. Callers never see an `Addr`, and every send is
//! `try_send` on a bounded mailbox, so a full mailbox is a fast `Busy` (503),
//! never a growing queue.

use super::error::InventoryError;
use super::persist;
use super::sku::{Hold, Levels, SaleRules};
use super::sku_actor::{
    self, Ask, Inspect, Release, Request, Reserve, Restock, Sell, SetSale, SetStocked, SkuActor,
    Standing, TakeHold, Unsell,
};
use super::{Availability, LapsedHolds};
use crate::clock::Clock;
use crate::config::InventorySettings;
use crate::domain::{CustomerId, HoldId, Sku};
use crate::events::Outbox;
use crate::idempotency::Idempotency;
use crate::store::{keys, Store, WriteGroup};
use crate::virtual_actors::{CallError, Registry};
use actix::prelude::*;
use parking_lot::Mutex;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

/// What every SKU actor shares: the parts the inventory was given (reached
/// through `Deref`) and the registry of live SKU actors.
pub struct Env {
    parts: InventoryParts,
    /// Live actors by SKU. An actor removes itself when it passivates.
    pub registry: Registry<Sku, Addr<SkuActor>>,
}

impl std::ops::Deref for Env {
    type Target = InventoryParts;

    fn deref(&self) -> &InventoryParts {
        &self.parts
    }
}

/// What the inventory needs from the rest of the process.
pub struct InventoryParts {
    pub store: Store,
    pub availability: Availability,
    pub outbox: Outbox,
    pub idempotency: Idempotency,
    /// What a lapsed hold's holder writes with its expiry.
    pub lapsed: Arc<dyn LapsedHolds>,
    pub clock: Arc<dyn Clock>,
    pub settings: InventorySettings,
}

#[derive(Clone)]
pub struct Inventory {
    pub(super) env: Arc<Env>,
    shards: Arc<Vec<ArbiterHandle>>,
    arbiters: Arc<Mutex<Vec<Arbiter>>>,
    hasher: RandomState,
}

impl CallError<Sku> for InventoryError {
    fn is_passivated(&self) -> bool {
        matches!(self, InventoryError::Passivated)
    }

    fn busy(sku: &Sku) -> Self {
        InventoryError::Busy(sku.clone())
    }

    fn no_answer(sku: &Sku) -> Self {
        InventoryError::NoAnswer(sku.clone())
    }
}

impl Inventory {
    /// Starts the shard arbiters. Must run inside an actix system.
    pub fn start(parts: InventoryParts) -> Self {
        let count = match parts.settings.shards {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let arbiters: Vec<Arbiter> = (0..count).map(|_| Arbiter::new()).collect();
        let shards = arbiters.iter().map(Arbiter::handle).collect();
        Self {
            env: Arc::new(Env {
                parts,
                registry: Registry::new("sku"),
            }),
            shards: Arc::new(shards),
            arbiters: Arc::new(Mutex::new(arbiters)),
            hasher: RandomState::new(),
        }
    }

    pub fn availability(&self) -> &Availability {
        &self.env.availability
    }

    pub fn settings(&self) -> &InventorySettings {
        &self.env.settings
    }

    /// Reserves stock for a new holder (a flash-sale order written in
    /// `req.attach`); durable on return.
    pub async fn reserve(&self, sku: &Sku, req: Reserve) -> Result<Levels, InventoryError> {
        self.ask(sku, req).await
    }

    /// Sets `req.holder`'s hold (taking or resizing it); durable on return.
    pub async fn take_hold(&self, sku: &Sku, req: TakeHold) -> Result<Levels, InventoryError> {
        self.ask(sku, req).await
    }

    /// Ends a hold, writing `attach` with it.
    pub async fn release_hold(
        &self,
        sku: &Sku,
        holder: &HoldId,
        attach: WriteGroup,
    ) -> Result<Hold, InventoryError> {
        let holder = holder.clone();
        self.ask(sku, Release { holder, attach }).await
    }

    /// Sells a live hold (reserved -> sold), writing `attach` with it.
    pub async fn sell_hold(
        &self,
        sku: &Sku,
        holder: &HoldId,
        attach: WriteGroup,
    ) -> Result<Hold, InventoryError> {
        let holder = holder.clone();
        self.ask(sku, Sell { holder, attach }).await
    }

    /// Returns sold units to available, writing `attach` with them.
    pub async fn unsell(
        &self,
        sku: &Sku,
        customer: Option<&CustomerId>,
        quantity: u64,
        attach: WriteGroup,
    ) -> Result<Levels, InventoryError> {
        let customer = customer.cloned();
        let unsell = Unsell {
            customer,
            quantity,
            attach,
        };
        self.ask(sku, unsell).await
    }

    /// Adds `units`; `attach` is committed with the change.
    pub async fn restock(
        &self,
        sku: &Sku,
        units: u64,
        attach: WriteGroup,
    ) -> Result<Standing, InventoryError> {
        self.ask(sku, Restock { units, attach }).await
    }

    pub async fn set_stocked(&self, sku: &Sku, stocked: u64) -> Result<Standing, InventoryError> {
        self.ask(sku, SetStocked { stocked }).await
    }

    pub async fn set_sale(&self, sku: &Sku, rules: SaleRules) -> Result<Standing, InventoryError> {
        self.ask(sku, SetSale { rules }).await
    }

    pub async fn inspect(&self, sku: &Sku) -> Result<Standing, InventoryError> {
        self.ask(sku, Inspect).await
    }

    /// Activates every SKU that holds stock, so holds that lapsed while the
    /// process was down expire now, not whenever the SKU is next asked
    /// something (a sold-out SKU might never be: the fast path answers for
    /// it). Returns how many were woken.
    pub fn wake_held(&self) -> Result<usize, InventoryError> {
        let mut held = std::collections::BTreeSet::new();
        for prefix in [keys::HOLD, keys::HOLD_PAGE] {
            self.env.store.for_each_key(prefix, |rest| {
                if let Some(sku) = rest.split(|&b| b == b'/').next() {
                    held.insert(sku.to_vec());
                }
            })?;
        }
        for raw in &held {
            let text = String::from_utf8_lossy(raw);
            match Sku::parse(&text) {
                Ok(sku) => drop(
                    self.env
                        .registry
                        .activate(&sku, || self.start_actor(&sku))?,
                ),
                Err(e) => tracing::error!(key = %text, error = %e, "a hold names an invalid SKU"),
            }
        }
        Ok(held.len())
    }

    /// Number of active SKU actors.
    pub fn active(&self) -> usize {
        self.env.registry.len()
    }

    /// Stops every actor and shard thread (at shutdown, after HTTP stopped).
    pub fn stop(&self) {
        let arbiters: Vec<Arbiter> = self.arbiters.lock().drain(..).collect();
        self.env.registry.clear();
        for arbiter in &arbiters {
            arbiter.stop();
        }
        for arbiter in arbiters {
            let _ = arbiter.join();
        }
    }

    async fn ask<R: Request>(&self, sku: &Sku, request: R) -> Result<R::Answer, InventoryError>
    where
        SkuActor: Handler<Ask<R>>,
    {
        let start = || self.start_actor(sku);
        let send = |addr: &Addr<SkuActor>, reply| {
            let request = request.clone();
            sku_actor::try_send(addr, Ask { request, reply })
        };
        self.env.registry.call(sku, start, send).await
    }

    /// Starts `sku`'s actor, loaded from the store, on its shard.
    fn start_actor(&self, sku: &Sku) -> Result<Addr<SkuActor>, InventoryError> {
        let loaded = persist::load(&self.env.store, sku)?
            .ok_or_else(|| InventoryError::UnknownSku(sku.clone()))?;
        let shard = &self.shards[(self.hasher.hash_one(sku) as usize) % self.shards.len()];
        let (env, sku, capacity) = (
            self.env.clone(),
            sku.clone(),
            self.env.settings.mailbox_capacity,
        );
        let addr = SkuActor::start_in_arbiter(shard, move |ctx| {
            ctx.set_mailbox_capacity(capacity);
            SkuActor::new(sku, loaded, env)
        });
        metrics::counter!("surge_sku_activations_total").increment(1);
        Ok(addr)
    }
}
