//! The bots of a drop. Each bot connection plays one kind (dealt in turn:
//! no token, forged token, sock puppets, hammer) and sends as fast as its
//! budget allows (`Context::bot_turn`: the bots together keep to
//! `--bot-ratio` times the humans' requests). Bots never wait as told:
//! a 429's `Retry-After` is ignored, a ticket is read again at once.
//!
//! They are as smart as a bot can be within their kind: whoever holds an
//! admission uses it, so whatever units bots get is what the front door
//! let through, not what a lazy bot forgot to take.

use super::calls;
use super::context::Context;
use super::identity::{botnet_address, hammer_address, Actor, PUPPET_ADDRESS};
use super::session::{Observed, Session};
use std::sync::Arc;

/// Accounts one sock-puppet connection joins with, at most.
const PUPPETS_PER_CONNECTION: usize = 100;

/// Bot connection `n` of kind `kind`, until the run is over.
pub async fn run(ctx: Arc<Context>, kind: Actor, n: usize) -> anyhow::Result<Observed> {
    let mut session = Session::new(ctx, kind);
    match kind {
        Actor::Puppet => puppets(&mut session, n).await?,
        Actor::Hammer => hammer(&mut session, n).await?,
        _ => impostor(&mut session, kind, n).await?,
    }
    Ok(session.seen)
}

/// No token, or a forged one; a fresh customer and a fresh address of a
/// botnet each time, joining and buying in turn.
async fn impostor(session: &mut Session, kind: Actor, n: usize) -> anyhow::Result<()> {
    let ctx = session.ctx.clone();
    for k in 0u64.. {
        if !ctx.bot_turn().await {
            break;
        }
        let customer = ctx.ids.customer(kind, ((n as u64) << 32) | k);
        let (token, named) = match kind {
            Actor::Forged => (Some(ctx.ids.forged(&customer, k)?), None),
            // Without a token the body must name the buyer.
            _ => (None, Some(customer.as_str())),
        };
        let from = botnet_address();
        if k % 2 == 0 {
            let call = calls::join(&ctx.sku, token.as_deref(), named, from);
            if let Some(answer) = session.send(&call).await {
                session.ticket(&answer, &customer);
            }
        } else {
            let key = format!("{customer}-buy");
            let call = calls::purchase(&ctx.sku, token.as_deref(), named, key, None, from);
            if let Some(answer) = session.send(&call).await {
                session.order(&answer);
            }
        }
    }
    Ok(())
}

/// One of a sock puppet's accounts and where it stands.
struct Puppet {
    customer: String,
    token: String,
    ticket: String,
    admission: Option<String>,
    /// Bought, or its admission was refused: nothing more to do.
    done: bool,
    /// When its ticket should be admitted, by the last `eta_secs` it read
    /// (ms since the run began): the farm watches the soonest first.
    due_ms: u64,
}

/// Many real accounts behind one address: buy with any admission held;
/// else join with another account and read the ticket due soonest, in
/// turn. One address's read budget cannot watch many tickets, so it
/// watches those that should come up first.
async fn puppets(session: &mut Session, n: usize) -> anyhow::Result<()> {
    let ctx = session.ctx.clone();
    let mut farm: Vec<Puppet> = Vec::new();
    for k in 0u64.. {
        if !ctx.bot_turn().await {
            break;
        }
        let full = farm.len() >= PUPPETS_PER_CONNECTION;
        let id = ((n as u64) << 32) | farm.len() as u64;
        let watched = farm
            .iter_mut()
            .filter(|p| !p.done)
            .min_by_key(|p| (p.admission.is_none(), p.due_ms));
        match watched {
            Some(p) if p.admission.is_some() => buy_as_puppet(session, p).await,
            Some(p) if k % 2 == 1 || full => read_as_puppet(session, p).await,
            _ if !full => farm.extend(join_as_puppet(session, id).await?),
            // Every account is done: hammer the purchase anyway.
            _ => {
                let p = &farm[k as usize % farm.len()];
                let key = format!("{}-{k}", p.customer);
                let call =
                    calls::purchase(&ctx.sku, Some(&p.token), None, key, None, PUPPET_ADDRESS);
                if let Some(answer) = session.send(&call).await {
                    session.order(&answer);
                }
            }
        }
    }
    Ok(())
}

async fn join_as_puppet(session: &mut Session, id: u64) -> anyhow::Result<Option<Puppet>> {
    let ctx = session.ctx.clone();
    let customer = ctx.ids.customer(Actor::Puppet, id);
    let token = ctx.ids.token(&customer)?;
    let call = calls::join(&ctx.sku, Some(&token), None, PUPPET_ADDRESS);
    let Some(answer) = session.send(&call).await else {
        return Ok(None);
    };
    Ok(session.ticket(&answer, &customer).map(|ticket| Puppet {
        due_ms: ctx.now_ms() + ticket.eta_secs * 1000,
        customer,
        token,
        ticket: ticket.ticket,
        admission: ticket.admission.map(|a| a.token),
        done: false,
    }))
}

async fn read_as_puppet(session: &mut Session, p: &mut Puppet) {
    let call = calls::read_ticket(&p.ticket, PUPPET_ADDRESS);
    let Some(answer) = session.send(&call).await else {
        return;
    };
    if let Some(ticket) = session.ticket(&answer, &p.customer) {
        p.due_ms = session.ctx.now_ms() + ticket.eta_secs * 1000;
        p.admission = ticket.admission.map(|a| a.token);
    }
}

async fn buy_as_puppet(session: &mut Session, p: &mut Puppet) {
    let key = format!("{}-buy", p.customer);
    let admission = p.admission.as_deref();
    let call = calls::purchase(
        &session.ctx.sku,
        Some(&p.token),
        None,
        key,
        admission,
        PUPPET_ADDRESS,
    );
    if let Some(answer) = session.send(&call).await {
        let status = answer.status.as_u16();
        p.done = session.order(&answer).is_some() || matches!(status, 403 | 409 | 422);
    }
}

/// What a hammering bot does next.
enum Move {
    Join,
    Read(String),
    BuyWith(String),
    BuyWithout,
}

/// A real account on an address of its own: joins once, then hammers the
/// purchase without an admission and reads its ticket again without
/// waiting, in turn; buys with the admission once it has one.
async fn hammer(session: &mut Session, n: usize) -> anyhow::Result<()> {
    let ctx = session.ctx.clone();
    let customer = ctx.ids.customer(Actor::Hammer, n as u64);
    let token = ctx.ids.token(&customer)?;
    let from = hammer_address(n);
    let (mut ticket, mut admission, mut spent) = (None::<String>, None::<String>, false);
    for k in 0u64.. {
        if !ctx.bot_turn().await {
            break;
        }
        let next = match (&ticket, &admission) {
            (None, _) => Move::Join,
            (Some(_), Some(held)) if !spent => Move::BuyWith(held.clone()),
            (Some(id), _) if k % 2 == 1 => Move::Read(id.clone()),
            (Some(_), _) => Move::BuyWithout,
        };
        let call = match &next {
            Move::Join => calls::join(&ctx.sku, Some(&token), None, from),
            Move::Read(id) => calls::read_ticket(id, from),
            Move::BuyWith(held) => {
                let key = format!("{customer}-buy");
                calls::purchase(&ctx.sku, Some(&token), None, key, Some(held), from)
            }
            Move::BuyWithout => {
                let key = format!("{customer}-{k}");
                calls::purchase(&ctx.sku, Some(&token), None, key, None, from)
            }
        };
        let Some(answer) = session.send(&call).await else {
            continue;
        };
        match next {
            Move::Join | Move::Read(_) => {
                if let Some(read) = session.ticket(&answer, &customer) {
                    ticket = Some(read.ticket);
                    admission = admission.or(read.admission.map(|a| a.token));
                }
            }
            Move::BuyWith(_) => {
                let status = answer.status.as_u16();
                spent = session.order(&answer).is_some() || matches!(status, 403 | 409 | 422);
            }
            Move::BuyWithout => {
                session.order(&answer);
            }
        }
    }
    Ok(())
}
