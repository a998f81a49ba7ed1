//! Payments: authorize, capture, void and refund at a payment gateway.
//!
//! Checkout authorizes before it commits an order and captures after, so the
//! gateway is on the purchase path: this module makes it a well-behaved
//! dependency. Every operation carries an op key and is idempotent by it, so
//! a call that timed out can be retried without charging twice; [`Payments`]
//! adds timeouts, retries with backoff, a circuit breaker per gateway and a
//! fallback gateway for authorizations. [`PaymentError`] tells callers what
//! to do next: a decline is final, a timeout or failure may be retried,
//! unavailable means back off.
//!
//! surge never sees a card number: clients pay with a [`PaymentToken`] from
//! the provider. Two gateways: [`SimulatedGateway`] (the default, for tests,
//! demos and benchmarks) and [`stripe::StripeGateway`] (`[payment] provider
//! = "stripe"`), whose payments may wait for the customer (3-D Secure).

mod authorization;
mod breaker;
mod error;
mod gateway;
mod resilient;
mod settings;
mod simulated;
pub mod stripe;
mod token;

pub use authorization::Authorization;
pub use error::{PaymentError, PendingAction};
pub use gateway::{BoxFuture, PaymentGateway};
pub use resilient::{Payments, ResilienceSettings};
pub use settings::{PaymentProvider, PaymentSettings, STRIPE_API_BASE};
pub use simulated::{SimulatedGateway, SimulatedSettings, SimulatedStats};
pub use token::{PaymentToken, TOKEN_LEN_MAX};
