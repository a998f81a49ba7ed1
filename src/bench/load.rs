//! The load itself: `connections` tasks, each with one keep-alive connection,
//! in a closed loop (send, wait, send) or an open loop at a fixed rate. In the
//! open loop latency is measured from when a request was *due*, not when it
//! was sent, so a stalled server cannot hide its queueing (no coordinated
//! omission).

use super::client::{Call, Connection};
use super::scenario::{Plan, Scenario};
use super::shopper::{Shopper, Step};
use hdrhistogram::Histogram;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// How long a flash sale keeps going after the first sold-out answer.
const AFTER_SOLD_OUT: Duration = Duration::from_secs(2);

pub struct Load {
    pub addr: SocketAddr,
    pub connections: usize,
    /// Stop after this long (always set: a default applies).
    pub duration: Duration,
    /// Stop after this many requests in total.
    pub requests: Option<u64>,
    /// Open loop at this many requests per second in total.
    pub rate: Option<f64>,
    /// Load before `duration` that is not measured (its purchases still
    /// count as created).
    pub warmup: Duration,
    /// Flash sale: stop `AFTER_SOLD_OUT` after the first sold-out answer.
    pub until_sold_out: bool,
}

/// What the connections saw; shared live for the progress display.
#[derive(Default)]
pub struct Live {
    pub done: AtomicU64,
    pub errors: AtomicU64,
    issued: AtomicU64,
    sold_out_at: OnceLock<Instant>,
    /// Connections opened so far, and when the last one was: the clock of
    /// the run starts only then, so connection set-up never counts as
    /// request latency (in the open loop it would look like a stall).
    opened: AtomicU64,
    started: OnceLock<Instant>,
}

impl Live {
    /// Counts one connection as opened and waits until all `of` are.
    async fn start_together(&self, of: usize) -> Instant {
        if self.opened.fetch_add(1, Ordering::AcqRel) + 1 >= of as u64 {
            let _ = self.started.set(Instant::now());
        }
        loop {
            if let Some(at) = self.started.get() {
                return *at;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// A latency histogram in µs, from 1 µs to a minute, 3 significant digits.
fn histogram() -> Result<Histogram<u64>, hdrhistogram::CreationError> {
    Histogram::new_with_bounds(1, 60_000_000, 3)
}

/// Results of one load thread (all its connections record into one, as wrk
/// does: an HDR histogram is ~140 KB, and one set per connection is half a
/// gigabyte at a thousand connections whose first touch of fresh pages stalls
/// the client for hundreds of ms), merged into the run's.
pub struct Stats {
    /// Latency in microseconds.
    pub latency: Histogram<u64>,
    /// Latency of the requests the server accepted (2xx), and of those it
    /// refused for overload (429/503): under overload they tell apart what
    /// admitted buyers see from how fast the excess is turned away.
    pub accepted: Histogram<u64>,
    pub refused: Histogram<u64>,
    /// Latency by step (`purchase`, `checkout`, …): in a mix, which step
    /// is slow.
    pub steps: BTreeMap<&'static str, Histogram<u64>>,
    pub statuses: BTreeMap<u16, u64>,
    pub errors: u64,
    /// Units per SKU index the server acknowledged holding or selling
    /// (purchases, cart lines).
    pub created: BTreeMap<usize, u64>,
    /// What completed in each elapsed second.
    pub timeline: Vec<Second>,
}

/// One second of the run.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Second {
    pub requests: u64,
    pub latency_sum_us: u64,
    pub latency_max_us: u64,
}

impl Stats {
    fn new() -> anyhow::Result<Self> {
        Ok(Self {
            latency: histogram()?,
            accepted: histogram()?,
            refused: histogram()?,
            steps: BTreeMap::new(),
            statuses: BTreeMap::new(),
            errors: 0,
            created: BTreeMap::new(),
            timeline: Vec::new(),
        })
    }

    /// Records one answer's latency: overall, by step, by outcome.
    fn record(&mut self, step: Step, status: u16, us: u64) -> anyhow::Result<()> {
        self.latency.saturating_record(us);
        if !self.steps.contains_key(step.name()) {
            self.steps.insert(step.name(), histogram()?);
        }
        if let Some(h) = self.steps.get_mut(step.name()) {
            h.saturating_record(us);
        }
        match status {
            200..=299 => self.accepted.saturating_record(us),
            429 | 503 => self.refused.saturating_record(us),
            _ => {}
        }
        *self.statuses.entry(status).or_default() += 1;
        Ok(())
    }

    /// Adds a request that completed in elapsed second `second`.
    fn count_in_second(&mut self, second: usize, us: u64) {
        if self.timeline.len() <= second {
            self.timeline.resize(second + 1, Second::default());
        }
        let slot = &mut self.timeline[second];
        slot.requests += 1;
        slot.latency_sum_us += us;
        slot.latency_max_us = slot.latency_max_us.max(us);
    }

    fn merge(&mut self, other: Stats) -> anyhow::Result<()> {
        self.latency.add(&other.latency)?;
        self.accepted.add(&other.accepted)?;
        self.refused.add(&other.refused)?;
        for (step, h) in other.steps {
            match self.steps.entry(step) {
                std::collections::btree_map::Entry::Occupied(mut mine) => mine.get_mut().add(&h)?,
                std::collections::btree_map::Entry::Vacant(slot) => {
                    slot.insert(h);
                }
            }
        }
        for (k, v) in other.statuses {
            *self.statuses.entry(k).or_default() += v;
        }
        for (k, v) in other.created {
            *self.created.entry(k).or_default() += v;
        }
        self.errors += other.errors;
        if self.timeline.len() < other.timeline.len() {
            self.timeline
                .resize(other.timeline.len(), Second::default());
        }
        for (mine, theirs) in self.timeline.iter_mut().zip(other.timeline) {
            mine.requests += theirs.requests;
            mine.latency_sum_us += theirs.latency_sum_us;
            mine.latency_max_us = mine.latency_max_us.max(theirs.latency_max_us);
        }
        Ok(())
    }
}

/// Runs the load and returns the merged stats and the elapsed time. Like
/// wrk, it uses one OS thread per core, each with its own single-threaded
/// runtime driving its share of the connections: no work stealing, no
/// cross-thread wake-ups on the client side. Blocks until done.
pub fn run(load: Arc<Load>, plan: Arc<Plan>, live: Arc<Live>) -> anyhow::Result<(Stats, Duration)> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(load.connections);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (load, plan, live) = (load.clone(), plan.clone(), live.clone());
            std::thread::spawn(move || -> anyhow::Result<Stats> {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                runtime.block_on(async move {
                    // Shared by this thread's connections only: the lock
                    // is never contended on a single-threaded runtime.
                    let stats = Arc::new(Mutex::new(Stats::new()?));
                    let tasks: Vec<_> = (t..load.connections)
                        .step_by(threads)
                        .map(|conn| {
                            let (load, plan) = (load.clone(), plan.clone());
                            let (live, stats) = (live.clone(), stats.clone());
                            tokio::spawn(connection(load, plan, live, stats, conn))
                        })
                        .collect();
                    for task in tasks {
                        task.await??;
                    }
                    let stats = Arc::try_unwrap(stats)
                        .map_err(|_| anyhow::anyhow!("a connection outlived the load"))?;
                    Ok(stats.into_inner())
                })
            })
        })
        .collect();
    let mut total = Stats::new()?;
    for handle in handles {
        let stats = handle
            .join()
            .map_err(|_| anyhow::anyhow!("a load thread panicked"))??;
        total.merge(stats)?;
    }
    let elapsed = live.started.get().map_or(Duration::ZERO, |at| {
        at.elapsed().saturating_sub(load.warmup)
    });
    Ok((total, elapsed))
}

async fn connection(
    load: Arc<Load>,
    plan: Arc<Plan>,
    live: Arc<Live>,
    stats: Arc<Mutex<Stats>>,
    conn: usize,
) -> anyhow::Result<()> {
    let opened = warmed(load.addr).await;
    // Counted even when it failed, so the others do not wait for it.
    let started = live.start_together(load.connections).await;
    let measured_from = started + load.warmup;
    let mut client = opened?;
    let mut shopper = Shopper::new(plan.scenario == Scenario::Mixed && plan.mix.pay > 0);
    let interval = load
        .rate
        .map(|r| Duration::from_secs_f64(load.connections as f64 / r.max(0.001)));
    let mut due = started
        + interval.map_or(Duration::ZERO, |i| {
            i.mul_f64(conn as f64 / load.connections as f64)
        });
    for seq in 0u64.. {
        if !keep_going(&load, &live, started) {
            break;
        }
        let scheduled = match interval {
            Some(i) => {
                tokio::time::sleep_until(due.into()).await;
                let at = due;
                due += i;
                at
            }
            None => Instant::now(),
        };
        let (call, step) = plan.call(conn, seq, &shopper);
        let measured = scheduled >= measured_from;
        let mut us = 0;
        match client.send(&call).await {
            Ok((status, body)) => {
                us = scheduled.elapsed().as_micros().max(1) as u64;
                let mut stats = stats.lock();
                if measured {
                    stats.record(step, status.as_u16(), us)?;
                }
                if let Some(sku) = shopper.observe(step, status.as_u16(), &body) {
                    *stats.created.entry(sku).or_default() += 1;
                }
                if status.as_u16() == 409 && plan.scenario == Scenario::FlashSale {
                    let _ = live.sold_out_at.set(Instant::now());
                }
            }
            Err(_) => {
                stats.lock().errors += u64::from(measured);
                live.errors.fetch_add(1, Ordering::Relaxed);
                client = reconnect(load.addr).await?;
            }
        }
        live.done.fetch_add(1, Ordering::Relaxed);
        if measured {
            let second = measured_from.elapsed().as_secs() as usize;
            stats.lock().count_in_second(second, us);
        }
    }
    Ok(())
}

fn keep_going(load: &Load, live: &Live, started: Instant) -> bool {
    if started.elapsed() >= load.warmup + load.duration {
        return false;
    }
    if load.until_sold_out
        && live
            .sold_out_at
            .get()
            .is_some_and(|at| at.elapsed() >= AFTER_SOLD_OUT)
    {
        return false;
    }
    match load.requests {
        Some(max) => live.issued.fetch_add(1, Ordering::Relaxed) < max,
        None => true,
    }
}

/// A connection the server has taken up: connecting completes in the
/// kernel's listen queue, before the server has accepted the socket, so the
/// first request of a thousand fresh connections would time the server's
/// accept loop (hundreds of ms) rather than the scenario. One health check
/// per connection, before the clock starts, leaves that out.
async fn warmed(addr: SocketAddr) -> anyhow::Result<Connection> {
    let mut client = Connection::open(addr).await?;
    client.send(&Call::get("/healthz")).await?;
    Ok(client)
}

/// A new connection after an error, retried briefly (the server may be busy).
async fn reconnect(addr: SocketAddr) -> anyhow::Result<Connection> {
    let mut last = None;
    for _ in 0..50 {
        match Connection::open(addr).await {
            Ok(c) => return Ok(c),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("cannot reconnect to {addr}")))
}
