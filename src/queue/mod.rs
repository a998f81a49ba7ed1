//! Waiting rooms: one per SKU whose sale turns it on, so that a drop's
//! stock goes to people in a fair order instead of to whoever hammers the
//! purchase route fastest.
//!
//! A customer joins (one ticket per customer and SKU) and waits. Tickets
//! taken before the sale starts are lined up by lottery, later ones first
//! come first served ([`line`]). The [`admitter`] lets the front of the
//! line in, at most `admit_per_sec` a second and never more outstanding
//! admissions than units available; an admission is a signed token
//! ([`token`]) valid `admission_ttl_secs`, and while the room is on a
//! purchase needs one ([`pass`]), used once, in the same commit as the
//! order. With no unit left and no admission outstanding, every waiting
//! ticket reads `sold_out`. Every ticket and admission is durable before
//! anyone sees it ([`persist`]), so a restart (kill -9 included) finds the
//! same tickets in the same order.
//!
//! [`Queues`] is the handle; [`line`] the pure state of one room.
//! It depends on inventory (units available); orders depend on it.

mod admitter;
mod error;
pub mod line;
mod pass;
mod persist;
mod queues;
mod rules;
mod settings;
mod ticket;
mod token;

pub use admitter::{run, ROUND};
pub use error::{QueueError, Refusal};
pub use line::{Place, Status};
pub use pass::Pass;
pub use queues::{QueueChange, QueueParts, Queues, TicketState, TicketWatch};
pub use settings::{QueueSettings, ADMIT_PER_SEC_MAX};
pub use ticket::{QueueRecord, TicketId, TicketRecord, TICKET_ID_PATTERN};
pub use token::TOKEN_LEN_MAX;
