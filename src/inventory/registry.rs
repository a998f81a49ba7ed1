//! The `Inventory` handle: how the rest of the program talks to SKU actors.
//! Actors are virtual: the first message for a SKU activates its actor from
//! the store on the arbiter its SKU hashes to; idle actors passivate. Callers
//! never see an `Addr`, and every send is `try_send` on a bounded mailbox, so
//! a full mailbox is a fast `Busy` (503), never a growing queue.

use super::error::InventoryError;
use super::holding::TakeHold;
use super::persist;
use super::purchase::PurchaseRequest;
use super::sku::{Hold, Levels, SaleRules};
use super::sku_actor::{Command, Reply, SkuActor, Standing};
use super::Availability;
use crate::clock::{Clock, Millis};
use crate::config::InventorySettings;
use crate::domain::{CustomerId, HoldId, Sku};
use crate::events::Outbox;
use crate::order::Order;
use crate::store::{keys, Store, WriteGroup};
use actix::prelude::*;
use dashmap::DashMap;
use parking_lot::Mutex;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use tokio::sync::oneshot;

/// What every SKU actor shares.
pub struct Env {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub settings: InventorySettings,
    pub availability: Availability,
    pub outbox: Outbox,
    /// Live actors by SKU. An actor removes itself when it passivates.
    pub registry: DashMap<Sku, Addr<SkuActor>>,
}

#[derive(Clone)]
pub struct Inventory {
    env: Arc<Env>,
    shards: Arc<Vec<ArbiterHandle>>,
    arbiters: Arc<Mutex<Vec<Arbiter>>>,
    hasher: RandomState,
}

/// How often a message is re-sent to a freshly activated actor when the one
/// it reached was passivating.
const ACTIVATION_TRIES: usize = 3;

impl Inventory {
    /// Starts the shard arbiters. Must run inside an actix system.
    pub fn start(
        store: Store,
        availability: Availability,
        outbox: Outbox,
        clock: Arc<dyn Clock>,
        settings: InventorySettings,
    ) -> Self {
        let count = match settings.shards {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let arbiters: Vec<Arbiter> = (0..count).map(|_| Arbiter::new()).collect();
        let shards = arbiters.iter().map(Arbiter::handle).collect();
        Self {
            env: Arc::new(Env {
                store,
                clock,
                settings,
                availability,
                outbox,
                registry: DashMap::new(),
            }),
            shards: Arc::new(shards),
            arbiters: Arc::new(Mutex::new(arbiters)),
            hasher: RandomState::new(),
        }
    }

    pub fn availability(&self) -> &Availability {
        &self.env.availability
    }

    /// The time on the clock holds expire by, for stamping what goes with
    /// a stock change.
    pub fn now_ms(&self) -> Millis {
        self.env.clock.now_ms()
    }

    pub async fn purchase(&self, sku: &Sku, req: PurchaseRequest) -> Result<Order, InventoryError> {
        self.call(sku, |reply| Command::Purchase(req.clone(), reply))
            .await
    }

    /// Sets `req.holder`'s hold (taking or resizing it); durable on return.
    pub async fn take_hold(&self, sku: &Sku, req: TakeHold) -> Result<Hold, InventoryError> {
        self.call(sku, |reply| Command::Take(req.clone(), reply))
            .await
    }

    /// Ends a hold, writing `attach` with it.
    pub async fn release_hold(
        &self,
        sku: &Sku,
        holder: &HoldId,
        attach: WriteGroup,
    ) -> Result<Hold, InventoryError> {
        self.call(sku, |reply| {
            Command::Release(holder.clone(), attach.clone(), reply)
        })
        .await
    }

    /// Sells a live hold (reserved -> sold), writing `attach` with it.
    pub async fn sell_hold(
        &self,
        sku: &Sku,
        holder: &HoldId,
        attach: WriteGroup,
    ) -> Result<Hold, InventoryError> {
        self.call(sku, |reply| {
            Command::Sell(holder.clone(), attach.clone(), reply)
        })
        .await
    }

    /// Returns sold units to available, writing `attach` with them.
    pub async fn unsell(
        &self,
        sku: &Sku,
        customer: Option<&CustomerId>,
        units: u64,
        attach: WriteGroup,
    ) -> Result<Levels, InventoryError> {
        self.call(sku, |reply| {
            Command::Unsell(customer.cloned(), units, attach.clone(), reply)
        })
        .await
    }

    /// Adds `units`; `attach` is committed with the change.
    pub async fn restock(
        &self,
        sku: &Sku,
        units: u64,
        attach: WriteGroup,
    ) -> Result<Standing, InventoryError> {
        self.call(sku, |reply| Command::Restock(units, attach.clone(), reply))
            .await
    }

    pub async fn set_stocked(&self, sku: &Sku, stocked: u64) -> Result<Standing, InventoryError> {
        self.call(sku, |reply| Command::SetStocked(stocked, reply))
            .await
    }

    pub async fn set_sale(&self, sku: &Sku, rules: SaleRules) -> Result<Standing, InventoryError> {
        self.call(sku, |reply| Command::SetSale(rules.clone(), reply))
            .await
    }

    pub async fn inspect(&self, sku: &Sku) -> Result<Standing, InventoryError> {
        self.call(sku, Command::Inspect).await
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
                Ok(sku) => drop(self.activate(&sku)?),
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

    async fn call<T>(
        &self,
        sku: &Sku,
        make: impl Fn(Reply<T>) -> Command,
    ) -> Result<T, InventoryError> {
        for _ in 0..ACTIVATION_TRIES {
            let addr = self.activate(sku)?;
            let (tx, rx) = oneshot::channel();
            match addr.try_send(make(tx)) {
                Ok(()) => match rx.await {
                    Ok(Err(InventoryError::Passivated)) => self.forget(sku, &addr),
                    Ok(answer) => return answer,
                    Err(_) => return Err(InventoryError::NoAnswer(sku.clone())),
                },
                Err(SendError::Full(_)) => {
                    metrics::counter!("surge_mailbox_full_total").increment(1);
                    return Err(InventoryError::Busy(sku.clone()));
                }
                Err(SendError::Closed(_)) => self.forget(sku, &addr),
            }
        }
        Err(InventoryError::NoAnswer(sku.clone()))
    }

    /// The live actor of `sku`, activating it from the store if needed.
    fn activate(&self, sku: &Sku) -> Result<Addr<SkuActor>, InventoryError> {
        if let Some(addr) = self.env.registry.get(sku) {
            return Ok(addr.clone());
        }
        // The entry lock makes activation happen once even when many
        // requests for a cold SKU arrive together.
        match self.env.registry.entry(sku.clone()) {
            dashmap::Entry::Occupied(e) => Ok(e.get().clone()),
            dashmap::Entry::Vacant(slot) => {
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
                metrics::gauge!("surge_sku_actors_active").increment(1.0);
                Ok(slot.insert(addr).clone())
            }
        }
    }

    fn forget(&self, sku: &Sku, addr: &Addr<SkuActor>) {
        self.env.registry.remove_if(sku, |_, a| a == addr);
    }
}
