//! surge: a commerce core in one binary.
//!
//! Layout (see `DESIGN.md` in the shared docs for the why):
//! - [`domain`]: value types (money, ids, bounded text), parsed at the edge.
//! - [`store`]: the only module that knows sled; the Committer is the
//!   process's durability boundary (group commit, one flush per batch).
//! - [`catalog`]: products and SKUs, read from an in-memory snapshot.
//! - [`inventory`]: one actor per SKU owns its stock (holds, sales, limits);
//!   published availability serves reads without messages.
//! - [`cart`]: one actor per cart; lines hold stock.
//! - [`checkout`]: the checkout saga and its start-up recovery.
//! - [`order`]: orders and their life (pay, cancel, fulfil, refund).
//! - [`events`]: business events, written to a durable outbox with their change.
//! - [`queue`]: a waiting room per drop: lottery before the start, then
//!   first come first served; purchases need a signed admission.
//! - [`payment`]: the payment gateway behind timeouts, retries, circuit
//!   breakers and a fallback; card data stays tokens.
//! - [`clock`]: injected time.
//! - [`http`]: the actix-web API; the only module that knows HTTP.
//! - [`config`], [`secrets`], [`telemetry`]: settings, the admin token, logs
//!   and metrics.
//! - [`virtual_actors`]: the registry that activates, reaches and
//!   passivates SKU and cart actors.
//! - [`backup`]: online backups of a running node (a copy plus the commits
//!   made meanwhile), `surge backup` and `surge restore`.
//! - [`check`]: `surge check`, an offline check of a stopped store's
//!   records and invariants.
//! - [`startup`]: wires everything together; the only module that knows every
//!   piece.

pub mod backup;
pub mod bench;
pub mod cart;
pub mod catalog;
pub mod check;
pub mod checkout;
pub mod clock;
pub mod config;
pub mod domain;
pub mod events;
pub mod http;
pub mod idempotency;
pub mod inventory;
pub mod order;
pub mod payment;
pub mod payment_events;
pub mod queue;
pub mod secrets;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod virtual_actors;
