//! The delivery worker: moves committed events from the outbox to one
//! delivery per subscribed webhook (`dlv/<webhook>/<seq>`), then sends each
//! until the endpoint answers 2xx, backing off between tries, and turns a
//! delivery that ran out of tries into a dead letter (`dead/…`).
//!
//! Every step is a store commit before it is acted on: the fan-out removes
//! the event and writes its deliveries in one group, a delivery is removed
//! only after a 2xx, so a `kill -9` at any point re-sends at worst (at least
//! once; receivers deduplicate by event id) and never loses an event.
//! Deliveries are only sent after the fan-out commit, which flushes after
//! the change that recorded the event: nothing unacknowledged goes out.

use super::signature::{self, EVENT_ID_HEADER, EVENT_TYPE_HEADER, TIMESTAMP_HEADER};
use super::{Event, EventSettings, Webhook, Webhooks};
use crate::clock::{rfc3339, Millis};
use crate::store::{keys, StoreError, WriteGroup};
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::net::TcpStream;

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

/// How long a delivery whose record could not be read waits, in ms.
const READ_RETRY_MS: Millis = 1_000;

/// When each delivery is due: (due time, webhook, event sequence). Owned by
/// the worker task alone.
type Schedule = BTreeSet<(Millis, String, u64)>;

/// Runs the worker until the task is aborted (at shutdown).
pub async fn run(webhooks: Webhooks, settings: EventSettings) {
    let mut schedule = Schedule::new();
    if let Err(e) = reload(&webhooks, &mut schedule) {
        tracing::error!(error = %e, "reading pending webhook deliveries");
    }
    loop {
        let wait = schedule.first().map_or(IDLE_WAIT, |(due, _, _)| {
            Duration::from_millis(due.saturating_sub(webhooks.now())).min(IDLE_WAIT)
        });
        tokio::select! {
            () = webhooks.outbox().poked() => {}
            () = webhooks.rescan_requested() => {
                if let Err(e) = reload(&webhooks, &mut schedule) {
                    tracing::error!(error = %e, "re-reading webhook deliveries");
                }
            }
            () = tokio::time::sleep(wait) => {}
        }
        loop {
            match fan_out(&webhooks, &settings, &mut schedule).await {
                Ok(true) => continue,
                Ok(false) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "moving events to webhook deliveries");
                    break;
                }
            }
        }
        if let Err(e) = send_due(&webhooks, &settings, &mut schedule).await {
            // The stored deliveries are the truth; the schedule may now miss
            // some, so rebuild it from them.
            tracing::warn!(error = %e, "recording webhook delivery results");
            if let Err(e) = reload(&webhooks, &mut schedule) {
                tracing::error!(error = %e, "re-reading webhook deliveries");
            }
        }
        metrics::gauge!("surge_webhook_deliveries_pending").set(schedule.len() as f64);
    }
}

/// Rebuilds the schedule from the stored deliveries.
fn reload(webhooks: &Webhooks, schedule: &mut Schedule) -> Result<(), StoreError> {
    schedule.clear();
    for (_, d) in webhooks.store().scan::<Delivery>(keys::DELIVERY)? {
        schedule.insert((d.next_at, d.webhook, d.event.seq));
    }
    Ok(())
}

/// Moves up to a batch of events from the outbox to deliveries, in one
/// commit. Returns whether a full batch moved (more may wait).
async fn fan_out(
    webhooks: &Webhooks,
    settings: &EventSettings,
    schedule: &mut Schedule,
) -> Result<bool, StoreError> {
    let store = webhooks.store();
    let events: Vec<Event> =
        store.scan_page(keys::OUTBOX, None, settings.outbox_batch_max, |_| true)?;
    let Some(last) = events.last().map(|e| e.seq) else {
        return Ok(false);
    };
    let hooks = webhooks.list();
    let now = webhooks.now();
    let mut group = WriteGroup::new();
    let mut added = Vec::new();
    for event in &events {
        group.remove(keys::numbered(keys::OUTBOX, event.seq));
        for hook in hooks.iter().filter(|h| h.wants(event.kind)) {
            let delivery = Delivery {
                webhook: hook.id.clone(),
                event: event.clone(),
                attempts: 0,
                next_at: now,
                last_error: None,
            };
            group.put(
                keys::webhook_event(keys::DELIVERY, &hook.id, event.seq),
                &delivery,
            )?;
            added.push((now, hook.id.clone(), event.seq));
        }
    }
    group.put(keys::OUTBOX_SEQ.to_vec(), &last)?;
    store.commit(group).await?;
    schedule.extend(added);
    Ok(events.len() >= settings.outbox_batch_max)
}

/// Sends every due delivery (up to the in-flight limit) at once, then
/// records all outcomes in one commit. A slow endpoint holds the worker for
/// at most `webhook_timeout_ms`; deliveries to other endpoints in the same
/// round are sent alongside it.
async fn send_due(
    webhooks: &Webhooks,
    settings: &EventSettings,
    schedule: &mut Schedule,
) -> Result<(), StoreError> {
    let now = webhooks.now();
    let mut due = Vec::new();
    while due.len() < settings.webhook_in_flight_max {
        match schedule.first() {
            Some((at, _, _)) if *at <= now => due.extend(schedule.pop_first()),
            _ => break,
        }
    }
    if due.is_empty() {
        return Ok(());
    }
    let store = webhooks.store();
    let mut group = WriteGroup::new();
    let mut tries = Vec::new();
    for (_, hook_id, seq) in due {
        let key = keys::webhook_event(keys::DELIVERY, &hook_id, seq);
        let delivery = match store.get::<Delivery>(&key) {
            Ok(Some(delivery)) => delivery,
            // Gone: delivered before a reload, or its webhook was removed.
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(error = %e, webhook = %hook_id, seq, "reading a webhook delivery");
                schedule.insert((now + READ_RETRY_MS, hook_id, seq));
                continue;
            }
        };
        match webhooks.get(&hook_id) {
            Some(hook) => tries.push((key, hook, delivery)),
            None => group.remove(key),
        }
    }
    let timeout = Duration::from_millis(settings.webhook_timeout_ms);
    let sends = tries
        .iter()
        .map(|(_, hook, d)| send(hook, &d.event, webhooks.now(), timeout));
    let outcomes = futures_util::future::join_all(sends).await;
    let mut retry = Vec::new();
    for ((key, hook, mut delivery), outcome) in tries.into_iter().zip(outcomes) {
        delivery.attempts += 1;
        let seq = delivery.event.seq;
        match outcome {
            Ok(()) => {
                metrics::counter!("surge_webhook_deliveries_total", "outcome" => "delivered")
                    .increment(1);
                group.remove(key);
                continue;
            }
            Err(why) => delivery.last_error = Some(why),
        }
        let now = webhooks.now();
        if delivery.attempts >= settings.webhook_attempts_max {
            metrics::counter!("surge_webhook_deliveries_total", "outcome" => "dead_lettered")
                .increment(1);
            tracing::warn!(webhook = %hook.id, event = %delivery.event.id,
                attempts = delivery.attempts, error = ?delivery.last_error, "webhook delivery dead-lettered");
            delivery.next_at = now;
            group.remove(key);
            group.put(
                keys::webhook_event(keys::DEAD_LETTER, &hook.id, seq),
                &delivery,
            )?;
        } else {
            metrics::counter!("surge_webhook_deliveries_total", "outcome" => "failed").increment(1);
            delivery.next_at = now + settings.backoff_ms(delivery.attempts);
            group.put(key, &delivery)?;
            retry.push((delivery.next_at, hook.id.clone(), seq));
        }
    }
    let committed = store.commit(group).await;
    // Even if recording failed, the stored deliveries still stand and a
    // reload finds them; keep retrying what is known.
    schedule.extend(retry);
    committed
}

/// The JSON body of an event as a webhook receives it.
fn payload(event: &Event) -> Vec<u8> {
    let data: serde_json::Value =
        serde_json::from_str(&event.data).unwrap_or(serde_json::Value::Null);
    let body = serde_json::json!({
        "id": event.id,
        "type": event.kind.as_str(),
        "sequence": event.seq,
        "created_at": rfc3339(event.at),
        "data": data,
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// One try: POST the signed event; `Ok` only on a 2xx within `timeout`.
async fn send(hook: &Webhook, event: &Event, now: Millis, timeout: Duration) -> Result<(), String> {
    let body = payload(event);
    let timestamp = now / 1000;
    let signature = signature::sign(&hook.secret, timestamp, &body);
    let uri: hyper::Uri = hook.url.parse().map_err(|e| format!("bad url: {e}"))?;
    let host = uri.host().ok_or("the url has no host")?.to_owned();
    let port = uri.port_u16().unwrap_or(80);
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let authority = uri
        .authority()
        .map_or(host.clone(), |a| a.as_str().to_owned());
    let request = hyper::Request::post(path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(hyper::header::USER_AGENT, "surge-webhooks/1")
        .header(EVENT_ID_HEADER, &event.id)
        .header(EVENT_TYPE_HEADER, event.kind.as_str())
        .header(TIMESTAMP_HEADER, timestamp.to_string())
        .header(signature::SIGNATURE_HEADER, signature)
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("building the request: {e}"))?;
    let exchange = async {
        let stream = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| format!("connecting: {e}"))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let res = sender
            .send_request(request)
            .await
            .map_err(|e| format!("sending: {e}"))?;
        match res.status() {
            s if s.is_success() => Ok(()),
            s => Err(format!("answered {}", s.as_u16())),
        }
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| format!("no answer within {} ms", timeout.as_millis()))?
}
