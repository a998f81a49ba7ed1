//! Tries of deliveries: the stored ones due again, read back from the store
//! for a round, and the outcome of every try written back in the round's
//! group. Owns no state: the schedule says what is due, the store holds
//! the deliveries.

use super::{set_aside, Delivery, STORE_RETRY_MS};
use crate::clock::Millis;
use crate::events::schedule::Schedule;
use crate::events::{EventSettings, Webhook, Webhooks};
use crate::store::{keys, StoreError, WriteGroup};

/// One try in a round: the delivery and its webhook. `stored` is false for
/// an event's first try, which has no delivery record (yet).
pub(super) struct Try {
    pub(super) key: Vec<u8>,
    pub(super) hook: Webhook,
    pub(super) delivery: Delivery,
    pub(super) stored: bool,
}

/// Takes up to `max` due deliveries off the schedule and reads them; ones whose
/// webhook is gone are removed in `group`.
pub(super) fn due_tries(
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
pub(super) fn record(
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
            if delivery.attempts < settings.webhook_attempts_max {
                delivery.next_at += settings.backoff_ms(delivery.attempts);
                group.put(key, &delivery)?;
                metrics::counter!("surge_webhook_deliveries_total", "outcome" => "failed")
                    .increment(1);
                return Ok(Some(delivery.next_at));
            }
            dead_letter(group, &hook, key, stored, &delivery)?;
            "dead_lettered"
        }
    };
    metrics::counter!("surge_webhook_deliveries_total", "outcome" => outcome_label).increment(1);
    Ok(None)
}

/// Replaces a delivery that ran out of tries (stored under `key`, if
/// `stored`) by its dead letter, in `group`.
fn dead_letter(
    group: &mut WriteGroup,
    hook: &Webhook,
    key: Vec<u8>,
    stored: bool,
    delivery: &Delivery,
) -> Result<(), StoreError> {
    tracing::warn!(webhook = %hook.id, event = %delivery.event.id,
        attempts = delivery.attempts, error = ?delivery.last_error,
        "webhook delivery dead-lettered");
    if stored {
        group.remove(key);
    }
    let dead = keys::webhook_event(keys::DEAD_LETTER, &hook.id, delivery.event.seq);
    group.put(dead, delivery)
}
