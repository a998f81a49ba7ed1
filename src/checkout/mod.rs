//! Checkout: a saga with durable steps that turns a cart into a paid order.
//!
//! 1. validate and price the cart (current catalog prices; the cart actor
//!    does this, see `cart::checkout`);
//! 2. record the checkout (`checkout/<order>`) and freeze the cart;
//! 3. extend every line's hold to `cart.checkout_hold_secs`;
//! 4. authorize the payment, and record the authorization;
//! 5. sell each line's hold; each SKU's commit also writes the order
//!    (status `paid`) and the checkout's progress, so stock is never sold
//!    without its order and the record always knows how far it got;
//! 6. capture the payment; 7. drop the record, mark the cart checked out.
//!
//! Compensation policy: a failure before any stock is sold voids the
//! authorization (if any) and reopens the cart with its holds kept until
//! their TTL, so the shopper can fix the cart or the card and retry. A
//! failure after some lines sold cancels the order: the sold lines return
//! to stock and the authorization is voided. After `kill -9`, start-up
//! ([`recovery`]) finishes every checkout that sold at least one line and
//! compensates every other one before anything else runs.
//!
//! The saga does not know carts: the cart actor runs it with the cart's
//! records to write ([`CartWrites`]), and recovery settles a cart through
//! [`CheckoutCarts`], which the cart module implements.

mod error;
mod pending;
pub mod recovery;
mod saga;

pub use error::CheckoutError;
pub use recovery::CheckoutCarts;
pub use saga::{
    CartAfter, CartWrites, CheckoutPlan, CheckoutRecord, CheckoutRequest, CheckoutStep, Checkouts,
    LineHold, Outcome,
};
