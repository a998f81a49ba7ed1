//! The delivery worker: sends each committed event in the outbox to every
//! subscribed webhook, and keeps the ones that failed as deliveries
//! (`dlv/<webhook>/<seq>`), sent again until the endpoint answers 2xx,
//! backing off between tries; a delivery that ran out of tries becomes a
//! dead letter (`dead/…`).
//!
//! An event's first try is sent straight from the outbox: most endpoints
//! answer the first time, and writing a delivery record only to remove it
//! again cost two of the four store writes per event (under a sale, a
//! subscribed per-purchase event cost ~40 % of the purchase rate). A webhook
//! that has failed lately (it has stored deliveries) gets new events stored
//! as deliveries instead, sent with its retries: so a failing endpoint takes
//! a bounded share of each round and meets its backlog cap. The event leaves
//! the outbox in the same commit that records the outcomes of its first
//! tries, so a `kill -9` at any point re-sends at worst (at least once;
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
use crate::store::{keys, StoreError, Unreadable, WriteGroup};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
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

/// What the worker carries between rounds about the outbox.
#[derive(Default)]
struct Intake {
    /// Events read before the last round's commit, so known to be durable.
    ahead: Vec<Event>,
    /// Whether that read filled its page (more may wait behind it).
    ahead_more: bool,
    /// New events wait until then after a failed round, so that a store
    /// that is busy (or an unreadable event) is not retried at once.
    not_before: Millis,
}

/// First tries and queued deliveries of new events, for one round.
#[derive(Default)]
struct Fresh {
    tries: Vec<Try>,
    /// The events' removal from the outbox, dead letters and queued
    /// deliveries.
    group: WriteGroup,
    /// Deliveries stored with their webhook's backlog: scheduled once the
    /// round's commit lands.
    queued: Vec<(String, u64)>,
    /// Keys written for each webhook (dead letters, stored deliveries),
    /// undone if it is removed before the round commits.
    written: Vec<(String, Vec<u8>)>,
    /// Sequence numbers of the events taken.
    taken: HashSet<u64>,
    /// Whether more events may be waiting.
    more: bool,
}

/// Runs the worker until the task is aborted (at shutdown).
pub async fn run(webhooks: Webhooks, settings: EventSettings) {
    let mut schedule = Schedule::default();
    let mut connections = Connections::new(settings.webhook_in_flight_max);
    reload(&webhooks, &mut schedule).await;
    // Whether the outbox still held events after the last round.
    let mut more = false;
    let mut intake = Intake::default();
    loop {
        let (wait, due) = match schedule.next_due() {
            _ if more => (Duration::ZERO, None),
            due => (IDLE_WAIT, due),
        };
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

/// Resolves when the webhooks' clock reaches `due`; never without one.
async fn until(webhooks: &Webhooks, due: Option<Millis>) {
    match due {
        Some(at) => webhooks.sleep_until(at).await,
        None => std::future::pending().await,
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

/// One round of sends: the deliveries due again, then new events (first
/// tries up to the in-flight limit, or stored with their webhook's backlog),
/// all at once; then their outcomes, and the removal of the events from the
/// outbox, in one commit. A slow endpoint holds the worker for at most
/// `webhook_timeout_ms`; deliveries to other endpoints in the same round are
/// sent alongside it. Returns whether more may be waiting in the outbox.
async fn send_round(
    webhooks: &Webhooks,
    settings: &EventSettings,
    schedule: &mut Schedule,
    connections: &mut Connections,
    intake: &mut Intake,
) -> Result<bool, StoreError> {
    let store = webhooks.store();
    let now = webhooks.now();
    let mut group = WriteGroup::new();
    let in_flight = settings.webhook_in_flight_max;
    // A round reads about as many events as it can send; while some webhook
    // has a backlog, whole batches, so that its new events are stored (and
    // meet its cap) as fast as they come.
    let page = match schedule.len() {
        0 => in_flight.min(settings.outbox_batch_max),
        _ => settings.outbox_batch_max,
    };
    // Retries leave a quarter of the round (at least one try) to new events,
    // so one endpoint's backlog cannot hold back everyone's new events; with
    // a limit of 1, retries and new events share the one try.
    let reserve = (in_flight / 4).max(1).min(in_flight - 1);
    let mut tries = due_tries(webhooks, schedule, in_flight - reserve, &mut group);
    let room = in_flight.saturating_sub(tries.len());
    let fresh = if now < intake.not_before {
        Fresh::default()
    } else {
        match fresh_round(webhooks, settings, schedule, (page, room), intake, &tries).await {
            Ok(fresh) => fresh,
            Err(e) => {
                // The retries above still go out: they must not wait on this.
                tracing::warn!(error = %e, "reading new events for webhooks; retrying shortly");
                intake.not_before = now + STORE_RETRY_MS;
                Fresh::default()
            }
        }
    };
    group.append(fresh.group);
    tries.extend(fresh.tries);
    let written = fresh.written;
    if tries.is_empty() && group.is_empty() {
        return Ok(fresh.more);
    }
    let timeout = Duration::from_millis(settings.webhook_timeout_ms);
    let sends = tries.iter().map(|t| {
        let open = connections.take(&t.hook.id);
        sender::send(&t.hook, &t.delivery.event, webhooks.now(), timeout, open)
    });
    let outcomes = futures_util::future::join_all(sends).await;
    let mut retry = Vec::new();
    let mut sent = Vec::new();
    // Every try's outcome writes its delivery key or its dead letter.
    let mut tried = Vec::new();
    let mut recorded = Ok(());
    for (t, (outcome, open)) in tries.into_iter().zip(outcomes) {
        let (hook, seq) = (t.hook.id.clone(), t.delivery.event.seq);
        if let Some(open) = open {
            connections.put_back(&hook, open);
        }
        if t.stored {
            sent.push((hook.clone(), seq));
        }
        tried.push((hook.clone(), seq));
        match record(webhooks, settings, &mut group, t, outcome) {
            Ok(Some(next_at)) => retry.push((next_at, hook, seq)),
            Ok(None) => {}
            Err(e) => recorded = Err(e),
        }
    }
    // The next round's events, read now so that this commit proves them
    // durable (it completes only after every group applied before it).
    // Not finding them only costs the next round an empty commit.
    let next = if fresh.more {
        let not_taken = |e: &Event| !fresh.taken.contains(&e.seq);
        read_outbox(webhooks, page, not_taken, &mut group).unwrap_or_default()
    } else {
        Vec::new()
    };
    // A webhook removed while this round was out must not keep what the
    // round wrote for it: removals wait while the round checks and commits.
    let changes = webhooks.hold_changes().await;
    let mut removed = HashSet::new();
    let mut gone = |hook: &String| {
        let gone = !webhooks.is_registered(hook);
        if gone {
            removed.insert(hook.clone());
        }
        gone
    };
    for (hook, key) in written {
        if gone(&hook) {
            group.remove(key);
        }
    }
    for (hook, seq) in tried {
        if gone(&hook) {
            for prefix in [keys::DELIVERY, keys::DEAD_LETTER] {
                group.remove(keys::webhook_event(prefix, &hook, seq));
            }
        }
    }
    let committed = match recorded {
        Ok(()) => store.commit(group).await,
        Err(e) => Err(e),
    };
    drop(changes);
    for hook in &removed {
        connections.forget(hook);
    }
    retry.retain(|(_, hook, _)| !removed.contains(hook));
    if let Err(e) = committed {
        // Nothing of this round is recorded: try all of it again later (new
        // events are still in the outbox, whose removal was in this group).
        let later = webhooks.now() + STORE_RETRY_MS;
        for (hook, seq) in sent {
            schedule.insert(later, hook, seq);
        }
        intake.not_before = later;
        return Err(e);
    }
    for (next_at, hook, seq) in retry {
        schedule.insert(next_at, hook, seq);
    }
    for (hook, seq) in fresh.queued {
        if !removed.contains(&hook) {
            schedule.insert(now, hook, seq);
        }
    }
    intake.ahead_more = next.len() >= page;
    intake.ahead = next;
    Ok(fresh.more)
}

/// New events from the outbox for this round: the ones read ahead by the
/// last round, else up to `page` read now and proven durable by an empty
/// commit; at most `room` first tries. `retries` are the round's stored
/// tries, which still count in their webhooks' backlogs.
async fn fresh_round(
    webhooks: &Webhooks,
    settings: &EventSettings,
    schedule: &Schedule,
    (page, room): (usize, usize),
    intake: &mut Intake,
    retries: &[Try],
) -> Result<Fresh, StoreError> {
    let store = webhooks.store();
    let mut events = std::mem::take(&mut intake.ahead);
    let mut full = intake.ahead_more;
    if events.is_empty() {
        let mut set_aside = WriteGroup::new();
        events = read_outbox(webhooks, page, |_| true, &mut set_aside)?;
        if events.is_empty() && set_aside.is_empty() {
            return Ok(Fresh::default());
        }
        full = events.len() >= page || !set_aside.is_empty();
        // Read before this commit (empty but for what was set aside), so
        // durable once it is.
        store.commit(set_aside).await?;
    }
    let mut fresh = Fresh::default();
    let taken = take_events(
        webhooks, settings, schedule, room, &events, retries, &mut fresh,
    )?;
    fresh.taken = events[..taken].iter().map(|e| e.seq).collect();
    fresh.more = full || taken < events.len();
    Ok(fresh)
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

/// Reads up to `page` events that pass `keep` from the outbox. A record that
/// cannot be decoded (damaged, or written by a newer build) would otherwise
/// stop every event behind it for good: it is moved, bytes intact, to
/// `quarantine/<its key>` in `group`, logged and counted, and the read goes
/// on past it.
fn read_outbox(
    webhooks: &Webhooks,
    page: usize,
    keep: impl FnMut(&Event) -> bool,
    group: &mut WriteGroup,
) -> Result<Vec<Event>, StoreError> {
    let store = webhooks.store();
    let read = store.scan_page_salvaging(keys::OUTBOX, page, keep)?;
    if read.unreadable.is_empty() {
        return Ok(read.records);
    }
    // The mark first: records set aside without it could see their numbers
    // handed out again after a restart.
    put_outbox_mark(webhooks, group)?;
    set_aside(group, read.unreadable);
    Ok(read.records)
}

/// Takes the leading `events` (durable ones) out of the outbox into `fresh`.
/// A webhook without a backlog gets a first try now, at most `room` tries
/// in all (but always the first event's, so a round may exceed `room` by
/// that event's webhooks); one with a backlog (it failed lately) gets the
/// event stored as a delivery due now, sent with its retries, so a failing
/// endpoint neither takes the round's room nor escapes its cap: past
/// `webhook_pending_max` an event becomes a dead letter at once (kept,
/// replayable). Returns how many events it took.
fn take_events(
    webhooks: &Webhooks,
    settings: &EventSettings,
    schedule: &Schedule,
    room: usize,
    events: &[Event],
    retries: &[Try],
    fresh: &mut Fresh,
) -> Result<usize, StoreError> {
    let hooks = webhooks.list();
    let now = webhooks.now();
    // Each webhook's backlog: stored deliveries, the ones in this round
    // included, then what this round adds.
    let mut queued: Vec<usize> = hooks
        .iter()
        .map(|h| schedule.pending_of(&h.id) + retries.iter().filter(|t| t.hook.id == h.id).count())
        .collect();
    let backed_up: Vec<bool> = queued.iter().map(|&n| n > 0).collect();
    let (mut taken, mut sends) = (0, 0);
    for event in events {
        let wanted = |(h, backed): (&Webhook, &bool)| h.takes(event) && !*backed;
        let now_sends = hooks.iter().zip(&backed_up).filter(|&p| wanted(p)).count();
        if sends + now_sends > room && (taken > 0 || room == 0) {
            break;
        }
        (taken, sends) = (taken + 1, sends + now_sends);
        fresh.group.remove(keys::numbered(keys::OUTBOX, event.seq));
        for ((hook, &backed), queued) in hooks.iter().zip(&backed_up).zip(queued.iter_mut()) {
            if !hook.takes(event) {
                continue;
            }
            let mut delivery = Delivery {
                webhook: hook.id.clone(),
                event: event.clone(),
                attempts: 0,
                next_at: now,
                last_error: None,
            };
            let key = keys::webhook_event(keys::DELIVERY, &hook.id, event.seq);
            if *queued >= settings.webhook_pending_max {
                metrics::counter!("surge_webhook_deliveries_total", "outcome" => "backlog_full")
                    .increment(1);
                delivery.last_error = Some("the webhook's backlog was full".into());
                let dead = keys::webhook_event(keys::DEAD_LETTER, &hook.id, event.seq);
                fresh.group.put(dead.clone(), &delivery)?;
                fresh.written.push((hook.id.clone(), dead));
                continue;
            }
            *queued += 1;
            if backed {
                fresh.group.put(key.clone(), &delivery)?;
                fresh.written.push((hook.id.clone(), key));
                fresh.queued.push((hook.id.clone(), event.seq));
            } else {
                fresh.tries.push(Try {
                    key,
                    hook: hook.clone(),
                    delivery,
                    stored: false,
                });
            }
        }
    }
    if taken > 0 {
        put_outbox_mark(webhooks, &mut fresh.group)?;
    }
    Ok(taken)
}

/// Records, with the removal of events from the outbox, that no number
/// handed out so far may be used again after a restart (receivers
/// deduplicate by event id). Numbers are handed out before their commits,
/// which may land out of order, so the mark covers every number handed out,
/// committed or not: it only ever moves up, and a later write of it in the
/// same group is never lower than an earlier one.
fn put_outbox_mark(webhooks: &Webhooks, group: &mut WriteGroup) -> Result<(), StoreError> {
    let mark = webhooks
        .store()
        .get::<u64>(keys::OUTBOX_SEQ)?
        .unwrap_or(0)
        .max(webhooks.outbox().last_handed_out());
    group.put(keys::OUTBOX_SEQ.to_vec(), &mark)
}

/// Takes up to `max` due deliveries off the schedule and reads them; ones whose
/// webhook is gone are removed in `group`.
fn due_tries(
    webhooks: &Webhooks,
    schedule: &mut Schedule,
    max: usize,
    group: &mut WriteGroup,
) -> Vec<Try> {
    let now = webhooks.now();
    let mut tries = Vec::new();
    for (hook_id, seq) in schedule.take_due(now, max) {
        let key = keys::webhook_event(keys::DELIVERY, &hook_id, seq);
        let delivery = match webhooks.store().get_salvaging::<Delivery>(&key) {
            Ok(Some(Ok(delivery))) => delivery,
            // Gone: delivered before a reload, or its webhook was removed.
            Ok(None) => continue,
            Ok(Some(Err(unreadable))) => {
                set_aside(group, vec![unreadable]);
                continue;
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use crate::events::{EventKind, Outbox};
    use crate::store::{CommitterSettings, Durability, Store};
    use std::sync::Arc;

    struct World {
        _dir: tempfile::TempDir,
        store: Store,
        webhooks: Webhooks,
        settings: EventSettings,
        hook: Webhook,
        schedule: Schedule,
        connections: Connections,
        intake: Intake,
    }

    /// A store with one webhook at an address nobody listens on, so every
    /// try fails (and is rescheduled a minute later).
    async fn world(pending_max: usize) -> World {
        world_at("http://127.0.0.1:1/x", pending_max).await
    }

    async fn world_at(url: &str, pending_max: usize) -> World {
        let dir = tempfile::tempdir().unwrap();
        let committer = CommitterSettings {
            durability: Durability::Strict,
            commit_window_us: 100,
            commit_batch_max: 1024,
            commit_queue_max: 64,
        };
        let store = Store::open(dir.path(), committer).unwrap();
        let outbox = Outbox::load(&store).unwrap();
        let webhooks = Webhooks::load(store.clone(), outbox, Arc::new(SystemClock), 8).unwrap();
        let hook = webhooks.register(url, "s", None).await.unwrap();
        let settings = EventSettings {
            webhook_pending_max: pending_max,
            webhook_backoff_base_ms: 60_000,
            webhook_backoff_max_ms: 60_000,
            webhook_timeout_ms: 1_000,
            ..EventSettings::default()
        };
        let connections = Connections::new(settings.webhook_in_flight_max);
        World {
            _dir: dir,
            store,
            webhooks,
            settings,
            hook,
            schedule: Schedule::default(),
            connections,
            intake: Intake::default(),
        }
    }

    impl World {
        /// A stored delivery of event `seq`, due now.
        async fn due_retry(&mut self, seq: u64) {
            let delivery = Delivery {
                webhook: self.hook.id.clone(),
                event: Event {
                    id: format!("evt_{seq:016x}"),
                    seq,
                    kind: EventKind::OrderCreated,
                    at: 0,
                    data: "{}".into(),
                },
                attempts: 1,
                next_at: 0,
                last_error: None,
            };
            let mut g = WriteGroup::new();
            let key = keys::webhook_event(keys::DELIVERY, &self.hook.id, seq);
            g.put(key, &delivery).unwrap();
            self.store.commit(g).await.unwrap();
            self.schedule.insert(0, self.hook.id.clone(), seq);
        }

        /// An `order.created` event, committed to the outbox.
        async fn new_event(&self) {
            let mut g = WriteGroup::new();
            let outbox = self.webhooks.outbox();
            outbox
                .record(&mut g, EventKind::OrderCreated, &"x", 0)
                .unwrap();
            self.store.commit(g).await.unwrap();
        }

        async fn round(&mut self) -> Result<bool, StoreError> {
            let (webhooks, settings) = (&self.webhooks, &self.settings);
            send_round(
                webhooks,
                settings,
                &mut self.schedule,
                &mut self.connections,
                &mut self.intake,
            )
            .await
        }
    }

    #[tokio::test]
    async fn an_unreadable_outbox_record_is_set_aside_and_the_events_behind_it_go_out() {
        let mut w = world(100).await;
        w.due_retry(1000).await;
        w.new_event().await;
        w.new_event().await;
        // Damage the first event's record (seq 1): it no longer decodes.
        let bad_key = keys::numbered(keys::OUTBOX, 1);
        let mut g = WriteGroup::new();
        g.put(bad_key.clone(), &0u8).unwrap();
        w.store.commit(g).await.unwrap();
        w.round().await.unwrap();

        let left: Vec<(Vec<u8>, Event)> = w.store.scan(keys::OUTBOX).unwrap();
        assert!(left.is_empty(), "the event behind it was taken");
        let kept = w.store.get::<u8>(&keys::quarantined(&bad_key)).unwrap();
        assert_eq!(kept, Some(0), "the damaged record is kept as it was");
        let mark = w.store.get::<u64>(keys::OUTBOX_SEQ).unwrap();
        assert!(mark >= Some(2), "its number is never handed out again");
        let key = keys::webhook_event(keys::DELIVERY, &w.hook.id, 1000);
        let stored: Delivery = w.store.get(&key).unwrap().unwrap();
        assert_eq!(stored.attempts, 2, "the due retry went out too");
        assert_eq!(w.intake.not_before, 0, "nothing failed");
    }

    #[tokio::test]
    async fn an_unreadable_record_met_by_the_read_ahead_is_set_aside_in_the_round() {
        let mut w = world(100).await;
        // Rounds of two: the round reads events 1 and 2 and looks ahead at 3.
        w.settings.webhook_in_flight_max = 2;
        for _ in 0..3 {
            w.new_event().await;
        }
        let bad_key = keys::numbered(keys::OUTBOX, 3);
        let mut g = WriteGroup::new();
        g.put(bad_key.clone(), &0u8).unwrap();
        w.store.commit(g).await.unwrap();
        w.round().await.unwrap();
        let kept = w.store.get::<u8>(&keys::quarantined(&bad_key)).unwrap();
        assert_eq!(kept, Some(0), "set aside by the round's own commit");
        let left: Vec<(Vec<u8>, Event)> = w.store.scan(keys::OUTBOX).unwrap();
        assert!(left.is_empty());
        let mark = w.store.get::<u64>(keys::OUTBOX_SEQ).unwrap();
        assert!(mark >= Some(3), "its number is never handed out again");
    }

    #[tokio::test]
    async fn unreadable_deliveries_are_set_aside_and_the_others_still_go_out() {
        let mut w = world(100).await;
        w.due_retry(1000).await;
        // Two damaged deliveries: one found by a reload, one when it is due.
        let hook = w.hook.id.clone();
        let bad_key = |seq| keys::webhook_event(keys::DELIVERY, &hook, seq);
        let mut g = WriteGroup::new();
        g.put(bad_key(998), &0u8).unwrap();
        g.put(bad_key(999), &0u8).unwrap();
        w.store.commit(g).await.unwrap();
        reload(&w.webhooks, &mut w.schedule).await;
        assert_eq!(w.schedule.len(), 1, "the readable retry is scheduled");
        let kept = |w: &World, seq| {
            w.store
                .get::<u8>(&keys::quarantined(&bad_key(seq)))
                .unwrap()
        };
        assert_eq!(kept(&w, 998), Some(0));
        assert_eq!(kept(&w, 999), Some(0));

        // A delivery damaged after it was scheduled is set aside when due.
        let mut g = WriteGroup::new();
        g.put(bad_key(1000), &1u8).unwrap();
        w.store.commit(g).await.unwrap();
        w.schedule.insert(0, w.hook.id.clone(), 1000);
        w.round().await.unwrap();
        assert_eq!(w.schedule.len(), 0, "not retried forever");
        assert_eq!(kept(&w, 1000), Some(1));
        let (pending, dead) = w.webhooks.backlog(&w.hook.id).unwrap();
        assert_eq!((pending, dead), (0, 0));
    }

    #[tokio::test]
    async fn a_webhook_gets_only_the_events_recorded_after_it_was_registered() {
        let mut w = world(100).await;
        w.new_event().await;
        let late = w
            .webhooks
            .register("http://127.0.0.1:1/late", "s", None)
            .await
            .unwrap();
        w.new_event().await;
        w.round().await.unwrap();
        let stored = |hook: &str| {
            let mut n = 0;
            let prefix = keys::of_webhook(keys::DELIVERY, hook);
            w.store.for_each_key(&prefix, |_| n += 1).unwrap();
            n
        };
        assert_eq!(
            stored(&w.hook.id),
            2,
            "the first webhook got both (failed, stored)"
        );
        assert_eq!(stored(&late.id), 1, "the late one only the event after it");
        let reloaded = Webhooks::load(
            w.store.clone(),
            Outbox::load(&w.store).unwrap(),
            Arc::new(SystemClock),
            8,
        )
        .unwrap();
        let first = reloaded.get(&late.id).map(|h| h.first_seq);
        assert_eq!(first, Some(late.first_seq), "kept across a restart");
    }

    #[tokio::test]
    async fn the_backlog_cap_counts_the_retries_of_the_round() {
        let mut w = world(1).await;
        w.due_retry(1000).await;
        w.new_event().await;
        w.round().await.unwrap();
        let (pending, dead) = w.webhooks.backlog(&w.hook.id).unwrap();
        assert_eq!((pending, dead), (1, 1), "the new event is a dead letter");
    }

    #[tokio::test]
    async fn a_webhook_with_a_backlog_gets_new_events_stored_behind_it() {
        let mut w = world(100).await;
        w.due_retry(1000).await;
        // The retry is not due again for a minute; new events queue behind it.
        w.round().await.unwrap();
        w.new_event().await;
        w.round().await.unwrap();
        let (pending, dead) = w.webhooks.backlog(&w.hook.id).unwrap();
        assert_eq!((pending, dead), (2, 0));
        assert_eq!(w.schedule.len(), 2, "the stored event is scheduled");
        let prefix = keys::of_webhook(keys::DELIVERY, &w.hook.id);
        let fresh: Vec<Delivery> = w
            .store
            .scan(&prefix)
            .unwrap()
            .into_iter()
            .map(|(_, d)| d)
            .collect();
        let new = fresh.iter().find(|d| d.event.seq != 1000).unwrap();
        assert_eq!(new.attempts, 0, "queued behind the backlog, not tried");
        let left: Vec<Event> = w
            .store
            .scan(keys::OUTBOX)
            .unwrap()
            .into_iter()
            .map(|(_, e)| e)
            .collect();
        assert!(left.is_empty(), "the event left the outbox");
    }

    /// An endpoint that accepts connections and never answers.
    async fn silent_endpoint() -> (String, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/x", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        (url, task)
    }

    #[tokio::test]
    async fn a_webhook_removed_during_a_round_keeps_nothing_the_round_wrote() {
        let (url, _endpoint) = silent_endpoint().await;
        let mut w = world_at(&url, 1).await;
        // A retry that will hang until the timeout, and a new event that
        // meets the full backlog: a dead letter written by the round.
        w.due_retry(1000).await;
        w.new_event().await;
        let webhooks = w.webhooks.clone();
        let id = w.hook.id.clone();
        let remover = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            webhooks.remove(&id).await.unwrap();
        });
        w.round().await.unwrap();
        remover.await.unwrap();
        for prefix in [keys::DELIVERY, keys::DEAD_LETTER] {
            let mut left = 0;
            let of_hook = keys::of_webhook(prefix, &w.hook.id);
            w.store.for_each_key(&of_hook, |_| left += 1).unwrap();
            assert_eq!(
                left,
                0,
                "keys left under {}",
                String::from_utf8_lossy(prefix)
            );
        }
        assert_eq!(w.schedule.len(), 0);
    }

    #[tokio::test]
    async fn with_an_in_flight_limit_of_two_due_retries_leave_room_for_new_events() {
        let mut w = world(100).await;
        w.settings.webhook_in_flight_max = 2;
        for seq in 1000..1006 {
            w.due_retry(seq).await;
        }
        w.new_event().await;
        w.round().await.unwrap();
        let left: Vec<(Vec<u8>, Event)> = w.store.scan(keys::OUTBOX).unwrap();
        assert!(
            left.is_empty(),
            "the new event was taken in the first round"
        );
    }
}
