//! `Carts`: how the rest of the program reaches cart actors. Like SKU actors
//! they are virtual: the first call for a cart loads it from the store and
//! starts its actor; an idle actor stops. Sends never wait: a full inbox is a
//! fast `Busy` (503).

use super::actor::{CartActor, Keyed, LineChange, Message, Reply};
use super::error::CartError;
use super::model::{Cart, CartState};
use crate::catalog::Catalog;
use crate::checkout::CheckoutRequest;
use crate::clock::Clock;
use crate::config::CartSettings;
use crate::domain::{CartId, Currency, CustomerId};
use crate::idempotency::{Idempotency, IdempotencyKey};
use crate::inventory::Inventory;
use crate::order::{Order, Orders};
use crate::store::{keys, Store, WriteGroup};
use dashmap::DashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// What every cart actor shares.
pub struct CartEnv {
    pub store: Store,
    pub inventory: Inventory,
    pub catalog: Arc<Catalog>,
    pub orders: Orders,
    pub idempotency: Idempotency,
    pub settings: CartSettings,
    pub clock: Arc<dyn Clock>,
    /// Live actors by cart, with the generation that tells an actor's own
    /// entry from a newer one.
    pub registry: DashMap<CartId, (u64, mpsc::Sender<Message>)>,
    generations: AtomicU64,
}

#[derive(Clone)]
pub struct Carts {
    env: Arc<CartEnv>,
}

/// How often a call is re-sent to a fresh actor when the one it reached was
/// passivating.
const ACTIVATION_TRIES: usize = 3;

impl Carts {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Store,
        inventory: Inventory,
        catalog: Arc<Catalog>,
        orders: Orders,
        idempotency: Idempotency,
        settings: CartSettings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            env: Arc::new(CartEnv {
                store,
                inventory,
                catalog,
                orders,
                idempotency,
                settings,
                clock,
                registry: DashMap::new(),
                generations: AtomicU64::new(0),
            }),
        }
    }

    pub fn settings(&self) -> &CartSettings {
        &self.env.settings
    }

    /// Creates a cart. With an Idempotency-Key the id derives from the key,
    /// so a retried create finds the cart it made (`true`: replayed).
    pub async fn create(
        &self,
        currency: Currency,
        customer_id: Option<CustomerId>,
        key: Option<(IdempotencyKey, [u8; 32])>,
    ) -> Result<(Cart, bool), CartError> {
        let (id, digest) = match &key {
            Some((key, digest)) => (self.env.idempotency.cart_id(key), *digest),
            None => (CartId::generate(), [0; 32]),
        };
        if key.is_some() {
            if let Some(existing) = self.env.store.get::<Cart>(&keys::cart(id.as_str()))? {
                if existing.create_digest != digest {
                    return Err(CartError::KeyReused);
                }
                return Ok((existing, true));
            }
        }
        let now = self.env.clock.now_ms();
        let cart = Cart {
            id,
            currency,
            customer_id,
            lines: Vec::new(),
            state: CartState::Open,
            created_at: now,
            updated_at: now,
            create_digest: digest,
            recent_keys: Vec::new(),
        };
        let mut group = WriteGroup::new();
        group.put(keys::cart(cart.id.as_str()), &cart)?;
        self.env.store.commit(group).await?;
        metrics::counter!("surge_carts_created_total").increment(1);
        Ok((cart, false))
    }

    /// Reads a cart as last made durable.
    pub fn get(&self, id: &CartId) -> Result<Cart, CartError> {
        self.env
            .store
            .get::<Cart>(&keys::cart(id.as_str()))?
            .ok_or_else(|| CartError::NotFound(id.to_string()))
    }

    pub async fn change(
        &self,
        id: &CartId,
        change: LineChange,
        keyed: Option<Keyed>,
    ) -> Result<(Cart, bool), CartError> {
        self.call(id, |reply| {
            Message::Change(change.clone(), keyed.clone(), reply)
        })
        .await
    }

    pub async fn checkout(
        &self,
        id: &CartId,
        request: CheckoutRequest,
    ) -> Result<(Order, bool), CartError> {
        self.call(id, |reply| Message::Checkout(request.clone(), reply))
            .await
    }

    /// Number of live cart actors.
    pub fn active(&self) -> usize {
        self.env.registry.len()
    }

    async fn call<T>(
        &self,
        id: &CartId,
        make: impl Fn(Reply<T>) -> Message,
    ) -> Result<T, CartError> {
        for _ in 0..ACTIVATION_TRIES {
            let inbox = self.activate(id)?;
            let (tx, rx) = oneshot::channel();
            match inbox.try_send(make(tx)) {
                Ok(()) => match rx.await {
                    Ok(Err(CartError::Passivated)) | Err(_) => self.forget(id, &inbox),
                    Ok(answer) => return answer,
                },
                Err(mpsc::error::TrySendError::Full(_)) => return Err(CartError::Busy),
                Err(mpsc::error::TrySendError::Closed(_)) => self.forget(id, &inbox),
            }
        }
        Err(CartError::Busy)
    }

    fn activate(&self, id: &CartId) -> Result<mpsc::Sender<Message>, CartError> {
        if let Some(entry) = self.env.registry.get(id) {
            return Ok(entry.1.clone());
        }
        match self.env.registry.entry(id.clone()) {
            dashmap::Entry::Occupied(e) => Ok(e.get().1.clone()),
            dashmap::Entry::Vacant(slot) => {
                let cart = self
                    .env
                    .store
                    .get::<Cart>(&keys::cart(id.as_str()))?
                    .ok_or_else(|| CartError::NotFound(id.to_string()))?;
                let (tx, rx) = mpsc::channel(self.env.settings.mailbox_capacity.max(1));
                let generation = self.env.generations.fetch_add(1, Ordering::Relaxed);
                let actor = CartActor {
                    cart,
                    env: self.env.clone(),
                };
                tokio::spawn(actor.run(rx, generation));
                metrics::counter!("surge_cart_activations_total").increment(1);
                slot.insert((generation, tx.clone()));
                Ok(tx)
            }
        }
    }

    fn forget(&self, id: &CartId, inbox: &mpsc::Sender<Message>) {
        self.env
            .registry
            .remove_if(id, |_, (_, tx)| tx.same_channel(inbox));
    }
}
