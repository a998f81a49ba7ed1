//! The performance targets of the load generator's issue, checked on every
//! run made under a target's conditions. They are statements about one
//! 2-core machine with client and server sharing it and strict durability:
//! the report says whether this run met them; nothing fails on a timing.
//! (The overload target compares two runs, at half and at twice the
//! saturating rate, so no single run can check it: BENCHMARKS.md does.)

use super::report::Report;
use super::scenario::Scenario;
use serde::Serialize;

/// The hot-SKU and spread targets: durable purchases per second.
const PURCHASES_PER_SEC: f64 = 50_000.0;
/// The hot-SKU target's latency bound (2xx p99).
const HOT_P99_MS: f64 = 10.0;
const HOT_CONNECTIONS: usize = 256;
const SPREAD_SKUS: usize = 10_000;
/// The browse target: this share of the baseline's rate.
const BROWSE_SHARE: f64 = 0.8;

#[derive(Debug, Serialize)]
pub struct Goal {
    pub name: &'static str,
    pub wanted: String,
    pub measured: String,
    pub met: bool,
}

/// How the run was made, as far as the targets care.
pub struct Conditions {
    pub closed_loop: bool,
    pub strict: bool,
    pub skus: usize,
    /// A flash sale run until sold out: its rate mixes purchases with the
    /// sold-out path, so it says nothing about the purchase target.
    pub until_sold_out: bool,
}

/// The targets whose conditions this run meets, each checked.
pub fn check(report: &Report, run: &Conditions) -> Vec<Goal> {
    let mut goals = Vec::new();
    let purchases =
        report.statuses.get(&201).copied().unwrap_or(0) as f64 / report.elapsed_secs.max(1e-9);
    let durable = run.closed_loop && run.strict;
    match report.scenario {
        Scenario::FlashSale
            if durable && !run.until_sold_out && report.connections == HOT_CONNECTIONS =>
        {
            let p99 = report
                .accepted_latency_ms
                .as_ref()
                .map_or(f64::INFINITY, |l| l.p99);
            goals.push(Goal {
                name: "hot SKU",
                wanted: format!(
                    "≥ {PURCHASES_PER_SEC:.0} durable purchases/s, 2xx p99 ≤ {HOT_P99_MS} ms"
                ),
                measured: format!("{purchases:.0}/s, p99 {p99:.1} ms"),
                met: purchases >= PURCHASES_PER_SEC && p99 <= HOT_P99_MS,
            });
        }
        Scenario::Spread if durable && run.skus == SPREAD_SKUS => goals.push(Goal {
            name: "spread",
            wanted: format!("≥ {PURCHASES_PER_SEC:.0} durable purchases/s over {SPREAD_SKUS} SKUs"),
            measured: format!("{purchases:.0}/s"),
            met: purchases >= PURCHASES_PER_SEC,
        }),
        Scenario::Browse => {
            if let Some(share) = report.baseline_share() {
                goals.push(Goal {
                    name: "browse",
                    wanted: format!(
                        "≥ {:.0} % of the baseline's rate with the same client",
                        BROWSE_SHARE * 100.0
                    ),
                    measured: format!("{:.0} %", share * 100.0),
                    met: share >= BROWSE_SHARE,
                });
            }
        }
        _ => {}
    }
    goals
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::report::{Baseline, Latency};

    fn report(scenario: Scenario, connections: usize, created: u64, p99: f64) -> Report {
        let mut report = Report::empty(scenario, connections);
        report.elapsed_secs = 2.0;
        report.requests = created;
        report.throughput_per_sec = created as f64 / 2.0;
        report.statuses.insert(201, created);
        report.accepted_latency_ms = Some(Latency {
            p99,
            ..Latency::default()
        });
        report
    }

    const DURABLE: Conditions = Conditions {
        closed_loop: true,
        strict: true,
        skus: 10_000,
        until_sold_out: false,
    };

    #[test]
    fn the_hot_sku_target_needs_both_the_rate_and_the_latency() {
        let fast = report(Scenario::FlashSale, 256, 120_000, 8.0);
        assert!(check(&fast, &DURABLE)[0].met);
        let slow_tail = report(Scenario::FlashSale, 256, 120_000, 12.0);
        assert!(!check(&slow_tail, &DURABLE)[0].met);
        let too_few = report(Scenario::FlashSale, 256, 60_000, 8.0);
        let goal = &check(&too_few, &DURABLE)[0];
        assert!(!goal.met);
        assert_eq!(goal.measured, "30000/s, p99 8.0 ms");
    }

    #[test]
    fn a_run_outside_a_targets_conditions_is_not_judged_by_it() {
        let fast = report(Scenario::FlashSale, 64, 120_000, 8.0);
        assert!(check(&fast, &DURABLE).is_empty(), "other connection count");
        let fast = report(Scenario::FlashSale, 256, 120_000, 8.0);
        let open = Conditions {
            closed_loop: false,
            ..DURABLE
        };
        assert!(check(&fast, &open).is_empty(), "open loop");
        let relaxed = Conditions {
            strict: false,
            ..DURABLE
        };
        assert!(check(&fast, &relaxed).is_empty(), "relaxed durability");
        let sold_out = Conditions {
            until_sold_out: true,
            ..DURABLE
        };
        assert!(check(&fast, &sold_out).is_empty(), "a sell-out run");
        let spread = report(Scenario::Spread, 256, 120_000, 8.0);
        let few = Conditions {
            skus: 100,
            ..DURABLE
        };
        assert!(check(&spread, &few).is_empty(), "other SKU count");
        assert!(check(&spread, &DURABLE)[0].met);
    }

    #[test]
    fn browse_is_judged_against_its_baseline_only() {
        let mut browse = report(Scenario::Browse, 256, 0, 1.0);
        browse.throughput_per_sec = 81_000.0;
        assert!(check(&browse, &DURABLE).is_empty(), "no baseline");
        browse.baseline = Some(Baseline {
            url: "http://127.0.0.1:8081/".into(),
            throughput_per_sec: 100_000.0,
            statuses: Default::default(),
        });
        assert!(check(&browse, &DURABLE)[0].met);
        browse.throughput_per_sec = 79_000.0;
        let goal = &check(&browse, &DURABLE)[0];
        assert!(!goal.met);
        assert_eq!(goal.measured, "79 %");
    }
}
