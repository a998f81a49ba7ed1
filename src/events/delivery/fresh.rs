//! The new events one round takes from the outbox, split by webhook: a
//! first try for a webhook without a backlog, a stored delivery queued
//! behind the backlog of one that failed lately, a dead letter for one whose
//! backlog is full. Lives for one round; the outbox and the stored
//! deliveries are the truth.

use super::intake::put_outbox_mark;
use super::tries::Try;
use super::Delivery;
use crate::clock::Millis;
use crate::events::schedule::Schedule;
use crate::events::{Event, EventSettings, Webhook, Webhooks};
use crate::store::{keys, StoreError, WriteGroup};
use std::collections::HashSet;

/// First tries and queued deliveries of new events, for one round.
#[derive(Default)]
pub(super) struct Fresh {
    pub(super) tries: Vec<Try>,
    /// The events' removal from the outbox, dead letters and queued
    /// deliveries.
    pub(super) group: WriteGroup,
    /// Deliveries stored with their webhook's backlog: scheduled once the
    /// round's commit lands.
    pub(super) queued: Vec<(String, u64)>,
    /// Keys written for each webhook (dead letters, stored deliveries),
    /// undone if it is removed before the round commits.
    pub(super) written: Vec<(String, Vec<u8>)>,
    /// Sequence numbers of the events taken.
    pub(super) taken: HashSet<u64>,
    /// Whether more events may be waiting.
    pub(super) more: bool,
}

/// A registered webhook as the round's new events meet it.
struct Subscriber {
    hook: Webhook,
    /// Whether it had a backlog when the round began (it failed lately):
    /// its new events are stored behind it rather than tried now.
    backed_up: bool,
    /// Its backlog: stored deliveries, the ones in this round included,
    /// then what this round adds.
    queued: usize,
}

/// Takes the leading `events` (durable ones) out of the outbox into `fresh`.
/// A webhook without a backlog gets a first try now, at most `room` tries
/// in all (but always the first event's, so a round may exceed `room` by
/// that event's webhooks); one with a backlog (it failed lately) gets the
/// event stored as a delivery due now, sent with its retries, so a failing
/// endpoint neither takes the round's room nor escapes its cap: past
/// `webhook_pending_max` an event becomes a dead letter at once (kept,
/// replayable). Returns how many events it took.
pub(super) fn take_events(
    webhooks: &Webhooks,
    settings: &EventSettings,
    schedule: &Schedule,
    room: usize,
    events: &[Event],
    retries: &[Try],
    fresh: &mut Fresh,
) -> Result<usize, StoreError> {
    let now = webhooks.now();
    let mut subscribers = subscribers(webhooks, schedule, retries);
    let (mut taken, mut sends) = (0, 0);
    for event in events {
        let now_sends = subscribers
            .iter()
            .filter(|s| s.hook.takes(event) && !s.backed_up)
            .count();
        if sends + now_sends > room && (taken > 0 || room == 0) {
            break;
        }
        (taken, sends) = (taken + 1, sends + now_sends);
        fresh.group.remove(keys::numbered(keys::OUTBOX, event.seq));
        for to in subscribers.iter_mut().filter(|s| s.hook.takes(event)) {
            fresh.add(settings, now, to, event)?;
        }
    }
    if taken > 0 {
        put_outbox_mark(webhooks, &mut fresh.group)?;
    }
    Ok(taken)
}

/// Every registered webhook with its backlog: deliveries scheduled, plus
/// the round's `retries` of it (taken off the schedule, still pending).
fn subscribers(webhooks: &Webhooks, schedule: &Schedule, retries: &[Try]) -> Vec<Subscriber> {
    let in_round = |id: &str| retries.iter().filter(|t| t.hook.id == id).count();
    webhooks
        .list()
        .into_iter()
        .map(|hook| {
            let queued = schedule.pending_of(&hook.id) + in_round(&hook.id);
            Subscriber {
                hook,
                backed_up: queued > 0,
                queued,
            }
        })
        .collect()
}

impl Fresh {
    /// Adds the delivery of `event` to `to`, due `now`: a dead letter if its
    /// backlog is full, stored behind its backlog if it has one, else a
    /// first try.
    fn add(
        &mut self,
        settings: &EventSettings,
        now: Millis,
        to: &mut Subscriber,
        event: &Event,
    ) -> Result<(), StoreError> {
        let hook = &to.hook;
        let mut delivery = Delivery {
            webhook: hook.id.clone(),
            event: event.clone(),
            attempts: 0,
            next_at: now,
            last_error: None,
        };
        if to.queued >= settings.webhook_pending_max {
            metrics::counter!("surge_webhook_deliveries_total", "outcome" => "backlog_full")
                .increment(1);
            delivery.last_error = Some("the webhook's backlog was full".into());
            let dead = keys::webhook_event(keys::DEAD_LETTER, &hook.id, event.seq);
            self.group.put(dead.clone(), &delivery)?;
            self.written.push((hook.id.clone(), dead));
            return Ok(());
        }
        to.queued += 1;
        let key = keys::webhook_event(keys::DELIVERY, &hook.id, event.seq);
        if to.backed_up {
            self.group.put(key.clone(), &delivery)?;
            self.written.push((hook.id.clone(), key));
            self.queued.push((hook.id.clone(), event.seq));
        } else {
            self.tries.push(Try {
                key,
                hook: hook.clone(),
                delivery,
                stored: false,
            });
        }
        Ok(())
    }
}
