//! The delivery worker: sends each committed event in the outbox to every
//! subscribed webhook, and keeps the ones that failed as deliveries
//! (`dlv/<webhook>/<seq>`), sent again until the endpoint answers 2xx,
//! backing off between tries; a delivery that ran out of tries becomes a
//! dead letter (`dead/…`).
//!
//! An event's first try is sent straight from the outbox: most endpoints
//! answer the first time, and writing a delivery record only to remove it
//! again would cost two of the four store writes per event (under a sale, a
//! subscribed per-purchase event would cost ~40 % of the purchase rate). A
//! webhook that has failed lately (it has stored deliveries) gets new events
//! stored as deliveries instead, sent with its retries: so a failing endpoint
//! takes a bounded share of each round and meets its backlog cap. The event
//! leaves the outbox in the same commit that records the outcomes of its
//! first tries, so a `kill -9` at any point re-sends at worst (at least once;
//! receivers deduplicate by event id) and never loses an event. Nothing is
//! sent before the change that recorded it is durable: a scan of the outbox
//! sees a change once applied, which is before its flush, so the events a
//! round sends were read before some commit that has since completed (which
//! happens only after every group queued before it has been flushed): either
//! the previous round's, whose outcomes were committed after it looked ahead
//! for the next events, or an empty one.
//!
//! The worker (this file) owns, between rounds, the schedule of stored
//! deliveries, the idle connections and the `Intake` of new events. Each
//! `round` sends one batch and commits its outcomes; `intake` reads new
//! events from the outbox, which `fresh` splits into first tries, queued
//! deliveries and dead letters; `tries` reads the deliveries due again and
//! writes back the outcome of every try.

mod fresh;
mod intake;
mod round;
mod tries;

#[cfg(test)]
mod tests;

use super::schedule::Schedule;
use super::sender::Connections;
use super::{Event, EventSettings, Webhooks};
use crate::clock::Millis;
use crate::store::{keys, Unreadable, WriteGroup};
use crate::tls::Tls;
use intake::Intake;
use round::send_round;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// An event on its way to one webhook (or, stored as a dead letter, one
/// that ran out of tries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub webhook: String,
    pub event: Event,
    /// Tries made so far.
    pub attempts: u32,
    /// When the next try is due; for a dead letter, when it died.
    pub next_at: Millis,
    /// Why the last try failed.
    pub last_error: Option<String>,
}

/// Longest the worker sleeps with nothing due, so a missed wake-up costs at
/// most this.
const IDLE_WAIT: Duration = Duration::from_millis(250);
/// How long deliveries (and new events) wait after their outcome could not
/// be recorded (or their record read), in ms: the store is busy or failing,
/// and sending again at once would only repeat the same tries.
const STORE_RETRY_MS: Millis = 1_000;

/// Runs the worker until the task is aborted (at shutdown).
pub async fn run(webhooks: Webhooks, settings: EventSettings, tls: Tls) {
    let mut schedule = Schedule::default();
    let mut connections = Connections::new(settings.webhook_in_flight_max, tls);
    reload(&webhooks, &mut schedule).await;
    // Whether the outbox still held events after the last round.
    let mut more = false;
    let mut intake = Intake::default();
    loop {
        let (wait, due) = idle_wait(&schedule, more);
        tokio::select! {
            () = webhooks.outbox().poked() => {}
            () = webhooks.rescan_requested() => reload(&webhooks, &mut schedule).await,
            () = tokio::time::sleep(wait) => {}
            // Due times are on the webhooks' clock: wake when it gets there.
            () = until(&webhooks, due) => {}
        }
        // A failed store takes no writes until restart; sending now would
        // only repeat deliveries whose outcome cannot be recorded.
        if webhooks.store().failed() {
            // Due deliveries stay due: pause here, or the loop would spin.
            more = false;
            tokio::time::sleep(IDLE_WAIT).await;
            continue;
        }
        let round = send_round(
            &webhooks,
            &settings,
            &mut schedule,
            &mut connections,
            &mut intake,
        );
        more = round.await.unwrap_or_else(|e| {
            // Wait for the next wake-up rather than retry at once.
            tracing::warn!(error = %e, "webhook delivery round failed; retrying shortly");
            false
        });
        connections.prune(|id| webhooks.is_registered(id));
        metrics::gauge!("surge_webhook_deliveries_pending").set(schedule.len() as f64);
    }
}

/// How long the worker waits for a wake-up before its next round: not at all
/// while the outbox still holds events, else at most [`IDLE_WAIT`] of real
/// time or until the webhooks' clock reaches the next due delivery.
fn idle_wait(schedule: &Schedule, more: bool) -> (Duration, Option<Millis>) {
    match schedule.next_due() {
        _ if more => (Duration::ZERO, None),
        due => (IDLE_WAIT, due),
    }
}

/// Resolves when the webhooks' clock reaches `due`; never without one.
async fn until(webhooks: &Webhooks, due: Option<Millis>) {
    match due {
        Some(at) => webhooks.sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Rebuilds `schedule` from the stored deliveries, setting aside the ones
/// that cannot be read.
async fn reload(webhooks: &Webhooks, schedule: &mut Schedule) {
    let store = webhooks.store();
    match schedule.reload(store) {
        Ok(unreadable) if unreadable.is_empty() => {}
        Ok(unreadable) => {
            let mut group = WriteGroup::new();
            set_aside(&mut group, unreadable);
            if let Err(e) = store.commit(group).await {
                tracing::error!(error = %e, "setting aside unreadable webhook deliveries");
            }
        }
        Err(e) => tracing::error!(error = %e, "reading pending webhook deliveries"),
    }
}

/// Moves records that cannot be decoded (damaged, or written by a newer
/// build), bytes intact, to `quarantine/<their key>` in `group`, logged and
/// counted: one bad record must not stop the delivery of every other.
fn set_aside(group: &mut WriteGroup, unreadable: Vec<Unreadable>) {
    for bad in unreadable {
        tracing::error!(
            key = %String::from_utf8_lossy(&bad.key),
            error = %bad.error,
            "an event or delivery record cannot be decoded: set aside under quarantine/, delivery goes on"
        );
        metrics::counter!("surge_events_quarantined_total").increment(1);
        group.remove(bad.key.clone());
        group.put_raw(keys::quarantined(&bad.key), bad.bytes);
    }
}
