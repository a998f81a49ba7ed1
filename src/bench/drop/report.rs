//! The drop's report: who got the units, how the requests were answered,
//! how far humans were served in queue order, how long they waited, and
//! the invariants; printed, and written as JSON with `--json`.

use super::fidelity::{Fidelity, PairShare};
use super::human::{Outcome, Visit};
use super::identity::Actor;
use super::session::KindCounts;
use crate::bench::report::{statuses_line, Invariants};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Serialize)]
pub struct DropReport {
    pub scenario: &'static str,
    pub target: String,
    pub elapsed_secs: f64,
    pub setup: Setup,
    /// Requests and their statuses, by kind of actor.
    pub requests: BTreeMap<&'static str, KindCounts>,
    /// Bot requests per human request, over the run and until the SKU was
    /// first seen sold out.
    pub bot_ratio: f64,
    pub bot_ratio_until_sold_out: Option<f64>,
    /// When a client first saw the SKU sold out (after the run began).
    pub sold_out_after_secs: Option<f64>,
    /// Units in live orders, by kind of actor.
    pub units: BTreeMap<&'static str, u64>,
    /// Units to bots over all units sold.
    pub bot_share: f64,
    pub humans: Humans,
    pub queue_order: Fidelity,
    pub admissions_seen: u64,
    pub admissions_lapsed: u64,
    pub invariants: Invariants,
}

/// What the run was asked to do.
#[derive(Debug, Clone, Serialize)]
pub struct Setup {
    pub stock: u64,
    pub humans: usize,
    pub bot_connections: usize,
    pub bot_ratio_wanted: f64,
    pub admit_per_sec: u32,
    pub arrive_over_secs: f64,
    /// When the sale started (the lottery closed), after the run began.
    pub sale_starts_after_secs: f64,
}

/// How the humans fared.
#[derive(Debug, Default, Serialize)]
pub struct Humans {
    pub bought: u64,
    pub sold_out: u64,
    /// Visits that ended on another answer, by status.
    pub refused: BTreeMap<u16, u64>,
    pub timed_out: u64,
    /// From the ticket in hand to the purchase acknowledged, ms.
    pub join_to_purchase_ms: Option<Spread>,
    /// From the ticket in hand to reading `sold_out`, ms: how long those
    /// who got nothing waited to be told.
    pub join_to_sold_out_ms: Option<Spread>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    pub p50: u64,
    pub p99: u64,
    pub max: u64,
}

impl Humans {
    pub fn of(visits: &[Visit]) -> Self {
        let mut humans = Self::default();
        for visit in visits {
            match visit.outcome {
                Outcome::Bought => humans.bought += 1,
                Outcome::SoldOut => humans.sold_out += 1,
                Outcome::Refused(status) => *humans.refused.entry(status).or_default() += 1,
                Outcome::TimedOut => humans.timed_out += 1,
            }
        }
        let waited = |v: &Visit, until: u64| until.saturating_sub(v.timeline.join_answered_ms);
        humans.join_to_purchase_ms = Spread::of(
            visits
                .iter()
                .filter_map(|v| Some(waited(v, v.timeline.bought_ms?)))
                .collect(),
        );
        humans.join_to_sold_out_ms = Spread::of(
            visits
                .iter()
                .filter(|v| v.outcome == Outcome::SoldOut)
                .map(|v| waited(v, v.ended_ms))
                .collect(),
        );
        humans
    }
}

impl Spread {
    /// The spread of ms values, in seconds.
    fn seconds(&self) -> String {
        let s = |ms: u64| ms as f64 / 1000.0;
        format!(
            "p50 {:.1} s  p99 {:.1} s  max {:.1} s",
            s(self.p50),
            s(self.p99),
            s(self.max)
        )
    }

    /// Nearest-rank percentiles; `None` for no values.
    pub fn of(mut values: Vec<u64>) -> Option<Self> {
        values.sort_unstable();
        let at =
            |q: f64| values[((q * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1];
        (!values.is_empty()).then(|| Self {
            p50: at(0.5),
            p99: at(0.99),
            max: at(1.0),
        })
    }
}

/// Units to bots over all units sold (0 when none were).
pub fn bot_share(units: &BTreeMap<&'static str, u64>) -> f64 {
    let sold: u64 = units.values().sum();
    let to_bots: u64 = Actor::BOTS
        .iter()
        .filter_map(|bot| units.get(bot.name()))
        .sum();
    to_bots as f64 / sold.max(1) as f64
}

impl DropReport {
    pub fn print(&self) {
        let s = &self.setup;
        println!("surge bench drop: {}", self.target);
        println!(
            "  {} units, admitted at most {}/s; {} humans arriving over {:.1} s, the sale opening at {:.1} s; \
             {} bot connections; {:.1} s",
            s.stock, s.admit_per_sec, s.humans, s.arrive_over_secs, s.sale_starts_after_secs,
            s.bot_connections, self.elapsed_secs
        );
        let until = match (self.bot_ratio_until_sold_out, self.sold_out_after_secs) {
            (Some(r), Some(at)) => format!("; {r:.1} until sold out at {at:.1} s"),
            _ => "; never sold out".to_owned(),
        };
        println!(
            "  requests    bots sent {:.1}× the humans' (wanted {:.1}{until})",
            self.bot_ratio, s.bot_ratio_wanted
        );
        for (kind, c) in self.requests.iter().filter(|(_, c)| c.requests > 0) {
            println!(
                "    {kind:<13} {:>8}: {}{}",
                c.requests,
                statuses_line(&c.statuses),
                if c.transport_errors > 0 {
                    format!(", no answer: {}", c.transport_errors)
                } else {
                    String::new()
                }
            );
        }
        let units: Vec<String> = self.units.iter().map(|(k, n)| format!("{k} {n}")).collect();
        println!(
            "  units       {}; bots' share {:.1} %",
            units.join(", "),
            100.0 * self.bot_share
        );
        self.print_humans();
        self.invariants.print();
    }

    fn print_humans(&self) {
        let h = &self.humans;
        let refused: u64 = h.refused.values().sum();
        let why = match refused {
            0 => String::new(),
            _ => format!(" ({})", statuses_line(&h.refused)),
        };
        println!(
            "  humans      {} bought, {} sold out, {refused} refused{why}, {} timed out",
            h.bought, h.sold_out, h.timed_out
        );
        if let Some(t) = &h.join_to_purchase_ms {
            println!("    ticket to purchase  {}", t.seconds());
        }
        if let Some(t) = &h.join_to_sold_out_ms {
            println!("    ticket to sold out  {}", t.seconds());
        }
        let q = &self.queue_order;
        println!(
            "  queue order admitted in order {}, served (bought) in order {}; \
             lottery: the earlier joiner first {}",
            share(&q.admitted_in_order),
            share(&q.served_in_order),
            share(&q.lottery_earlier_first)
        );
        println!(
            "  admissions  {} seen, {} lapsed unused",
            self.admissions_seen, self.admissions_lapsed
        );
    }
}

fn share(s: &PairShare) -> String {
    match s.share {
        Some(share) if s.ties > 0 => format!(
            "{:.1} % of {} pairs ({} at the same instant)",
            100.0 * share,
            s.pairs,
            s.ties
        ),
        Some(share) => format!("{:.1} % of {} pairs", 100.0 * share, s.pairs),
        None => "(no pairs)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_are_nearest_rank() {
        assert_eq!(Spread::of(Vec::new()), None);
        let s = Spread::of((1..=100).rev().collect()).unwrap();
        assert_eq!((s.p50, s.p99, s.max), (50, 99, 100));
        let one = Spread::of(vec![7]).unwrap();
        assert_eq!((one.p50, one.p99, one.max), (7, 7, 7));
    }
}
