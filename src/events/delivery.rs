//! The delivery worker: sends each committed event in the outbox to every
//! subscribed webhook, and keeps the ones that failed as deliveries
//! (`dlv/<webhook>/<seq>`), sent again until the endpoint answers 2xx,
//! backing off between tries; a delivery that ran out of tries becomes a
//! dead letter (`dead/…`).
//!
//! An event's first try is sent straight from the outbox: most endpoints
//! answer the first time, and writing a delivery record only to remove it
//! again cost two of the four store writes per event (under a sale, a
//! subscribed per-purchase event cost ~40 % of the purchase rate). The event
//! leaves the outbox in the same commit that records the outcomes of its
//! first tries, so a `kill -9` at any point re-sends at worst (at least once;
//! receivers deduplicate by event id) and never loses an event. Nothing is
//! sent before the change that recorded it is durable: a scan of the outbox
//! sees a change once applied, which is before its flush, so the events a
//! round sends were read before some commit that has since completed (which
//! happens only after every group queued before it has been flushed): either
//! the previous round's, whose outcomes were committed after it looked ahead
//! for the next events, or an empty one.

use super::schedule::Schedule;
use super::sender::{self, Connections};
use super::{Event, EventSettings, Webhook, Webhooks};
use crate::clock::Millis;
use crate::store::{keys, StoreError, WriteGroup};
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
/// How long deliveries wait after their outcome could not be recorded (or
/// their record read), in ms: the store is busy or failing, and sending
/// again at once would only repeat the same tries.
const STORE_RETRY_MS: Millis = 1_000;

/// Runs the worker until the task is aborted (at shutdown).
pub async fn run(webhooks: Webhooks, settings: EventSettings) {
    let mut schedule = Schedule::default();
    let mut connections = Connections::new(settings.webhook_in_flight_max);
    if let Err(e) = schedule.reload(webhooks.store()) {
        tracing::error!(error = %e, "reading pending webhook deliveries");
    }
    // Whether the outbox still held events after the last round.
    let mut more = false;
    // Events read before the last round's commit, so known to be durable.
    let mut ahead = Vec::new();
    loop {
        let wait = match schedule.next_due() {
            _ if more => Duration::ZERO,
            Some(due) => Duration::from_millis(due.saturating_sub(webhooks.now())).min(IDLE_WAIT),
            None => IDLE_WAIT,
        };
        tokio::select! {
            () = webhooks.outbox().poked() => {}
            () = webhooks.rescan_requested() => {
                if let Err(e) = schedule.reload(webhooks.store()) {
                    tracing::error!(error = %e, "re-reading webhook deliveries");
                }
            }
            () = tokio::time::sleep(wait) => {}
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
            &mut ahead,
        );
        more = match round.await {
            Ok(more) => more,
            Err(e) => {
                // Wait for the next wake-up rather than retry at once.
                tracing::warn!(error = %e, "webhook delivery round failed; retrying shortly");
                false
            }
        };
        connections.prune(|id| webhooks.is_registered(id));
        metrics::gauge!("surge_webhook_deliveries_pending").set(schedule.len() as f64);
    }
}

/// One try in a round: the delivery and its webhook. `stored` is false for
/// an event's first try, which has no delivery record (yet).
struct Try {
    key: Vec<u8>,
    hook: Webhook,
    delivery: Delivery,
    stored: bool,
}

/// One round of sends: the deliveries due again, then first tries of fresh
/// events up to the in-flight limit, all at once; then their outcomes, and
/// the removal of the events from the outbox, in one commit. A slow endpoint
/// holds the worker for at most `webhook_timeout_ms`; deliveries to other
/// endpoints in the same round are sent alongside it. `ahead` holds events
/// known to be durable (read before the last round's commit) and gets the
/// next round's. Returns whether more may be waiting in the outbox.
async fn send_round(
    webhooks: &Webhooks,
    settings: &EventSettings,
    schedule: &mut Schedule,
    connections: &mut Connections,
    ahead: &mut Vec<Event>,
) -> Result<bool, StoreError> {
    let store = webhooks.store();
    let page = settings
        .webhook_in_flight_max
        .min(settings.outbox_batch_max);
    let mut group = WriteGroup::new();
    let mut tries = due_tries(webhooks, settings, schedule, &mut group);
    let room = settings.webhook_in_flight_max.saturating_sub(tries.len());
    let mut taken = Vec::new();
    let more = room == 0 || {
        let mut events = std::mem::take(ahead);
        if events.is_empty() {
            events = store.scan_page(keys::OUTBOX, None, page, |_| true)?;
            if !events.is_empty() {
                // Read before this empty commit, so durable once it is.
                store.commit(WriteGroup::new()).await?;
            }
        }
        let fit = first_tries(
            webhooks, settings, schedule, room, &events, &mut group, &mut tries,
        )?;
        taken.extend(events[..fit].iter().map(|e| e.seq));
        events.len() >= page || fit < events.len()
    };
    if tries.is_empty() && group.is_empty() {
        return Ok(more);
    }
    let timeout = Duration::from_millis(settings.webhook_timeout_ms);
    let sends = tries.iter().map(|t| {
        let open = connections.take(&t.hook.id);
        sender::send(&t.hook, &t.delivery.event, webhooks.now(), timeout, open)
    });
    let outcomes = futures_util::future::join_all(sends).await;
    let mut retry = Vec::new();
    let mut sent = Vec::new();
    for (t, (outcome, open)) in tries.into_iter().zip(outcomes) {
        let (hook, seq) = (t.hook.id.clone(), t.delivery.event.seq);
        if let Some(open) = open {
            connections.put_back(&hook, open);
        }
        // Removed while this round was out: its keys are already gone.
        if !webhooks.is_registered(&hook) {
            connections.forget(&hook);
            continue;
        }
        if t.stored {
            sent.push((hook.clone(), seq));
        }
        if let Some(next_at) = record(webhooks, settings, &mut group, t, outcome)? {
            retry.push((next_at, hook, seq));
        }
    }
    // The next round's events, read now so that this commit proves them
    // durable (it completes only after every group applied before it).
    // Not finding them only costs the next round an empty commit.
    let next = if more {
        store
            .scan_page(keys::OUTBOX, None, page, |e: &Event| {
                !taken.contains(&e.seq)
            })
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    if let Err(e) = store.commit(group).await {
        // Nothing of this round is recorded: try all of it again later (first
        // tries are still in the outbox, whose removal was in this group).
        let later = webhooks.now() + STORE_RETRY_MS;
        for (hook, seq) in sent {
            schedule.insert(later, hook, seq);
        }
        return Err(e);
    }
    for (next_at, hook, seq) in retry {
        schedule.insert(next_at, hook, seq);
    }
    *ahead = next;
    Ok(more)
}

/// First tries of the leading `events` (durable ones), at most `room` tries
/// (at least one event's worth), added to `tries`; the events' removal goes
/// in `group`. A webhook whose backlog is full gets the event as a dead
/// letter at once (kept, replayable) rather than growing without bound.
/// Returns how many events it took.
fn first_tries(
    webhooks: &Webhooks,
    settings: &EventSettings,
    schedule: &Schedule,
    room: usize,
    events: &[Event],
    group: &mut WriteGroup,
    tries: &mut Vec<Try>,
) -> Result<usize, StoreError> {
    if events.is_empty() {
        return Ok(0);
    }
    let store = webhooks.store();
    let hooks = webhooks.list();
    let now = webhooks.now();
    // Each webhook's backlog, counting this round's first tries.
    let mut queued: Vec<usize> = hooks.iter().map(|h| schedule.pending_of(&h.id)).collect();
    let (mut taken, mut pairs, mut last) = (0, 0, 0);
    for event in events {
        let wanted = hooks.iter().filter(|h| h.wants(event.kind)).count();
        if taken > 0 && pairs + wanted > room {
            break;
        }
        (taken, pairs, last) = (taken + 1, pairs + wanted, last.max(event.seq));
        group.remove(keys::numbered(keys::OUTBOX, event.seq));
        for (hook, queued) in hooks.iter().zip(queued.iter_mut()) {
            if !hook.wants(event.kind) {
                continue;
            }
            let mut delivery = Delivery {
                webhook: hook.id.clone(),
                event: event.clone(),
                attempts: 0,
                next_at: now,
                last_error: None,
            };
            if *queued < settings.webhook_pending_max {
                *queued += 1;
                tries.push(Try {
                    key: keys::webhook_event(keys::DELIVERY, &hook.id, event.seq),
                    hook: hook.clone(),
                    delivery,
                    stored: false,
                });
            } else {
                metrics::counter!("surge_webhook_deliveries_total", "outcome" => "backlog_full")
                    .increment(1);
                delivery.last_error = Some("the webhook's backlog was full".into());
                let dead = keys::webhook_event(keys::DEAD_LETTER, &hook.id, event.seq);
                group.put(dead, &delivery)?;
            }
        }
    }
    // Sequence numbers are handed out before their commits, which may land
    // out of order: the mark only ever moves up, so no number is reused.
    let mark = store.get::<u64>(keys::OUTBOX_SEQ)?.unwrap_or(0).max(last);
    group.put(keys::OUTBOX_SEQ.to_vec(), &mark)?;
    Ok(taken)
}

/// Takes the due deliveries off the schedule and reads them; ones whose
/// webhook is gone are removed in `group`.
fn due_tries(
    webhooks: &Webhooks,
    settings: &EventSettings,
    schedule: &mut Schedule,
    group: &mut WriteGroup,
) -> Vec<Try> {
    let now = webhooks.now();
    let mut tries = Vec::new();
    for (hook_id, seq) in schedule.take_due(now, settings.webhook_in_flight_max) {
        let key = keys::webhook_event(keys::DELIVERY, &hook_id, seq);
        let delivery = match webhooks.store().get::<Delivery>(&key) {
            Ok(Some(delivery)) => delivery,
            // Gone: delivered before a reload, or its webhook was removed.
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(error = %e, webhook = %hook_id, seq, "reading a webhook delivery");
                schedule.insert(now + STORE_RETRY_MS, hook_id, seq);
                continue;
            }
        };
        match webhooks.get(&hook_id) {
            Some(hook) => tries.push(Try {
                key,
                hook,
                delivery,
                stored: true,
            }),
            None => group.remove(key),
        }
    }
    tries
}

/// Records one try's outcome in `group`: removed when delivered, a dead
/// letter when out of tries, else (first tries too) stored with its next
/// due time, which it returns.
fn record(
    webhooks: &Webhooks,
    settings: &EventSettings,
    group: &mut WriteGroup,
    t: Try,
    outcome: Result<(), String>,
) -> Result<Option<Millis>, StoreError> {
    let Try {
        key,
        hook,
        mut delivery,
        stored,
    } = t;
    delivery.attempts += 1;
    let outcome_label = match outcome {
        Ok(()) => {
            if stored {
                group.remove(key);
            }
            "delivered"
        }
        Err(why) => {
            delivery.last_error = Some(why);
            delivery.next_at = webhooks.now();
            if delivery.attempts >= settings.webhook_attempts_max {
                tracing::warn!(webhook = %hook.id, event = %delivery.event.id,
                    attempts = delivery.attempts, error = ?delivery.last_error,
                    "webhook delivery dead-lettered");
                if stored {
                    group.remove(key);
                }
                let dead = keys::webhook_event(keys::DEAD_LETTER, &hook.id, delivery.event.seq);
                group.put(dead, &delivery)?;
                "dead_lettered"
            } else {
                delivery.next_at += settings.backoff_ms(delivery.attempts);
                group.put(key, &delivery)?;
                metrics::counter!("surge_webhook_deliveries_total", "outcome" => "failed")
                    .increment(1);
                return Ok(Some(delivery.next_at));
            }
        }
    };
    metrics::counter!("surge_webhook_deliveries_total", "outcome" => outcome_label).increment(1);
    Ok(None)
}
