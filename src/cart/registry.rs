//! `Carts`: how the rest of the program reaches cart actors. Like SKU actors
//! they are virtual (see [`crate::virtual_actors`]): the first call for a
//! cart loads it from the store and starts its actor, a task; an idle actor
//! stops. Sends never wait: a full inbox is a fast `Busy` (503).

use super::actor::{CartActor, Keyed, LineChange, Message, Reply};
use super::checkout::CheckoutDetails;
use super::error::CartError;
use super::model::{Cart, CartState};
use crate::catalog::Catalog;
use crate::checkout::{CheckoutRecord, Checkouts};
use crate::clock::Clock;
use crate::config::CartSettings;
use crate::domain::{CartId, Currency, CustomerId, OrderId};
use crate::idempotency::{request_digest, Idempotency, IdempotencyError, IdempotencyKey};
use crate::inventory::Inventory;
use crate::order::Order;
use crate::store::{keys, Store, WriteGroup};
use crate::virtual_actors::{CallError, Mailbox, Registry, Undelivered};
use std::sync::Arc;
use tokio::sync::mpsc;

/// What every cart actor shares: the parts it was given (reached through
/// `Deref`) and the registry of live cart actors.
pub struct CartEnv {
    parts: CartParts,
    /// Live actors by cart. An actor removes itself when it passivates.
    pub registry: Registry<CartId, CartInbox>,
}

impl std::ops::Deref for CartEnv {
    type Target = CartParts;

    fn deref(&self) -> &CartParts {
        &self.parts
    }
}

/// What carts need from the rest of the process.
pub struct CartParts {
    pub store: Store,
    pub inventory: Inventory,
    pub catalog: Arc<Catalog>,
    pub checkouts: Checkouts,
    pub idempotency: Idempotency,
    pub settings: CartSettings,
    pub clock: Arc<dyn Clock>,
}

/// A cart actor's mailbox.
#[derive(Clone)]
pub struct CartInbox(pub(super) mpsc::Sender<Message>);

impl Mailbox for CartInbox {
    fn same(&self, other: &Self) -> bool {
        self.0.same_channel(&other.0)
    }
}

impl CallError<CartId> for CartError {
    fn is_passivated(&self) -> bool {
        matches!(self, CartError::Passivated)
    }

    fn busy(_: &CartId) -> Self {
        CartError::Busy
    }

    /// A cart actor that stopped with the call (it is retried by the
    /// client, with its Idempotency-Key) or kept passivating: busy.
    fn no_answer(_: &CartId) -> Self {
        CartError::Busy
    }
}

#[derive(Clone)]
pub struct Carts {
    env: Arc<CartEnv>,
}

impl Carts {
    pub fn new(parts: CartParts) -> Self {
        Self {
            env: Arc::new(CartEnv {
                parts,
                registry: Registry::new("cart"),
            }),
        }
    }

    /// Creates a cart, in the configured default currency when `currency` is
    /// `None`. With an Idempotency-Key the id derives from the key, so a
    /// retried create finds the cart it made (`true`: replayed); the same key
    /// with another currency or customer is refused.
    pub async fn create(
        &self,
        currency: Option<Currency>,
        customer_id: Option<CustomerId>,
        key: Option<IdempotencyKey>,
    ) -> Result<(Cart, bool), CartError> {
        let currency = currency.unwrap_or(self.env.settings.default_currency);
        let (id, digest) = match &key {
            Some(key) => {
                let customer = customer_id.as_ref().map_or("", CustomerId::as_str);
                let digest = request_digest(&[currency.as_str().as_bytes(), customer.as_bytes()]);
                (self.env.idempotency.cart_id(key), digest)
            }
            None => (CartId::generate(), [0; 32]),
        };
        // Two creates with one key at once would both write the cart.
        let _claim = match key {
            Some(_) => Some(
                self.env
                    .idempotency
                    .claim(id.as_str())
                    .ok_or(IdempotencyError::InUse)?,
            ),
            None => None,
        };
        if key.is_some() {
            if let Some(existing) = self.env.store.get::<Cart>(&keys::cart(id.as_str()))? {
                if existing.create_digest != digest {
                    return Err(IdempotencyError::Reused.into());
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

    /// Changes a cart's lines. With an Idempotency-Key, a retried change
    /// answers the cart as it is (`true`: replayed) and changes nothing.
    pub async fn change(
        &self,
        id: &CartId,
        change: LineChange,
        key: Option<IdempotencyKey>,
    ) -> Result<(Cart, bool), CartError> {
        let keyed = key.map(|key| Keyed {
            digest: change.digest(),
            key,
        });
        self.call(id, |reply| {
            Message::Change(change.clone(), keyed.clone(), reply)
        })
        .await
    }

    /// Checks a cart out into a paid order. The order id derives from the
    /// Idempotency-Key, so a retry gets the order the key made (`true`:
    /// replayed).
    pub async fn checkout(
        &self,
        id: &CartId,
        details: CheckoutDetails,
        key: &IdempotencyKey,
    ) -> Result<(Order, bool), CartError> {
        let order_id = self.checkout_order_id(id, key);
        // Before anything can write the order: a retry must look it up.
        self.env.idempotency.remember(&order_id);
        let request = details.request(id, order_id);
        self.call(id, |reply| Message::Checkout(request.clone(), reply))
            .await
    }

    /// The order a checkout of cart `id` with `key` makes.
    pub fn checkout_order_id(&self, id: &CartId, key: &IdempotencyKey) -> OrderId {
        self.env
            .idempotency
            .order_id(&format!("checkout:{id}"), key)
    }

    /// Goes on with the checkout of order `order` of cart `id`, waiting for
    /// the customer's payment action (after the provider's webhook, or the
    /// customer's `pay`): the order, paid, or why not yet.
    pub async fn resume_checkout(&self, id: &CartId, order: &OrderId) -> Result<Order, CartError> {
        self.call(id, |reply| Message::Resume(order.clone(), reply))
            .await
    }

    /// The checkout of order `order` if it waits for the customer's action.
    pub fn pending_checkout(&self, order: &OrderId) -> Result<Option<CheckoutRecord>, CartError> {
        Ok(self.env.checkouts.pending(order)?)
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
        let start = || self.start_actor(id);
        let send = |inbox: &CartInbox, reply| {
            inbox.0.try_send(make(reply)).map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => Undelivered::Full,
                mpsc::error::TrySendError::Closed(_) => Undelivered::Closed,
            })
        };
        self.env.registry.call(id, start, send).await
    }

    /// Starts the actor of cart `id`, loaded from the store, as a task.
    fn start_actor(&self, id: &CartId) -> Result<CartInbox, CartError> {
        let cart = self
            .env
            .store
            .get::<Cart>(&keys::cart(id.as_str()))?
            .ok_or_else(|| CartError::NotFound(id.to_string()))?;
        let (tx, rx) = mpsc::channel(self.env.settings.mailbox_capacity.max(1));
        let actor = CartActor::new(cart, self.env.clone());
        tokio::spawn(actor.run(rx, tx.downgrade()));
        metrics::counter!("surge_cart_activations_total").increment(1);
        Ok(CartInbox(tx))
    }
}
