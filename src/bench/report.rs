//! The run's report: throughput, latency percentiles, status counts and the
//! invariants read back from the server, printed and optionally written as
//! JSON.

use super::client::{Call, Connection};
use super::goals::Goal;
use super::load::{Second, Stats};
use super::scenario::{Plan, Scenario};
use super::target::Target;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Serialize)]
pub struct Report {
    pub scenario: Scenario,
    pub target: String,
    pub connections: usize,
    pub mode: String,
    pub elapsed_secs: f64,
    pub requests: u64,
    pub throughput_per_sec: f64,
    pub errors: u64,
    pub latency_ms: Latency,
    /// Latency of the 2xx answers alone.
    pub accepted_latency_ms: Option<Latency>,
    /// Latency of the 429/503 answers (requests shed under overload).
    pub refused_latency_ms: Option<Latency>,
    /// Latency and count by step, for runs with more than one step.
    pub steps: BTreeMap<&'static str, StepLatency>,
    pub statuses: BTreeMap<u16, u64>,
    pub timeline_per_sec: Vec<Second>,
    /// (percentile, latency ms) pairs for the latency distribution.
    pub percentiles: Vec<(f64, f64)>,
    pub invariants: Invariants,
    /// The same load against `--baseline`, run just before.
    pub baseline: Option<Baseline>,
    /// CPU of the server's committer thread per acknowledged purchase
    /// (warm-up included on both sides), from its
    /// `surge_committer_cpu_seconds`; purchase scenarios only.
    pub committer_cpu_us: Option<f64>,
    /// The performance targets whose conditions this run met, checked.
    pub targets: Vec<Goal>,
}

/// What the same client got from the `--baseline` URL.
#[derive(Debug, Serialize)]
pub struct Baseline {
    pub url: String,
    pub throughput_per_sec: f64,
    pub statuses: BTreeMap<u16, u64>,
}

/// Where the latency distribution is sampled for the report.
const PERCENTILES: &[f64] = &[
    0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 99.999, 100.0,
];

#[derive(Debug, Default, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p99_9: f64,
    pub max: f64,
}

#[derive(Debug, Serialize)]
pub struct StepLatency {
    pub requests: u64,
    pub latency_ms: Latency,
}

impl Latency {
    /// Percentiles in ms of a histogram in µs; `None` when it is empty.
    fn of(h: &hdrhistogram::Histogram<u64>) -> Option<Self> {
        let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        (!h.is_empty()).then(|| Self {
            p50: ms(0.5),
            p90: ms(0.9),
            p99: ms(0.99),
            p99_9: ms(0.999),
            max: h.max() as f64 / 1000.0,
        })
    }

    fn line(&self) -> String {
        format!(
            "p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
            self.p50, self.p90, self.p99, self.p99_9, self.max
        )
    }
}

#[derive(Debug, Default, Serialize)]
pub struct Invariants {
    pub skus_checked: usize,
    /// Orders acknowledged (201) by the server during the run.
    pub orders: u64,
    pub stocked: u64,
    pub reserved: u64,
    pub sold: u64,
    /// Every broken invariant, by SKU; empty means all held.
    pub violations: Vec<String>,
}

impl Report {
    pub fn new(
        plan: &Plan,
        target: &Target,
        mode: String,
        connections: usize,
        stats: &Stats,
        elapsed: Duration,
    ) -> Self {
        let requests = stats.latency.len();
        let ms = |q: f64| stats.latency.value_at_quantile(q) as f64 / 1000.0;
        Self {
            scenario: plan.scenario,
            target: target.description.clone(),
            connections,
            mode,
            elapsed_secs: elapsed.as_secs_f64(),
            requests,
            throughput_per_sec: requests as f64 / elapsed.as_secs_f64().max(1e-9),
            errors: stats.errors,
            latency_ms: Latency::of(&stats.latency).unwrap_or_default(),
            accepted_latency_ms: Latency::of(&stats.accepted),
            refused_latency_ms: Latency::of(&stats.refused),
            steps: stats
                .steps
                .iter()
                .filter(|_| stats.steps.len() > 1)
                .filter_map(|(&step, h)| {
                    let latency_ms = Latency::of(h)?;
                    Some((
                        step,
                        StepLatency {
                            requests: h.len(),
                            latency_ms,
                        },
                    ))
                })
                .collect(),
            statuses: stats.statuses.clone(),
            timeline_per_sec: stats.timeline.clone(),
            percentiles: PERCENTILES.iter().map(|&p| (p, ms(p / 100.0))).collect(),
            invariants: Invariants::default(),
            baseline: None,
            committer_cpu_us: None,
            targets: Vec::new(),
        }
    }

    /// This run's rate as a share of the baseline's (1.0 = as fast).
    pub fn baseline_share(&self) -> Option<f64> {
        let baseline = self.baseline.as_ref()?;
        Some(self.throughput_per_sec / baseline.throughput_per_sec.max(1e-9))
    }

    /// A report of nothing, for tests to fill in.
    #[cfg(test)]
    pub fn empty(scenario: Scenario, connections: usize) -> Self {
        Self {
            scenario,
            target: String::new(),
            connections,
            mode: String::new(),
            elapsed_secs: 0.0,
            requests: 0,
            throughput_per_sec: 0.0,
            errors: 0,
            latency_ms: Latency::default(),
            accepted_latency_ms: None,
            refused_latency_ms: None,
            steps: BTreeMap::new(),
            statuses: BTreeMap::new(),
            timeline_per_sec: Vec::new(),
            percentiles: Vec::new(),
            invariants: Invariants::default(),
            baseline: None,
            committer_cpu_us: None,
            targets: Vec::new(),
        }
    }

    pub fn print(&self) {
        let l = &self.latency_ms;
        println!("surge bench {}: {}", self.scenario.name(), self.target);
        println!(
            "  {} connections, {}, {:.1} s",
            self.connections, self.mode, self.elapsed_secs
        );
        println!(
            "  requests    {} ({:.0}/s), transport errors {}",
            self.requests, self.throughput_per_sec, self.errors
        );
        println!("  latency ms  {}", l.line());
        // Split only when some requests were shed: otherwise accepted is all.
        if let (Some(accepted), Some(refused)) =
            (&self.accepted_latency_ms, &self.refused_latency_ms)
        {
            println!("    2xx       {}", accepted.line());
            println!("    429/503   {}", refused.line());
        }
        for (step, s) in &self.steps {
            println!("    {step:<11} {:>8} × {}", s.requests, s.latency_ms.line());
        }
        println!("  statuses    {}", statuses_line(&self.statuses));
        if let Some(us) = self.committer_cpu_us {
            println!("  committer   {us:.1} µs of CPU per purchase (the single writer's)");
        }
        if let (Some(b), Some(share)) = (&self.baseline, self.baseline_share()) {
            println!(
                "  baseline    {}: {:.0} req/s ({}); this run {:.0} % of it",
                b.url,
                b.throughput_per_sec,
                statuses_line(&b.statuses),
                100.0 * share
            );
        }
        for goal in &self.targets {
            println!(
                "  target      {}: {}; this run {}: {}",
                goal.name,
                goal.wanted,
                goal.measured,
                if goal.met { "met" } else { "missed" }
            );
        }
        self.invariants.print();
    }
}

pub fn statuses_line(statuses: &BTreeMap<u16, u64>) -> String {
    let statuses: Vec<String> = statuses.iter().map(|(s, n)| format!("{s}: {n}")).collect();
    statuses.join(", ")
}

/// Reads every SKU the run bought back from the server and checks, per SKU:
/// `available + reserved + sold == stocked`, no oversell, and every
/// acknowledged order accounted for (`reserved + sold == orders`, which holds
/// while no hold of the run has expired).
pub async fn check(plan: &Plan, target: &Target, stats: &Stats) -> anyhow::Result<Invariants> {
    let mut inv = Invariants::default();
    if plan.scenario == Scenario::Browse {
        return Ok(inv);
    }
    let mut conn = Connection::open(target.addr).await?;
    for i in 0..plan.skus {
        let sku = plan.sku(i);
        let l = levels(&mut conn, target, &sku).await?;
        let orders = stats.created.get(&i).copied().unwrap_or(0);
        inv.add(&sku, &l, orders);
    }
    Ok(inv)
}

/// A SKU's stock levels as the admin API reads them.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Levels {
    pub stocked: u64,
    pub available: u64,
    pub reserved: u64,
    pub sold: u64,
}

/// Reads `sku`'s levels through the admin API.
pub async fn levels(conn: &mut Connection, target: &Target, sku: &str) -> anyhow::Result<Levels> {
    let mut call = Call::get(format!("/v1/admin/skus/{sku}/inventory"));
    call.bearer = Some(target.admin_token.clone());
    let (status, body) = conn.send(&call).await?;
    if !status.is_success() {
        anyhow::bail!("reading {sku}'s inventory: {status}");
    }
    Ok(serde_json::from_slice(&body)?)
}

impl Invariants {
    /// The invariants line, and the first broken ones.
    pub fn print(&self) {
        if self.skus_checked == 0 {
            return;
        }
        println!(
            "  invariants  {} SKUs: units acknowledged {} = reserved {} + sold {}; stocked {}; {}",
            self.skus_checked,
            self.orders,
            self.reserved,
            self.sold,
            self.stocked,
            if self.violations.is_empty() {
                "all hold".to_owned()
            } else {
                format!("{} VIOLATED", self.violations.len())
            }
        );
        for v in self.violations.iter().take(10) {
            println!("    {v}");
        }
    }

    /// Checks one SKU's levels against the `orders` units acknowledged for
    /// it (conservation, no oversell, every acknowledged unit held or
    /// sold) and adds them to the totals.
    pub fn add(&mut self, sku: &str, l: &Levels, orders: u64) {
        if l.available
            .checked_add(l.reserved)
            .and_then(|n| n.checked_add(l.sold))
            != Some(l.stocked)
        {
            self.violations.push(format!(
                "{sku}: available {} + reserved {} + sold {} != stocked {}",
                l.available, l.reserved, l.sold, l.stocked
            ));
        }
        if orders > l.stocked {
            self.violations.push(format!(
                "{sku}: oversold: {orders} units acknowledged of {} stocked",
                l.stocked
            ));
        }
        if l.reserved + l.sold != orders {
            self.violations.push(format!(
                "{sku}: {orders} units acknowledged but reserved {} + sold {}",
                l.reserved, l.sold
            ));
        }
        self.skus_checked += 1;
        self.orders += orders;
        self.stocked += l.stocked;
        self.reserved += l.reserved;
        self.sold += l.sold;
    }
}
