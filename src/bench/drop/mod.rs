//! `surge bench drop`: a drop through the waiting room, with people and
//! bots at the door.
//!
//! The run creates one SKU with `--stock` units and a sale limited to one
//! unit per customer whose waiting room admits `--admit-per-sec`. The
//! sale opens a fifth of the way into `--arrive-over`, over which the
//! `--humans` arrive evenly: the early ones go through the lottery, the
//! rest first come, first served. Humans ([`human`]) have a real account
//! (a customer token the bench mints, as the merchant's site would) and
//! an address of their own; they join once, wait as told and buy once
//! admitted. Bots ([`bots`]) send `--bot-ratio` times the humans'
//! requests: without a token, with forged ones, as many accounts behind
//! one address, or hammering from real accounts. Unlike the other
//! scenarios this is not a closed loop of uniform requests but a crowd of
//! small state machines, one tokio task each.
//!
//! The run ends when every human is done (bought, sold out, refused) or at
//! `--duration`; the [`audit`] then reads the orders back and checks the
//! invariants, and the [`report`] says who got the units, how the
//! requests were answered and how far humans were served in queue order
//! ([`fidelity`]).
//!
//! The in-process server gets what a drop needs ([`configure`]): a random
//! customer token secret, per-address rate limits, and 127.0.0.1 as a
//! trusted proxy so that each simulated client can name its own address in
//! `X-Forwarded-For`. A server at `--url` must have the same: its secret
//! given to the bench, and the bench's address among its trusted proxies,
//! or every client is one address to its per-address limits.

mod audit;
mod bots;
mod calls;
mod context;
mod fidelity;
mod human;
mod identity;
mod report;
mod session;
mod setup;

use super::scenario::{Plan, Scenario};
use super::target::Target;
use super::{BenchArgs, Mix};
use crate::config::Settings;
use anyhow::Context as _;
use context::Context;
use human::Visit;
use hyper::Method;
use identity::{Actor, Identities};
use report::{DropReport, Humans, Setup};
use session::Observed;
use setup::{configure, open_sale, random_secret, Drop, PER_CUSTOMER_LIMIT};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs the drop; `Ok(false)` when an invariant was violated.
pub fn run(args: &BenchArgs, runtime: &tokio::runtime::Runtime) -> anyhow::Result<bool> {
    let drop = Drop::from_args(args)?;
    let (target, secret) = match &args.url {
        Some(url) => {
            let secret = args.customer_token_secret.clone().context(
                "a drop against --url needs the server's customer token secret \
                 (--customer-token-secret or SURGE_CUSTOMERS__TOKEN_SECRET)",
            )?;
            let admin = args.admin_token.clone().unwrap_or_default();
            (runtime.block_on(Target::remote(url, admin))?, secret)
        }
        None => {
            let secret = match &args.customer_token_secret {
                Some(secret) => secret.clone(),
                None => random_secret()?,
            };
            let mut settings = Settings::load(args.config.as_deref())?;
            configure(&mut settings, &secret);
            (Target::in_process(settings)?, secret)
        }
    };
    let report = runtime.block_on(measure(&drop, &target, &secret));
    target.stop()?;
    let report = report?;
    report.print();
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)?;
    }
    Ok(report.invariants.violations.is_empty())
}

async fn measure(drop: &Drop, target: &Target, secret: &str) -> anyhow::Result<DropReport> {
    let plan = Plan::new(Scenario::Drop, 1, Mix::default());
    let sku = plan.sku(0);
    for body in plan.setup_products(drop.stock) {
        target
            .admin(Method::POST, "/v1/admin/products".into(), Some(body))
            .await?;
    }
    let start = drop.arrive_over / 5;
    let began = Instant::now();
    open_sale(target, &sku, start, drop.admit_per_sec).await?;
    let ids = Identities::new(plan.run_id(), secret);
    let ctx = Arc::new(Context::new(
        target.addr,
        (sku, ids),
        began,
        (start, drop.duration),
        drop.bot_ratio,
    ));
    let (visits, seen) = crowd(&ctx, drop).await?;
    let elapsed = began.elapsed();
    let audit = audit::audit(&ctx, target, &seen, PER_CUSTOMER_LIMIT).await?;
    let setup = Setup {
        stock: drop.stock,
        humans: drop.humans,
        bot_connections: drop.bot_connections,
        bot_ratio_wanted: drop.bot_ratio,
        admit_per_sec: drop.admit_per_sec,
        arrive_over_secs: drop.arrive_over.as_secs_f64(),
        sale_starts_after_secs: start.as_secs_f64(),
    };
    Ok(report(&ctx, target, elapsed, setup, &visits, seen, audit))
}

/// Runs the humans and the bots until every human is done (or the
/// deadline); each human's visit, and what every client saw.
async fn crowd(ctx: &Arc<Context>, drop: &Drop) -> anyhow::Result<(Vec<Visit>, Observed)> {
    let bots: Vec<_> = (0..drop.bot_connections)
        .filter(|_| drop.bot_ratio > 0.0)
        .map(|n| {
            let kind = Actor::BOTS[n % Actor::BOTS.len()];
            tokio::spawn(bots::run(ctx.clone(), kind, n / Actor::BOTS.len()))
        })
        .collect();
    let humans: Vec<_> = (0..drop.humans)
        .map(|i| {
            let arrives = drop.arrive_over.mul_f64(i as f64 / drop.humans as f64);
            tokio::spawn(human::visit(ctx.clone(), i, arrives))
        })
        .collect();
    let progress = tokio::spawn(show_progress(ctx.clone()));
    let mut visits = Vec::with_capacity(humans.len());
    let mut seen = Observed::default();
    for human in humans {
        let mut visit = human.await??;
        seen.merge(std::mem::take(&mut visit.seen));
        visits.push(visit);
    }
    ctx.stop();
    for bot in bots {
        seen.merge(bot.await??);
    }
    progress.abort();
    Ok((visits, seen))
}

/// A line every two seconds on stderr: requests so far.
async fn show_progress(ctx: Arc<Context>) {
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (humans, bots) = ctx.requests();
        eprintln!(
            "[{:>5.1}s] requests: humans {humans}, bots {bots}",
            ctx.began.elapsed().as_secs_f64()
        );
    }
}

fn report(
    ctx: &Context,
    target: &Target,
    elapsed: Duration,
    setup: Setup,
    visits: &[Visit],
    seen: Observed,
    audit: audit::Audit,
) -> DropReport {
    let ratio = |(humans, bots): (u64, u64)| bots as f64 / humans.max(1) as f64;
    let timelines: Vec<_> = visits.iter().map(|v| v.timeline).collect();
    let sold_out = ctx.sold_out();
    let requests = Actor::ALL
        .into_iter()
        .zip(seen.counts)
        .map(|(actor, counts)| (actor.name(), counts))
        .collect();
    DropReport {
        scenario: "drop",
        target: target.description.clone(),
        elapsed_secs: elapsed.as_secs_f64(),
        setup,
        requests,
        bot_ratio: ratio(ctx.requests()),
        bot_ratio_until_sold_out: sold_out.map(|s| ratio((s.human_requests, s.bot_requests))),
        sold_out_after_secs: sold_out.map(|s| s.at_ms as f64 / 1000.0),
        bot_share: report::bot_share(&audit.units),
        units: audit.units,
        humans: Humans::of(visits),
        queue_order: fidelity::measure(&timelines, ctx.start_ms),
        admissions_seen: audit.admissions_seen,
        admissions_lapsed: audit.admissions_lapsed,
        invariants: audit.invariants,
    }
}
