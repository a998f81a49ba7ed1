//! The cart actor: the only writer of one cart. It is a task that takes its
//! messages one at a time from a bounded channel, so changes to a cart (and
//! its checkout) never interleave, with no lock. A change to a line is made
//! durable by the SKU actor that holds the stock, with the updated cart
//! attached to the same write group: the hold and the cart line that
//! explains it land together. Idle carts passivate; the next call loads the
//! cart from the store again.

use super::error::CartError;
use super::model::{Cart, CartLine, CartState};
use super::registry::{CartEnv, CartInbox};
use crate::catalog::{CatalogError, SkuStatus};
use crate::checkout::CheckoutRequest;
use crate::domain::{OrderId, Quantity, Sku};
use crate::idempotency::{request_digest, IdempotencyError, IdempotencyKey};
use crate::inventory::{InventoryError, SkuError, TakeHold};
use crate::order::Order;
use crate::store::{keys, WriteGroup};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

pub type Reply<T> = crate::virtual_actors::Reply<T, CartError>;

/// A change to a cart's lines. The cart checks its line limit against the
/// line's total after the change, so no quantity here carries a maximum.
#[derive(Debug, Clone)]
pub enum LineChange {
    /// Adds units (a new line, or more of an existing one).
    Add {
        sku: Sku,
        quantity: Quantity,
    },
    /// Sets a line's quantity; 0 removes the line.
    Set {
        sku: Sku,
        quantity: u64,
    },
    Remove {
        sku: Sku,
    },
}

impl LineChange {
    /// Digest of the change: what a retry with the same Idempotency-Key
    /// must repeat. Carts keep these digests (`Cart::recent_keys`), so they
    /// must not change.
    pub(super) fn digest(&self) -> [u8; 32] {
        match self {
            Self::Add { sku, quantity } => request_digest(&[
                b"add",
                sku.as_str().as_bytes(),
                &quantity.get().to_be_bytes(),
            ]),
            Self::Set { sku, quantity } => {
                request_digest(&[b"set", sku.as_str().as_bytes(), &quantity.to_be_bytes()])
            }
            Self::Remove { sku } => request_digest(&[b"remove", sku.as_str().as_bytes()]),
        }
    }
}

/// An unsafe call's Idempotency-Key and the digest of its request.
#[derive(Debug, Clone)]
pub(super) struct Keyed {
    pub key: IdempotencyKey,
    pub digest: [u8; 32],
}

pub enum Message {
    Change(LineChange, Option<Keyed>, Reply<(Cart, bool)>),
    Checkout(CheckoutRequest, Reply<(Order, bool)>),
    /// Goes on with the checkout of this order, waiting for the customer's
    /// payment action.
    Resume(OrderId, Reply<Order>),
}

impl Message {
    fn refuse(self, e: CartError) {
        match self {
            Message::Change(_, _, reply) => drop(reply.send(Err(e))),
            Message::Checkout(_, reply) => drop(reply.send(Err(e))),
            Message::Resume(_, reply) => drop(reply.send(Err(e))),
        }
    }
}

pub struct CartActor {
    pub(super) cart: Cart,
    pub(super) env: Arc<CartEnv>,
}

impl CartActor {
    pub(super) fn new(cart: Cart, env: Arc<CartEnv>) -> Self {
        Self { cart, env }
    }

    /// Handles messages until the cart has been idle for the configured
    /// time, then leaves the registry (if its entry is still this actor's)
    /// and answers whatever raced in with `Passivated`.
    pub(super) async fn run(
        mut self,
        mut inbox: mpsc::Receiver<Message>,
        own: mpsc::WeakSender<Message>,
    ) {
        let idle = Duration::from_secs(self.env.settings.idle_passivate_secs.max(1));
        loop {
            match tokio::time::timeout(idle, inbox.recv()).await {
                Ok(Some(message)) => self.handle(message).await,
                Ok(None) => break,
                Err(_) => {
                    if let Some(own) = own.upgrade() {
                        self.env.registry.forget(&self.cart.id, &CartInbox(own));
                    }
                    break;
                }
            }
        }
        inbox.close();
        while let Ok(message) = inbox.try_recv() {
            message.refuse(CartError::Passivated);
        }
    }

    async fn handle(&mut self, message: Message) {
        if matches!(message, Message::Change(..)) {
            self.give_up_lapsed_action().await;
        }
        match message {
            Message::Resume(order, reply) => {
                let result = self.resume_checkout(&order).await;
                let _ = reply.send(result);
            }
            Message::Change(change, keyed, reply) => {
                let result = self.change(change, keyed).await;
                let _ = reply.send(result);
            }
            Message::Checkout(request, reply) => {
                let result = self.checkout(request).await;
                let _ = reply.send(result);
            }
        }
    }

    pub(super) fn ensure_open(&self) -> Result<(), CartError> {
        match &self.cart.state {
            CartState::Open => Ok(()),
            CartState::CheckingOut(_) => Err(CartError::CheckoutInProgress),
            CartState::CheckedOut(order) => Err(CartError::CheckedOut(order.to_string())),
        }
    }

    async fn change(
        &mut self,
        change: LineChange,
        keyed: Option<Keyed>,
    ) -> Result<(Cart, bool), CartError> {
        if let Some(k) = &keyed {
            match self.cart.replay(&k.key, &k.digest) {
                Some(true) => return Ok((self.cart.clone(), true)),
                Some(false) => return Err(IdempotencyError::Reused.into()),
                None => {}
            }
        }
        self.ensure_open()?;
        let mut next = self.cart.clone();
        next.updated_at = self.env.clock.now_ms();
        if let Some(k) = keyed {
            next.remember(k.key, k.digest);
        }
        match change {
            LineChange::Add { sku, quantity } => {
                let now = next.updated_at;
                let held = self
                    .cart
                    .line(&sku)
                    .filter(|l| l.unavailable_reason(now).is_none())
                    .map_or(0, |l| l.quantity);
                self.hold(next, sku, held.saturating_add(quantity.get()))
                    .await?
            }
            LineChange::Set { sku, quantity } => {
                if self.cart.line(&sku).is_none() {
                    return Err(CartError::LineNotFound(sku));
                }
                match quantity {
                    0 => self.release(next, sku).await?,
                    n => self.hold(next, sku, n).await?,
                }
            }
            LineChange::Remove { sku } => self.release(next, sku).await?,
        }
        Ok((self.cart.clone(), false))
    }

    /// Holds `quantity` units of `sku` for the cart (taking, growing or
    /// shrinking its hold) and writes `next` with the line updated, in the
    /// SKU's commit.
    async fn hold(&mut self, mut next: Cart, sku: Sku, quantity: u64) -> Result<(), CartError> {
        let snapshot = self.env.catalog.snapshot();
        let (product, variant) = match snapshot.sku(&sku) {
            Some(SkuStatus::Listed(p, v)) => (p, v),
            Some(SkuStatus::Retired) => return Err(CatalogError::SkuRetired(sku).into()),
            None => return Err(CatalogError::SkuNotFound(sku.to_string()).into()),
        };
        if variant.price.currency != next.currency {
            return Err(CartError::CurrencyMismatch {
                sku,
                cart: next.currency.to_string(),
                price: variant.price.currency.to_string(),
            });
        }
        let settings = &self.env.settings;
        if quantity > settings.quantity_max {
            return Err(CartError::QuantityTooLarge {
                max: settings.quantity_max,
            });
        }
        if next.line(&sku).is_none() && next.lines.len() >= settings.lines_max {
            return Err(CartError::TooManyLines {
                max: settings.lines_max,
            });
        }
        let expires_at = next
            .updated_at
            .saturating_add(settings.reservation_ttl_secs.saturating_mul(1000));
        let line = CartLine {
            sku: sku.clone(),
            product_id: product.id.clone(),
            title: format!("{} ({})", product.title.as_str(), variant.title.as_str()),
            quantity,
            unit_price: variant.price,
            hold_expires_at: expires_at,
            unavailable: None,
        };
        match next.line_mut(&sku) {
            Some(existing) => *existing = line,
            None => next.lines.push(line),
        }
        let mut attach = WriteGroup::new();
        attach.put(keys::cart(next.id.as_str()), &next)?;
        let take = TakeHold {
            holder: next.id.hold(),
            customer: next.customer_id.clone(),
            quantity,
            expires_at,
            attach,
        };
        self.env.inventory.take_hold(&sku, take).await?;
        self.cart = next;
        Ok(())
    }

    /// Ends the line of `sku` and its hold, writing `next` without it.
    async fn release(&mut self, mut next: Cart, sku: Sku) -> Result<(), CartError> {
        let before = next.lines.len();
        next.lines.retain(|l| l.sku != sku);
        if next.lines.len() == before {
            return Err(CartError::LineNotFound(sku));
        }
        let mut attach = WriteGroup::new();
        attach.put(keys::cart(next.id.as_str()), &next)?;
        let released = self
            .env
            .inventory
            .release_hold(&sku, &next.id.hold(), attach.clone())
            .await;
        match released {
            Ok(_) => {}
            // The hold had lapsed already: only the cart changes.
            Err(InventoryError::Refused(SkuError::UnknownHold(_))) => {
                self.env.store.commit(attach).await?;
            }
            Err(e) => return Err(e.into()),
        }
        self.cart = next;
        Ok(())
    }
}
