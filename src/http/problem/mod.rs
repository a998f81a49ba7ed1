//! Errors as HTTP: every failure leaves as `application/problem+json`
//! (RFC 9457) with a stable `type`, built in this folder only. Handlers
//! return [`ApiError`] (`api_error`); each capability's closed error list
//! becomes one by its own `From` impl, which takes the `type` from the
//! error's `code()` and decides only the status and the facts shown
//! (`commerce`, `inventory`); `edge` answers what fails before any handler
//! runs (malformed bodies, paths and queries, unknown routes). 5xx bodies
//! say nothing about internals; the cause goes to the log.

mod api_error;
mod commerce;
pub mod edge;
mod inventory;

pub use api_error::{ApiError, Problem};
