//! The overview's live figures. While someone watches the dashboard (a page
//! or its live stream within the last two minutes), one task per app reads
//! the process's metrics every second into a short history, and follows the
//! published availability feed to see which SKUs' stock falls fastest.
//! Nobody watching, it reads nothing and does not subscribe to the feed, so
//! an unwatched dashboard costs a sale nothing.

use super::metrics_text::{self, quantile_bound, Totals};
use crate::domain::Sku;
use crate::inventory::{Availability, StockUpdate};
use metrics_exporter_prometheus::PrometheusHandle;
use parking_lot::Mutex;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, Notify};

/// Seconds of history kept (the chart's span).
pub const HISTORY_SECS: usize = 600;
/// The window of the per-minute figures.
const WINDOW_SECS: usize = 60;
/// How long a look keeps the sampler going.
const WATCH_FOR: Duration = Duration::from_secs(120);
/// Most SKUs tracked in one second, and overall (beyond, the least
/// recently changed are forgotten): a spread sale cannot grow memory.
const SKUS_PER_SEC_MAX: usize = 10_000;
const SKUS_TRACKED_MAX: usize = 100_000;
/// Hottest SKUs shown.
pub const HOT_SHOWN: usize = 6;

/// One second's reading.
struct Sample {
    totals: Totals,
    /// Units each SKU lost this second (falls of its available count).
    fell: HashMap<Sku, u64>,
}

#[derive(Default)]
struct State {
    samples: VecDeque<Sample>,
    /// Each SKU's last available count seen on the feed.
    last: HashMap<Sku, u64>,
    /// Falls seen since the last sample.
    fell: HashMap<Sku, u64>,
    watched_until: Option<Instant>,
}

/// The live figures of one app.
#[derive(Clone, Default)]
pub struct Pulse(Arc<Shared>);

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Wakes the sampler when watching starts, so that it follows the feed
    /// from the first look on, not from its next tick: a stock change in
    /// that second would be missed by the hottest-SKUs list.
    watching: Notify,
}

/// The overview's figures, as the page shows them and the stream sends them.
#[derive(Debug, Clone, Serialize)]
pub struct PulseView {
    pub orders_per_min: u64,
    /// Order value placed in the last minute, by currency (minor units).
    pub value_per_min: BTreeMap<String, u64>,
    pub units_per_min: u64,
    /// Units ordered since the process started.
    pub units_total: u64,
    /// Upper bounds (seconds) of the purchase latency's p50 and p99 over
    /// the last minute; `None` without purchases.
    pub purchase_p50: Option<f64>,
    pub purchase_p99: Option<f64>,
    /// 429 and 503 answers in the last minute.
    pub refused_per_min: u64,
    /// Sold-out answers in the last minute.
    pub sold_out_per_min: u64,
    /// Mean operations per commit (one flush) over the last minute.
    pub batch_mean: Option<f64>,
    /// Orders per minute, one point per second (oldest first).
    pub orders_series: Vec<u64>,
    /// The SKUs whose stock fell most in the last minute (SKU, units).
    pub hot: Vec<(Sku, u64)>,
    /// Seconds of history behind these figures.
    pub seconds: usize,
}

impl Pulse {
    /// Notes that someone is looking, which keeps the sampler going.
    pub fn touch(&self) {
        let now = Instant::now();
        let was = self.0.state.lock().watched_until.replace(now + WATCH_FOR);
        if was.is_none_or(|until| now >= until) {
            self.0.watching.notify_one();
        }
    }

    fn watched(&self) -> bool {
        self.0
            .state
            .lock()
            .watched_until
            .is_some_and(|until| Instant::now() < until)
    }

    /// Samples every second while watched. Runs until the app stops.
    pub async fn run(self, metrics: PrometheusHandle, availability: Availability) {
        let mut every = tokio::time::interval(Duration::from_secs(1));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut feed: Option<broadcast::Receiver<StockUpdate>> = None;
        loop {
            let got = match feed.as_mut() {
                Some(rx) => tokio::select! {
                    _ = every.tick() => None,
                    got = rx.recv() => Some(got),
                },
                None => {
                    tokio::select! {
                        _ = every.tick() => {}
                        _ = self.0.watching.notified() => {}
                    }
                    None
                }
            };
            match got {
                Some(Ok(update)) => self.saw(update),
                // Missed updates only make a fall look smaller.
                Some(Err(broadcast::error::RecvError::Lagged(_))) => {}
                Some(Err(broadcast::error::RecvError::Closed)) => feed = None,
                None if self.watched() => {
                    feed.get_or_insert_with(|| availability.subscribe());
                    self.sample(metrics_text::read(&metrics.render()));
                }
                None => {
                    feed = None;
                    // Forget the figures, not a look that came meanwhile.
                    let mut s = self.0.state.lock();
                    let watched_until = s.watched_until;
                    *s = State {
                        watched_until,
                        ..State::default()
                    };
                }
            }
        }
    }

    fn saw(&self, update: StockUpdate) {
        let mut s = self.0.state.lock();
        let seen = s.last.insert(update.sku.clone(), update.available);
        if s.last.len() > SKUS_TRACKED_MAX {
            s.last.clear();
        }
        // The feed says what it replaced; if it does not, what was last seen.
        let before = update.previous.or(seen);
        if let Some(fall) = before.and_then(|b| b.checked_sub(update.available)) {
            if fall > 0 && (s.fell.len() < SKUS_PER_SEC_MAX || s.fell.contains_key(&update.sku)) {
                *s.fell.entry(update.sku).or_default() += fall;
            }
        }
    }

    fn sample(&self, totals: Totals) {
        let mut s = self.0.state.lock();
        let fell = std::mem::take(&mut s.fell);
        s.samples.push_back(Sample { totals, fell });
        while s.samples.len() > HISTORY_SECS + 1 {
            s.samples.pop_front();
        }
    }

    /// The figures now.
    pub fn view(&self) -> PulseView {
        let s = self.0.state.lock();
        let samples: Vec<&Sample> = s.samples.iter().collect();
        let last = samples.last().map(|x| &x.totals);
        let base_at = samples.len().saturating_sub(WINDOW_SECS + 1);
        let base = samples.get(base_at).map(|x| &x.totals);
        let (now, then) = match (last, base) {
            (Some(now), Some(then)) => (now.clone(), then.clone()),
            _ => (Totals::default(), Totals::default()),
        };
        let batches = now.batch_count.saturating_sub(then.batch_count);
        PulseView {
            orders_per_min: now.orders.saturating_sub(then.orders),
            value_per_min: now
                .value
                .iter()
                .map(|(c, v)| {
                    (
                        c.clone(),
                        v.saturating_sub(*then.value.get(c).unwrap_or(&0)),
                    )
                })
                .collect(),
            units_per_min: now.units.saturating_sub(then.units),
            units_total: now.units,
            purchase_p50: quantile_bound(&then.purchase_buckets, &now.purchase_buckets, 0.5),
            purchase_p99: quantile_bound(&then.purchase_buckets, &now.purchase_buckets, 0.99),
            refused_per_min: now.refused.saturating_sub(then.refused),
            sold_out_per_min: now.sold_out.saturating_sub(then.sold_out),
            batch_mean: (batches > 0)
                .then(|| (now.batch_ops_sum - then.batch_ops_sum) / batches as f64),
            orders_series: series(&samples),
            hot: hottest(&samples, &s.fell),
            seconds: samples.len().saturating_sub(1),
        }
    }
}

/// Orders in the minute up to each second.
fn series(samples: &[&Sample]) -> Vec<u64> {
    (1..samples.len())
        .map(|i| {
            let from = i.saturating_sub(WINDOW_SECS);
            samples[i]
                .totals
                .orders
                .saturating_sub(samples[from].totals.orders)
        })
        .collect()
}

fn hottest(samples: &[&Sample], pending: &HashMap<Sku, u64>) -> Vec<(Sku, u64)> {
    let mut units: HashMap<&Sku, u64> = HashMap::new();
    let recent = samples.iter().rev().take(WINDOW_SECS);
    for fell in recent.map(|s| &s.fell).chain(std::iter::once(pending)) {
        for (sku, n) in fell {
            *units.entry(sku).or_default() += n;
        }
    }
    let mut hot: Vec<(Sku, u64)> = units.into_iter().map(|(s, n)| (s.clone(), n)).collect();
    hot.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    hot.truncate(HOT_SHOWN);
    hot
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sku(s: &str) -> Sku {
        Sku::parse(s).unwrap()
    }

    fn totals(orders: u64) -> Totals {
        Totals {
            orders,
            units: orders * 2,
            ..Totals::default()
        }
    }

    #[test]
    fn rates_are_over_the_last_minute_and_falls_rank_the_hot_skus() {
        let pulse = Pulse::default();
        for second in 0..=70 {
            pulse.sample(totals(second * 3));
        }
        let update = |s: &str, available| StockUpdate {
            sku: sku(s),
            available,
            sold_out: available == 0,
            previous: None,
        };
        pulse.saw(update("A", 10));
        pulse.saw(update("A", 7));
        pulse.saw(update("B", 5));
        pulse.saw(update("B", 4));
        pulse.saw(update("B", 9)); // a restock is no fall
        pulse.saw(StockUpdate {
            previous: Some(8),
            ..update("C", 6)
        }); // first seen, with what it replaced
        let view = pulse.view();
        assert_eq!(view.orders_per_min, 180);
        assert_eq!(view.units_per_min, 360);
        assert_eq!(view.units_total, 420);
        assert_eq!(view.hot, vec![(sku("A"), 3), (sku("C"), 2), (sku("B"), 1)]);
        assert_eq!(view.orders_series.len(), 70);
        assert_eq!(view.orders_series.last(), Some(&180));
    }

    async fn settle() {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_look_follows_the_feed_at_once_not_from_the_next_second() {
        let pulse = Pulse::default();
        let availability = Availability::default();
        let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
            .build_recorder()
            .handle();
        tokio::spawn(pulse.clone().run(metrics, availability.clone()));
        settle().await; // its first tick, unwatched
        pulse.touch();
        settle().await;
        // Within the same instant as the look: no tick has come since.
        availability.announce(&sku("A"), Some(10), 7);
        tokio::time::advance(Duration::from_secs(1)).await;
        settle().await;
        assert_eq!(pulse.view().hot, vec![(sku("A"), 3)]);
    }
}
