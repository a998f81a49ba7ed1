//! The outbox and webhook deliveries.
//!
//! Gaps in the outbox's numbering are not a fault, so they are counted,
//! not reported: a number is handed out when a change records its event,
//! before the change is committed, and a change that is then refused (sold
//! out, a lapsed hold) commits nothing, its number unused; and delivery
//! takes the leading events it finds, so an event committed late, with a
//! lower number, can wait behind a gap left by later ones already taken.
//! What must hold is that each event sits under its own number (key, `seq`
//! and id agree) and is in one place: pending in the outbox, or taken into
//! deliveries and dead letters, which belong to a registered webhook.

use super::report::Report;
use super::{present, Source};
use crate::events::{event_id, Delivery, Event, Webhook};
use crate::store::{codec, keys};
use std::collections::HashSet;

pub fn check(source: &dyn Source, report: &mut Report) {
    let pending = check_outbox(source, report);
    for prefix in [keys::DELIVERY, keys::DEAD_LETTER] {
        check_deliveries(source, prefix, &pending, report);
    }
    check_webhooks(source, report);
}

/// The number at the end of a numbered key, if it has exactly 8 bytes there.
fn number(rest: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(rest).ok().map(u64::from_be_bytes)
}

/// Checks each pending event; returns their numbers.
fn check_outbox(source: &dyn Source, report: &mut Report) -> HashSet<u64> {
    let mut seqs = HashSet::new();
    let (mut low, mut high) = (u64::MAX, 0);
    for (key, bytes) in source.scan(keys::OUTBOX).flatten() {
        let Ok(event) = codec::decode_exact::<Event>(&key, &bytes) else {
            continue;
        };
        let Some(seq) = number(&key[keys::OUTBOX.len()..]) else {
            report.problem(&key, "not an outbox key (outbox/<8-byte number>)");
            continue;
        };
        check_event(&key, seq, &event, report);
        seqs.insert(seq);
        (low, high) = (low.min(seq), high.max(seq));
    }
    report.fact("events pending in the outbox", seqs.len() as u64);
    if !seqs.is_empty() {
        let unused = (high - low + 1).saturating_sub(seqs.len() as u64);
        report.fact("outbox numbers between the first and last pending event not present (refused changes, events taken; not a fault)", unused);
    }
    seqs
}

fn check_event(key: &[u8], seq: u64, event: &Event, report: &mut Report) {
    if event.seq != seq {
        report.problem(key, format!("the event inside is number {}", event.seq));
    }
    if event.id != event_id(event.seq) {
        report.problem(
            key,
            format!("event number {} has id {}", event.seq, event.id),
        );
    }
}

/// Deliveries and dead letters (`<prefix><webhook>/<seq>`): of a registered
/// webhook, under their event's number, and not also pending.
fn check_deliveries(
    source: &dyn Source,
    prefix: &[u8],
    pending: &HashSet<u64>,
    report: &mut Report,
) {
    for (key, bytes) in source.scan(prefix).flatten() {
        let Ok(delivery) = codec::decode_exact::<Delivery>(&key, &bytes) else {
            continue;
        };
        let rest = &key[prefix.len()..];
        let parsed = rest
            .iter()
            .position(|&b| b == b'/')
            .and_then(|slash| Some((&rest[..slash], number(&rest[slash + 1..])?)));
        let Some((hook, seq)) = parsed else {
            report.problem(
                &key,
                "not a delivery key (<prefix><webhook>/<8-byte number>)",
            );
            continue;
        };
        if hook != delivery.webhook.as_bytes() {
            report.problem(
                &key,
                format!("the delivery inside is for webhook {}", delivery.webhook),
            );
        }
        check_event(&key, seq, &delivery.event, report);
        if pending.contains(&seq) {
            report.problem(
                &key,
                format!("event {seq} is also still pending in the outbox"),
            );
        }
        if !present(source, &keys::webhook(&delivery.webhook), report) {
            report.problem(
                &key,
                format!("for webhook {}, which is not registered", delivery.webhook),
            );
        }
    }
}

fn check_webhooks(source: &dyn Source, report: &mut Report) {
    let mut hooks = 0;
    for (key, bytes) in source.scan(keys::WEBHOOK).flatten() {
        let Ok(hook) = codec::decode_exact::<Webhook>(&key, &bytes) else {
            continue;
        };
        hooks += 1;
        if key[keys::WEBHOOK.len()..] != *hook.id.as_bytes() {
            report.problem(&key, format!("the webhook inside is {}", hook.id));
        }
    }
    for (key, _) in source.scan(keys::WEBHOOK_FROM).flatten() {
        let id = String::from_utf8_lossy(&key[keys::WEBHOOK_FROM.len()..]).into_owned();
        if !present(source, &keys::webhook(&id), report) {
            report.problem(
                &key,
                format!("the start of webhook {id}, which is not registered"),
            );
        }
    }
    report.fact("webhooks", hooks);
}
