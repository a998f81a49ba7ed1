//! One client's connection to the server and what it saw: every answer
//! counted by kind of actor and status, the orders acknowledged to it and
//! the admissions its tickets were given (the report and the invariant
//! check are built from these once the run is over).

use super::context::Context;
use super::identity::Actor;
use crate::bench::client::{Answer, Call, Connection};
use crate::clock::parse_rfc3339;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Requests of one kind of actor and how they were answered.
#[derive(Debug, Clone, Default, Serialize)]
pub struct KindCounts {
    pub requests: u64,
    /// Requests that got no answer, even on a fresh connection.
    pub transport_errors: u64,
    pub statuses: BTreeMap<u16, u64>,
}

/// An admission a ticket of the run was seen with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    pub ticket: String,
    pub customer: String,
    /// On the server's clock.
    pub expires_ms: u64,
}

/// What the clients saw, merged over all of them at the end.
#[derive(Debug, Default)]
pub struct Observed {
    pub counts: [KindCounts; Actor::ALL.len()],
    /// Orders acknowledged (201), with whom they were acknowledged to.
    pub orders: Vec<(String, Actor)>,
    pub admissions: Vec<Admission>,
}

impl Observed {
    pub fn merge(&mut self, other: Observed) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts) {
            mine.requests += theirs.requests;
            mine.transport_errors += theirs.transport_errors;
            for (status, n) in theirs.statuses {
                *mine.statuses.entry(status).or_default() += n;
            }
        }
        self.orders.extend(other.orders);
        self.admissions.extend(other.admissions);
    }
}

/// A ticket as `POST …/queue` and `GET /v1/queue/{ticket}` answer it.
#[derive(Debug, Deserialize)]
pub struct Ticket {
    pub ticket: String,
    pub status: String,
    #[serde(default)]
    pub eta_secs: u64,
    pub admission: Option<TicketAdmission>,
}

#[derive(Debug, Deserialize)]
pub struct TicketAdmission {
    pub token: String,
    pub expires_at: String,
}

#[derive(Deserialize)]
struct Order {
    order_id: String,
}

pub struct Session {
    pub ctx: Arc<Context>,
    actor: Actor,
    conn: Option<Connection>,
    pub seen: Observed,
}

impl Session {
    pub fn new(ctx: Arc<Context>, actor: Actor) -> Self {
        Self {
            ctx,
            actor,
            conn: None,
            seen: Observed::default(),
        }
    }

    /// Sends `call` and counts its answer; `None` when no answer came, even
    /// on a fresh connection (the server closes idle keep-alive
    /// connections, so one retry is expected now and then; every call of
    /// the drop is safe to repeat: joins by customer, purchases by key).
    pub async fn send(&mut self, call: &Call) -> Option<Answer> {
        self.ctx.count(self.actor);
        let counts = &mut self.seen.counts[self.actor.index()];
        counts.requests += 1;
        for _ in 0..2 {
            let mut conn = match self.conn.take() {
                Some(conn) => conn,
                None => match Connection::open(self.ctx.addr).await {
                    Ok(conn) => conn,
                    Err(_) => continue,
                },
            };
            if let Ok(answer) = conn.exchange(call).await {
                self.conn = Some(conn);
                *counts.statuses.entry(answer.status.as_u16()).or_default() += 1;
                return Some(answer);
            }
        }
        counts.transport_errors += 1;
        None
    }

    /// The ticket in a 2xx `answer` for `customer`, noting a sold-out SKU
    /// and any admission.
    pub fn ticket(&mut self, answer: &Answer, customer: &str) -> Option<Ticket> {
        if !answer.status.is_success() {
            return None;
        }
        let ticket: Ticket = serde_json::from_slice(&answer.body).ok()?;
        if ticket.status == "sold_out" {
            self.ctx.saw_sold_out();
        }
        if let Some(expires_ms) = ticket
            .admission
            .as_ref()
            .and_then(|a| parse_rfc3339(&a.expires_at))
        {
            self.seen.admissions.push(Admission {
                ticket: ticket.ticket.clone(),
                customer: customer.to_owned(),
                expires_ms,
            });
        }
        Some(ticket)
    }

    /// The order id of a purchase `answer` when it is a 201, which is then
    /// counted as acknowledged; notes a sold-out answer.
    pub fn order(&mut self, answer: &Answer) -> Option<String> {
        if answer.status.as_u16() == 409 && is_problem(answer, "sold-out") {
            self.ctx.saw_sold_out();
        }
        if answer.status.as_u16() != 201 {
            return None;
        }
        let order: Order = serde_json::from_slice(&answer.body).ok()?;
        self.seen.orders.push((order.order_id.clone(), self.actor));
        Some(order.order_id)
    }
}

/// Whether `answer` is a problem of type `code` (its `type` URI ends so).
pub fn is_problem(answer: &Answer, code: &str) -> bool {
    #[derive(Deserialize)]
    struct Problem {
        #[serde(rename = "type")]
        kind: String,
    }
    serde_json::from_slice::<Problem>(&answer.body)
        .is_ok_and(|p| p.kind.rsplit('/').next() == Some(code))
}
