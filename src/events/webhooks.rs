//! Webhook endpoints: registered by an admin, stored under `hook/<id>` and
//! mirrored in memory for the delivery worker. Registering or removing one
//! also tells the [`Outbox`] which event kinds anyone listens to, so events
//! nobody wants are never written.
//!
//! The endpoint's secret is stored (delivery must sign with it) but never
//! shown again after registration.

use super::delivery::Delivery;
use super::{Event, EventKind, Outbox};
use crate::clock::{Clock, Millis, Sleep};
use crate::domain::FieldError;
use crate::store::{keys, Store, StoreError, WriteGroup};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::sync::{Mutex, Notify};

/// Longest accepted endpoint URL, in bytes.
const URL_LEN_MAX: usize = 2048;
/// Longest accepted signing secret, in bytes.
const SECRET_LEN_MAX: usize = 256;
/// Most dead letters one replay puts back (one commit); call again for more.
pub const REPLAY_BATCH_MAX: usize = 1000;

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    /// `wh_<32 hex>`, random.
    pub id: String,
    /// `http://host[:port]/path`, checked at registration.
    pub url: String,
    pub secret: String,
    /// The kinds delivered; `None` is every kind, including ones added later.
    pub events: Option<Vec<EventKind>>,
    pub created_at: Millis,
    /// The first event sequence number recorded after registration: older
    /// events, still in the outbox when the webhook was added, are not for
    /// it. Kept under a key of its own (`hook_from/<id>`) so that records
    /// written before this field existed still read.
    #[serde(skip)]
    pub first_seq: u64,
}

/// Never shows the secret, so a webhook can be logged.
impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .field("events", &self.events)
            .field("created_at", &self.created_at)
            .finish()
    }
}

impl Webhook {
    pub fn wants(&self, kind: EventKind) -> bool {
        self.events
            .as_ref()
            .is_none_or(|kinds| kinds.contains(&kind))
    }

    /// Whether `event` is for this webhook: a kind it wants, recorded since
    /// it was registered.
    pub fn takes(&self, event: &Event) -> bool {
        event.seq >= self.first_seq && self.wants(event.kind)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("no webhook {0}")]
    NotFound(String),
    #[error("no dead letter of event {event} for webhook {webhook}")]
    DeadLetterNotFound { webhook: String, event: String },
    #[error("at most {max} webhooks can be registered")]
    TooMany { max: usize },
    #[error("the webhook is invalid")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The registered endpoints and the worker's wake-up for replays.
#[derive(Clone)]
pub struct Webhooks {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    outbox: Outbox,
    clock: Arc<dyn Clock>,
    webhooks_max: usize,
    hooks: RwLock<Vec<Webhook>>,
    /// Serializes registrations and removals (rare, admin-only), so the
    /// limit and the wanted kinds cannot race.
    changing: Mutex<()>,
    /// Tells the delivery worker that deliveries were added behind its back
    /// (a replay) and it should re-read its schedule.
    rescan: Notify,
}

impl Webhooks {
    /// Loads the registered endpoints and tells the outbox what they want.
    pub fn load(
        store: Store,
        outbox: Outbox,
        clock: Arc<dyn Clock>,
        webhooks_max: usize,
    ) -> Result<Self, StoreError> {
        let mut hooks: Vec<Webhook> = store
            .scan(keys::WEBHOOK)?
            .into_iter()
            .map(|(_, hook)| hook)
            .collect();
        for hook in &mut hooks {
            // Webhooks registered before this key existed take everything.
            hook.first_seq = store.get(&keys::webhook_from(&hook.id))?.unwrap_or(0);
        }
        let webhooks = Self {
            inner: Arc::new(Inner {
                store,
                outbox,
                clock,
                webhooks_max,
                hooks: RwLock::new(hooks),
                changing: Mutex::new(()),
                rescan: Notify::new(),
            }),
        };
        webhooks.publish_wanted();
        Ok(webhooks)
    }

    pub fn list(&self) -> Vec<Webhook> {
        self.inner.hooks.read().clone()
    }

    pub fn get(&self, id: &str) -> Option<Webhook> {
        self.inner.hooks.read().iter().find(|h| h.id == id).cloned()
    }

    /// Whether `id` is registered (without copying it out).
    pub fn is_registered(&self, id: &str) -> bool {
        self.inner.hooks.read().iter().any(|h| h.id == id)
    }

    pub(super) fn store(&self) -> &Store {
        &self.inner.store
    }

    pub(super) fn outbox(&self) -> &Outbox {
        &self.inner.outbox
    }

    pub(super) fn now(&self) -> Millis {
        self.inner.clock.now_ms()
    }

    pub(super) fn sleep_until(&self, at: Millis) -> Sleep {
        self.inner.clock.sleep_until(at)
    }

    pub(super) async fn rescan_requested(&self) {
        self.inner.rescan.notified().await;
    }

    /// Registers an endpoint; it receives events recorded from now on.
    pub async fn register(
        &self,
        url: &str,
        secret: &str,
        events: Option<&[String]>,
    ) -> Result<Webhook, WebhookError> {
        let (url, events) = parse(url, secret, events)?;
        let _changing = self.inner.changing.lock().await;
        let max = self.inner.webhooks_max;
        if self.inner.hooks.read().len() >= max {
            return Err(WebhookError::TooMany { max });
        }
        let hook = Webhook {
            id: new_id(),
            url,
            secret: secret.to_owned(),
            events,
            created_at: self.now(),
            // Events recorded from now on have higher numbers: the kinds
            // this webhook adds are recorded only after `publish_wanted`.
            first_seq: self.inner.outbox.last_handed_out() + 1,
        };
        let mut group = WriteGroup::new();
        group.put(keys::webhook(&hook.id), &hook)?;
        group.put(keys::webhook_from(&hook.id), &hook.first_seq)?;
        self.inner.store.commit(group).await?;
        self.inner.hooks.write().push(hook.clone());
        self.publish_wanted();
        tracing::info!(webhook = %hook.id, url = %hook.url, "webhook registered");
        Ok(hook)
    }

    /// Holds off registrations, removals and replays: the delivery worker
    /// checks which webhooks still exist and commits what it wrote for them
    /// under it, so a removal cannot leave their keys behind.
    pub(super) async fn hold_changes(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.inner.changing.lock().await
    }

    /// Removes an endpoint with its pending deliveries and dead letters.
    pub async fn remove(&self, id: &str) -> Result<(), WebhookError> {
        let _changing = self.inner.changing.lock().await;
        if !self.is_registered(id) {
            return Err(WebhookError::NotFound(id.to_owned()));
        }
        let store = &self.inner.store;
        let mut group = WriteGroup::new();
        group.remove(keys::webhook(id));
        group.remove(keys::webhook_from(id));
        for prefix in [keys::DELIVERY, keys::DEAD_LETTER] {
            let of_hook = keys::of_webhook(prefix, id);
            store.for_each_key(&of_hook, |rest| {
                group.remove([of_hook.as_slice(), rest].concat());
            })?;
        }
        store.commit(group).await?;
        self.inner.hooks.write().retain(|h| h.id != id);
        self.publish_wanted();
        tracing::info!(webhook = %id, "webhook removed");
        Ok(())
    }

    /// Deliveries of `id` waiting (or backing off), and its dead letters.
    pub fn backlog(&self, id: &str) -> Result<(usize, usize), WebhookError> {
        let count = |prefix| -> Result<usize, StoreError> {
            let mut n = 0;
            self.inner
                .store
                .for_each_key(&keys::of_webhook(prefix, id), |_| n += 1)?;
            Ok(n)
        };
        Ok((count(keys::DELIVERY)?, count(keys::DEAD_LETTER)?))
    }

    /// Up to `limit` dead letters of webhook `id`, oldest event first.
    pub fn dead_letters(&self, id: &str, limit: usize) -> Result<Vec<Delivery>, WebhookError> {
        if !self.is_registered(id) {
            return Err(WebhookError::NotFound(id.to_owned()));
        }
        let prefix = keys::of_webhook(keys::DEAD_LETTER, id);
        Ok(self.inner.store.scan_page(&prefix, None, limit, |_| true)?)
    }

    /// Puts dead letters of webhook `id` back on the way with fresh tries:
    /// the one of `event` (an event id), or the oldest `REPLAY_BATCH_MAX`.
    /// Returns how many were replayed and how many dead letters remain.
    pub async fn replay(
        &self,
        id: &str,
        event: Option<&str>,
    ) -> Result<(usize, usize), WebhookError> {
        let _changing = self.inner.changing.lock().await;
        let letters = match event {
            Some(event) => vec![self.dead_letter(id, event)?],
            None => self.dead_letters(id, REPLAY_BATCH_MAX)?,
        };
        let now = self.now();
        let mut group = WriteGroup::new();
        for letter in &letters {
            let seq = letter.event.seq;
            group.remove(keys::webhook_event(keys::DEAD_LETTER, id, seq));
            let fresh = Delivery {
                attempts: 0,
                next_at: now,
                ..letter.clone()
            };
            group.put(keys::webhook_event(keys::DELIVERY, id, seq), &fresh)?;
        }
        self.inner.store.commit(group).await?;
        self.inner.rescan.notify_one();
        let remaining = self.backlog(id)?.1;
        tracing::info!(webhook = %id, replayed = letters.len(), remaining, "dead letters replayed");
        Ok((letters.len(), remaining))
    }

    /// The dead letter of `event` (an event id) for webhook `id`.
    fn dead_letter(&self, id: &str, event: &str) -> Result<Delivery, WebhookError> {
        let missing = || WebhookError::DeadLetterNotFound {
            webhook: id.to_owned(),
            event: event.to_owned(),
        };
        if !self.is_registered(id) {
            return Err(WebhookError::NotFound(id.to_owned()));
        }
        let seq = super::outbox::event_seq(event).ok_or_else(missing)?;
        let key = keys::webhook_event(keys::DEAD_LETTER, id, seq);
        self.inner.store.get(&key)?.ok_or_else(missing)
    }

    fn publish_wanted(&self) {
        let hooks = self.inner.hooks.read();
        let wanted = EventKind::ALL
            .into_iter()
            .filter(|&k| hooks.iter().any(|h| h.wants(k)));
        self.inner.outbox.set_wanted(wanted);
    }
}

/// Checks a registration: an `http://` URL with a host, a secret, known
/// event kinds. Returns the URL and the kinds (`None` for all).
fn parse(
    url: &str,
    secret: &str,
    events: Option<&[String]>,
) -> Result<(String, Option<Vec<EventKind>>), WebhookError> {
    let mut errors = Vec::new();
    if let Err(why) = check_url(url) {
        errors.push(FieldError::new("url", why));
    }
    if secret.is_empty() || secret.len() > SECRET_LEN_MAX {
        errors.push(FieldError::new(
            "secret",
            format!("the signing secret must be 1 to {SECRET_LEN_MAX} bytes"),
        ));
    }
    let mut kinds = Vec::new();
    match events {
        Some([]) => errors.push(FieldError::new(
            "events",
            "name at least one event kind, or omit events for all",
        )),
        Some(names) => {
            for (i, name) in names.iter().enumerate() {
                match EventKind::parse(name) {
                    Some(kind) if !kinds.contains(&kind) => kinds.push(kind),
                    Some(_) => {}
                    None => errors.push(FieldError::new(
                        format!("events[{i}]"),
                        format!("'{name}' is not an event kind"),
                    )),
                }
            }
        }
        None => {}
    }
    if !errors.is_empty() {
        return Err(WebhookError::Invalid(errors));
    }
    Ok((url.to_owned(), events.map(|_| kinds)))
}

fn check_url(url: &str) -> Result<(), String> {
    if url.len() > URL_LEN_MAX {
        return Err(format!("at most {URL_LEN_MAX} bytes"));
    }
    let uri: hyper::Uri = url
        .parse()
        .map_err(|_| "not a URL (http://host[:port]/path)".to_owned())?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err(
                "https endpoints are not supported by this build: point the webhook at \
                 a local TLS-terminating proxy over http"
                    .into(),
            )
        }
        _ => return Err("the URL must start with http://".into()),
    }
    match uri.host() {
        Some(host) if !host.is_empty() => Ok(()),
        _ => Err("the URL has no host".into()),
    }
}

fn new_id() -> String {
    let mut bytes = [0u8; 16];
    // The OS source cannot fail on supported platforms; a v4 UUID stands in.
    if getrandom::fill(&mut bytes).is_err() {
        bytes = *uuid::Uuid::new_v4().as_bytes();
    }
    format!("wh_{}", hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid_fields(r: Result<(String, Option<Vec<EventKind>>), WebhookError>) -> Vec<String> {
        match r {
            Err(WebhookError::Invalid(errors)) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn registrations_need_an_http_url_a_secret_and_known_kinds() {
        let ok = parse("http://127.0.0.1:9/hook", "s", None).unwrap();
        assert_eq!(ok, ("http://127.0.0.1:9/hook".into(), None));
        let names = ["order.paid".to_owned(), "order.paid".to_owned()];
        let (_, kinds) = parse("http://shop.example/h", "s", Some(&names)).unwrap();
        assert_eq!(kinds, Some(vec![EventKind::OrderPaid]));
        assert_eq!(invalid_fields(parse("ftp://x/", "s", None)), ["url"]);
        assert_eq!(invalid_fields(parse("https://x/", "s", None)), ["url"]);
        assert_eq!(
            invalid_fields(parse("not a url", "", None)),
            ["url", "secret"]
        );
        let bad = ["order.paid".to_owned(), "order.lost".to_owned()];
        assert_eq!(
            invalid_fields(parse("http://x/", "s", Some(&bad))),
            ["events[1]"]
        );
        assert_eq!(
            invalid_fields(parse("http://x/", "s", Some(&[]))),
            ["events"]
        );
    }

    #[test]
    fn a_webhook_without_kinds_wants_everything() {
        let mut hook = Webhook {
            id: new_id(),
            url: "http://x/".into(),
            secret: "s".into(),
            events: None,
            created_at: 0,
            first_seq: 0,
        };
        assert!(EventKind::ALL.iter().all(|&k| hook.wants(k)));
        hook.events = Some(vec![EventKind::StockSoldOut]);
        assert!(hook.wants(EventKind::StockSoldOut));
        assert!(!hook.wants(EventKind::OrderPaid));
        assert!(hook.id.starts_with("wh_") && hook.id.len() == 35);
        assert!(
            !format!("{hook:?}").contains("\"s\""),
            "the secret is not shown"
        );
    }
}
