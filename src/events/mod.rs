//! Business events. Every event (an order created, paid, cancelled; stock
//! changed; a reservation expired) is written to the durable [`Outbox`] in
//! the same write group as the change that caused it, so an event exists if
//! and only if its change does. Delivery (webhooks) reads the outbox after
//! the commit. Public stock changes also go to the in-memory
//! [`StockFeed`](crate::inventory::StockFeed) behind the live event stream.

mod outbox;

pub use outbox::{Event, EventKind, Outbox};
