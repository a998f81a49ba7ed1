//! A human at a drop: arrives at its time, joins the waiting room once,
//! waits as the ticket says (`eta_secs`, looking again no sooner than a
//! second and no later than ten), honours `Retry-After` on 429 and 503,
//! and once admitted buys one unit with the admission, retrying with the
//! same Idempotency-Key until it gets an answer that is not "later".

use super::calls;
use super::context::Context;
use super::fidelity::Timeline;
use super::identity::{human_address, Actor};
use super::session::{is_problem, Observed, Session, Ticket};
use crate::bench::client::{Answer, Call};
use crate::clock::parse_rfc3339;
use serde::Serialize;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// Bounds of the wait between two looks at a waiting ticket: a person
/// does not reload faster than this, nor leave the page for longer.
const LOOK_MIN: Duration = Duration::from_secs(1);
const LOOK_MAX: Duration = Duration::from_secs(10);
/// The wait after a 429/503 without `Retry-After`, or no answer at all.
const RETRY_DEFAULT: Duration = Duration::from_secs(1);

/// How a human's visit ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Bought,
    /// The ticket read `sold_out`.
    SoldOut,
    /// An answer that is neither success nor "later" (the status).
    Refused(u16),
    /// The run's deadline came first.
    TimedOut,
}

pub struct Visit {
    pub timeline: Timeline,
    pub outcome: Outcome,
    /// When the visit ended (ms since the run began).
    pub ended_ms: u64,
    pub seen: Observed,
}

struct Human {
    session: Session,
    customer: String,
    token: String,
    from: IpAddr,
    timeline: Timeline,
}

/// Human `i`, arriving `arrives` after the run began.
pub async fn visit(ctx: Arc<Context>, i: usize, arrives: Duration) -> anyhow::Result<Visit> {
    let customer = ctx.ids.customer(Actor::Human, i as u64);
    let mut human = Human {
        token: ctx.ids.token(&customer)?,
        session: Session::new(ctx.clone(), Actor::Human),
        customer,
        from: human_address(i),
        timeline: Timeline::default(),
    };
    let outcome = if ctx.sleep(arrives).await {
        human.live().await.unwrap_or_else(|ended| ended)
    } else {
        Outcome::TimedOut
    };
    Ok(Visit {
        timeline: human.timeline,
        outcome,
        ended_ms: ctx.now_ms(),
        seen: human.session.seen,
    })
}

impl Human {
    /// Join, wait, buy; `Err` is how the visit ended early.
    async fn live(&mut self) -> Result<Outcome, Outcome> {
        let ticket = self.join().await?;
        let admission = self.wait(ticket).await?;
        self.buy(&admission).await
    }

    async fn join(&mut self) -> Result<Ticket, Outcome> {
        let ctx = self.session.ctx.clone();
        let call = calls::join(&ctx.sku, Some(&self.token), None, self.from);
        let (sent, answer) = self.settle(&call).await?;
        let ticket = self.session.ticket(&answer, &self.customer);
        self.timeline.join_sent_ms = sent;
        self.timeline.join_answered_ms = ctx.now_ms();
        ticket.ok_or(Outcome::Refused(answer.status.as_u16()))
    }

    /// Waits as told until admitted; the admission token.
    async fn wait(&mut self, mut ticket: Ticket) -> Result<String, Outcome> {
        let ctx = self.session.ctx.clone();
        loop {
            match (ticket.status.as_str(), ticket.admission) {
                ("admitted", Some(admission)) => {
                    self.timeline.admission_expires_ms = parse_rfc3339(&admission.expires_at);
                    return Ok(admission.token);
                }
                ("sold_out", _) => return Err(Outcome::SoldOut),
                ("waiting", _) => {
                    let told = Duration::from_secs(ticket.eta_secs).clamp(LOOK_MIN, LOOK_MAX);
                    if !ctx.sleep(told).await {
                        return Err(Outcome::TimedOut);
                    }
                }
                _ => return Err(Outcome::Refused(200)),
            }
            let (_, answer) = self
                .settle(&calls::read_ticket(&ticket.ticket, self.from))
                .await?;
            ticket = self
                .session
                .ticket(&answer, &self.customer)
                .ok_or(Outcome::Refused(answer.status.as_u16()))?;
        }
    }

    /// Buys one unit with `admission`, the same key on every try.
    async fn buy(&mut self, admission: &str) -> Result<Outcome, Outcome> {
        let ctx = self.session.ctx.clone();
        let key = format!("{}-buy", self.customer);
        let call = calls::purchase(
            &ctx.sku,
            Some(&self.token),
            None,
            key,
            Some(admission),
            self.from,
        );
        let (_, answer) = self.settle(&call).await?;
        match self.session.order(&answer) {
            Some(_) => {
                self.timeline.bought_ms = Some(ctx.now_ms());
                Ok(Outcome::Bought)
            }
            None => Err(Outcome::Refused(answer.status.as_u16())),
        }
    }

    /// Sends `call` until the answer is not "later" (none, 429, 503, or
    /// the key still in use), waiting as told between tries; when the
    /// answering try was sent (ms), and the answer.
    async fn settle(&mut self, call: &Call) -> Result<(u64, Answer), Outcome> {
        loop {
            let sent = self.session.ctx.now_ms();
            match self.session.send(call).await {
                Some(answer) if !is_later(&answer) => return Ok((sent, answer)),
                answer => self.pause(answer.as_ref()).await?,
            }
        }
    }

    /// Waits as the server said (`Retry-After`), or a second.
    async fn pause(&self, answer: Option<&Answer>) -> Result<(), Outcome> {
        let wait = answer
            .and_then(|a| a.retry_after_secs)
            .map_or(RETRY_DEFAULT, Duration::from_secs);
        if self.session.ctx.sleep(wait).await {
            Ok(())
        } else {
            Err(Outcome::TimedOut)
        }
    }
}

/// An answer that says "not now, try again": overload, a rate limit, or
/// the same purchase still running.
fn is_later(answer: &Answer) -> bool {
    match answer.status.as_u16() {
        429 | 503 => true,
        409 => is_problem(answer, "idempotency-key-in-use"),
        _ => false,
    }
}
