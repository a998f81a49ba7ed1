//! Business events. Every event (an order created, paid, cancelled; stock
//! changed; a reservation expired) is written to the durable [`Outbox`] in
//! the same write group as the change that caused it, so an event exists if
//! and only if its change does. The [`delivery`] worker then sends each
//! event, signed, at least once to the [`Webhooks`] that want it. Public
//! stock changes also go to the in-memory feed of
//! [`Availability`](crate::inventory::Availability::subscribe) behind the
//! live event stream.

pub mod delivery;
mod outbox;
mod schedule;
mod sender;
mod settings;
pub mod signature;
mod webhook;
mod webhooks;

pub use delivery::Delivery;
pub use outbox::{event_id, Event, EventKind, Outbox};
pub use settings::EventSettings;
pub use webhook::{check_url, Webhook, SECRET_LEN_MAX, URL_LEN_MAX};
pub use webhooks::{WebhookError, Webhooks};
