//! A cart's checkout as its actor runs it: the steps that read or change the
//! cart (a retried request answered, the lines priced at today's catalog
//! prices, the cart frozen, and where it stands afterwards). The saga itself
//! (stock, payment, order) is `checkout`'s, which never touches the cart:
//! it writes the records the actor prepared ([`CartWrites`]).

use super::actor::CartActor;
use super::error::CartError;
use super::model::{Cart, CartState};
use crate::catalog::SkuStatus;
use crate::checkout::{
    CartAfter, CartWrites, CheckoutCarts, CheckoutPlan, CheckoutRequest, LineHold,
};
use crate::clock::{Clock, Millis};
use crate::domain::{CartId, Email, Money, OrderId, ShippingAddress, Sku};
use crate::idempotency::{request_digest, IdempotencyError};
use crate::order::{CheckoutOrder, Order, OrderLine};
use crate::payment::PaymentToken;
use crate::store::{keys, Store, StoreError, WriteGroup};
use std::sync::Arc;

/// What a shopper gives to check a cart out.
#[derive(Debug, Clone)]
pub struct CheckoutDetails {
    pub email: Email,
    pub shipping_address: Option<ShippingAddress>,
    pub payment_token: PaymentToken,
}

impl CheckoutDetails {
    /// The checkout of cart `cart` that makes order `order_id`. Its digest
    /// is what a retry with the same Idempotency-Key must repeat; orders
    /// keep it, so it must not change.
    pub(super) fn request(self, cart: &CartId, order_id: OrderId) -> CheckoutRequest {
        let address = self.shipping_address.as_ref();
        let request_digest = request_digest(&[
            cart.as_str().as_bytes(),
            self.email.as_str().as_bytes(),
            address.map_or("", ShippingAddress::as_str).as_bytes(),
            self.payment_token.as_str().as_bytes(),
        ]);
        CheckoutRequest {
            order_id,
            request_digest,
            email: self.email,
            shipping_address: self.shipping_address,
            payment_token: self.payment_token,
        }
    }
}

impl CartActor {
    /// Checks the cart out; `true` when the order existed (a retried
    /// request).
    pub(super) async fn checkout(
        &mut self,
        req: CheckoutRequest,
    ) -> Result<(Order, bool), CartError> {
        let checkouts = self.env.checkouts.clone();
        if let Some(existing) = checkouts.existing(&req.order_id)? {
            if existing.request_digest != req.request_digest
                || existing.cart_id.as_ref() != Some(&self.cart.id)
            {
                return Err(IdempotencyError::Reused.into());
            }
            return Ok((existing, true));
        }
        if self.cart.state == CartState::CheckingOut(req.order_id.clone()) {
            // A retry of a checkout waiting for the customer's action: it
            // goes on from where it stands (never a second payment).
            if let Some(pending) = checkouts.pending(&req.order_id)? {
                if pending.order.request_digest != req.request_digest {
                    return Err(IdempotencyError::Reused.into());
                }
                return Ok((self.resume_checkout(&req.order_id).await?, false));
            }
        }
        self.give_up_lapsed_action().await;
        self.ensure_open()?;
        let now = self.env.clock.now_ms();
        let order = self.price(&req, now)?;
        let started = self.cart.clone();
        let (frozen, checked_out) = (
            self.cart_as(
                CartState::CheckingOut(req.order_id.clone()),
                started.updated_at,
            ),
            self.cart_as(CartState::CheckedOut(req.order_id.clone()), now),
        );
        let plan = CheckoutPlan {
            cart: CartWrites {
                frozen: cart_group(&frozen)?,
                reopened: cart_group(&started)?,
                checked_out: cart_group(&checked_out)?,
            },
            holds: self.line_holds(),
            order,
            cart_id: self.cart.id.clone(),
            customer: self.cart.customer_id.clone(),
            token: req.payment_token,
        };
        self.cart = frozen.clone();
        let outcome = checkouts.run(plan).await;
        self.cart = match outcome.cart {
            CartAfter::Reopened => started,
            CartAfter::CheckedOut => checked_out,
            CartAfter::Frozen => frozen,
        };
        Ok((outcome.result?, false))
    }

    /// Goes on with the checkout of `id` if it waits for the customer's
    /// action; answers the order if that checkout already finished.
    pub(super) async fn resume_checkout(&mut self, id: &OrderId) -> Result<Order, CartError> {
        match &self.cart.state {
            CartState::CheckingOut(pending) if pending == id => {}
            CartState::CheckedOut(done) if done == id => {
                return self
                    .env
                    .checkouts
                    .existing(id)?
                    .ok_or(CartError::NoPendingCheckout);
            }
            _ => return Err(CartError::NoPendingCheckout),
        }
        let now = self.env.clock.now_ms();
        let frozen = self.cart.clone();
        let (reopened, checked_out) = (
            self.cart_as(CartState::Open, now),
            self.cart_as(CartState::CheckedOut(id.clone()), now),
        );
        let writes = CartWrites {
            frozen: cart_group(&frozen)?,
            reopened: cart_group(&reopened)?,
            checked_out: cart_group(&checked_out)?,
        };
        let outcome = self.env.checkouts.resume(id, writes, now).await;
        self.cart = match outcome.cart {
            CartAfter::Reopened => reopened,
            CartAfter::CheckedOut => checked_out,
            CartAfter::Frozen => frozen,
        };
        Ok(outcome.result?)
    }

    /// A checkout that waited for the customer's action longer than its
    /// holds last is given up (its payment voided) the next time the cart
    /// is used, so an abandoned 3-D Secure never freezes a cart for good.
    pub(super) async fn give_up_lapsed_action(&mut self) {
        let CartState::CheckingOut(id) = &self.cart.state else {
            return;
        };
        let id = id.clone();
        let lapsed = match self.env.checkouts.pending(&id) {
            Ok(Some(record)) => self.env.checkouts.lapsed(&record, self.env.clock.now_ms()),
            _ => false,
        };
        if lapsed {
            if let Err(e) = self.resume_checkout(&id).await {
                tracing::info!(order = %id, error = %e, "gave up a checkout whose payment action lapsed");
            }
        }
    }

    fn cart_as(&self, state: CartState, updated_at: Millis) -> Cart {
        let mut cart = self.cart.clone();
        cart.state = state;
        cart.updated_at = updated_at;
        cart
    }

    fn line_holds(&self) -> Vec<LineHold> {
        let lines = self.cart.lines.iter();
        lines
            .map(|l| LineHold {
                sku: l.sku.clone(),
                quantity: l.quantity,
                expires_at: l.hold_expires_at,
            })
            .collect()
    }

    /// The order the cart would become: every line must hold stock and still
    /// be sold, at today's catalog price, in the cart's currency.
    fn price(&self, req: &CheckoutRequest, now: Millis) -> Result<Order, CartError> {
        let cart = &self.cart;
        if cart.lines.is_empty() {
            return Err(CartError::Empty);
        }
        let snapshot = self.env.catalog.snapshot();
        let mut unavailable: Vec<Sku> = Vec::new();
        let mut lines = Vec::with_capacity(cart.lines.len());
        let mut total = Money {
            amount: 0,
            currency: cart.currency,
        };
        for line in &cart.lines {
            let price = match snapshot.sku(&line.sku) {
                Some(SkuStatus::Listed(_, variant)) if line.unavailable.is_none() => variant.price,
                _ => {
                    unavailable.push(line.sku.clone());
                    continue;
                }
            };
            let line_total = price
                .times(line.quantity)
                .filter(|t| t.currency == cart.currency);
            let Some((line_total, sum)) = line_total.and_then(|t| Some((t, total.plus(t)?))) else {
                unavailable.push(line.sku.clone());
                continue;
            };
            total = sum;
            lines.push(OrderLine {
                sku: line.sku.clone(),
                product_id: line.product_id.clone(),
                quantity: line.quantity,
                unit_price: price,
                line_total,
            });
        }
        if !unavailable.is_empty() {
            return Err(CartError::LinesUnavailable(unavailable));
        }
        let order = CheckoutOrder {
            id: req.order_id.clone(),
            cart_id: cart.id.clone(),
            customer_id: cart.customer_id.clone(),
            lines,
            total,
            request_digest: req.request_digest,
            email: req.email.clone(),
            shipping_address: req.shipping_address.clone(),
        };
        Ok(Order::checkout(order, now))
    }
}

/// A write group holding `cart`.
fn cart_group(cart: &Cart) -> Result<WriteGroup, StoreError> {
    let mut group = WriteGroup::new();
    group.put(keys::cart(cart.id.as_str()), cart)?;
    Ok(group)
}

/// Settles the carts of checkouts that start-up recovery finishes or
/// compensates, straight in the store (no cart actor runs yet).
pub struct StoredCarts {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
}

impl CheckoutCarts for StoredCarts {
    fn settle(
        &self,
        group: &mut WriteGroup,
        cart: &CartId,
        order: Option<&OrderId>,
    ) -> Result<(), StoreError> {
        let key = keys::cart(cart.as_str());
        if let Some(mut cart) = self.store.get::<Cart>(&key)? {
            cart.state = order.map_or(CartState::Open, |id| CartState::CheckedOut(id.clone()));
            cart.updated_at = self.clock.now_ms();
            group.put(key, &cart)?;
        }
        Ok(())
    }
}
