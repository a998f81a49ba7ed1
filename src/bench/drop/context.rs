//! What every actor of a drop shares: where and what to buy, the run's
//! clock (its start, the sale's start, the deadline), the stop signal, and
//! the request counts that pace the bots at `--bot-ratio` times the
//! humans' requests.

use super::identity::{Actor, Identities};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long a bot over its budget waits before looking again.
const BOT_IDLE: Duration = Duration::from_millis(2);

pub struct Context {
    pub addr: SocketAddr,
    pub sku: String,
    pub ids: Identities,
    /// When the run began; every `_ms` below counts from it.
    pub began: Instant,
    /// When the sale starts (the lottery closes), ms after `began`.
    pub start_ms: u64,
    /// When everyone gives up.
    pub deadline: Instant,
    /// Bot requests wanted per human request.
    pub bot_ratio: f64,
    stopped: AtomicBool,
    human_requests: AtomicU64,
    bot_requests: AtomicU64,
    sold_out: OnceLock<SoldOut>,
}

/// When the first client saw the SKU sold out, and the requests of humans
/// and bots by then: the ratio that mattered while there was something to
/// get.
#[derive(Debug, Clone, Copy)]
pub struct SoldOut {
    pub at_ms: u64,
    pub human_requests: u64,
    pub bot_requests: u64,
}

impl Context {
    /// A run that `began` then, whose sale starts `start` and ends for
    /// everyone `deadline` after that.
    pub fn new(
        addr: SocketAddr,
        (sku, ids): (String, Identities),
        began: Instant,
        (start, deadline): (Duration, Duration),
        bot_ratio: f64,
    ) -> Self {
        Self {
            addr,
            sku,
            ids,
            began,
            start_ms: start.as_millis() as u64,
            deadline: began + deadline,
            bot_ratio,
            stopped: AtomicBool::new(false),
            human_requests: AtomicU64::new(0),
            bot_requests: AtomicU64::new(0),
            sold_out: OnceLock::new(),
        }
    }

    /// Milliseconds since the run began.
    pub fn now_ms(&self) -> u64 {
        self.began.elapsed().as_millis() as u64
    }

    /// Tells the bots to stop (the humans are done).
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
    }

    pub fn is_over(&self) -> bool {
        self.stopped.load(Ordering::Relaxed) || Instant::now() >= self.deadline
    }

    /// Sleeps `wait`, or until the deadline if sooner; false when the run is
    /// over by then.
    pub async fn sleep(&self, wait: Duration) -> bool {
        let until = (Instant::now() + wait).min(self.deadline);
        tokio::time::sleep_until(until.into()).await;
        !self.is_over()
    }

    /// Counts one request of `actor` (a retry on a fresh connection is the
    /// same request).
    pub fn count(&self, actor: Actor) {
        let counter = match actor {
            Actor::Human => &self.human_requests,
            _ => &self.bot_requests,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Waits until a bot may send one more request without the bots going
    /// over `bot_ratio` times the humans' requests; false once the run is
    /// over. Bots never wait for anything else.
    pub async fn bot_turn(&self) -> bool {
        loop {
            if self.is_over() {
                return false;
            }
            let humans = self.human_requests.load(Ordering::Relaxed).max(1);
            let bots = self.bot_requests.load(Ordering::Relaxed);
            if (bots as f64) < self.bot_ratio * humans as f64 {
                return true;
            }
            tokio::time::sleep(BOT_IDLE).await;
        }
    }

    /// A client saw the SKU sold out (the first call records the counts).
    pub fn saw_sold_out(&self) {
        if self.sold_out.get().is_none() {
            let (human_requests, bot_requests) = self.requests();
            let _ = self.sold_out.set(SoldOut {
                at_ms: self.now_ms(),
                human_requests,
                bot_requests,
            });
        }
    }

    /// Requests so far: (humans, bots).
    pub fn requests(&self) -> (u64, u64) {
        (
            self.human_requests.load(Ordering::Relaxed),
            self.bot_requests.load(Ordering::Relaxed),
        )
    }

    pub fn sold_out(&self) -> Option<SoldOut> {
        self.sold_out.get().copied()
    }
}
