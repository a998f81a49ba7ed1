//! Errors as HTTP: every failure leaves as `application/problem+json`
//! (RFC 9457) with a stable `type`, built in this folder only.
//!
//! Handlers return [`ApiError`] (`api_error`). Each capability's closed
//! error list becomes one through a `From` impl in a file of its own
//! (`backup`, `catalog`, `commerce`, `inventory`, `queue`, `store`) that takes the `type` from
//! the error's `code()` (where it has one) and decides only the status and
//! the facts shown.
//! `edge` answers what fails before any handler runs: malformed bodies,
//! paths and queries, unknown routes. 5xx bodies say nothing about
//! internals; the cause goes to the log.

mod api_error;
mod backup;
mod catalog;
mod commerce;
pub mod edge;
mod inventory;
mod queue;
mod store;

pub use api_error::{ApiError, Problem};
