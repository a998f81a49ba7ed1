//! Webhook endpoints: registered by an admin, stored under `hook/<id>` and
//! mirrored in memory for the delivery worker. Registering or removing one
//! also tells the [`Outbox`] which event kinds anyone listens to, so events
//! nobody wants are never written.
//!
//! The endpoint's secret is stored (delivery must sign with it) but never
//! shown again after registration. What one endpoint is, and the checks its
//! registration passes, are in `webhook.rs`.

use super::delivery::Delivery;
use super::webhook::{new_id, parse};
use super::{EventKind, Outbox, Webhook};
use crate::clock::{Clock, Millis, Sleep};
use crate::domain::FieldError;
use crate::idempotency::{
    request_digest, Answered, Idempotency, IdempotencyError, IdempotencyKey, KeyedCall,
};
use crate::store::{keys, Store, StoreError, WriteGroup};
use parking_lot::RwLock;
use std::sync::Arc;
use tokio::sync::{Mutex, Notify};

/// Most dead letters one replay puts back (one commit); call again for more.
pub const REPLAY_BATCH_MAX: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("no webhook {0}")]
    NotFound(String),
    #[error("no dead letter of event {event} for webhook {webhook}")]
    DeadLetterNotFound { webhook: String, event: String },
    /// A retry of a registration whose webhook has been removed since: the
    /// key's answer would name a webhook that no longer exists.
    #[error("the webhook {0} this Idempotency-Key registered has been removed since; register again with a new key")]
    RemovedSince(String),
    #[error("at most {max} webhooks can be registered")]
    TooMany { max: usize },
    #[error("the webhook is invalid")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Idempotency(#[from] IdempotencyError),
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
    idempotency: Idempotency,
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
        idempotency: Idempotency,
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
                idempotency,
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

    /// Registers an endpoint, once per Idempotency-Key (a retry answers the
    /// webhook the key registered, or `RemovedSince` if it is gone); it
    /// receives events recorded from now on.
    pub async fn register(
        &self,
        url: &str,
        secret: &str,
        events: Option<&[String]>,
        key: Option<&IdempotencyKey>,
    ) -> Result<Answered<Webhook>, WebhookError> {
        let (url, events) = parse(url, secret, events)?;
        let kinds: Vec<&str> = events.iter().flatten().map(|k| k.as_str()).collect();
        let digest = request_digest(&[
            url.as_bytes(),
            secret.as_bytes(),
            kinds.join(",").as_bytes(),
            &[u8::from(events.is_some())],
        ]);
        let answered = self
            .inner
            .idempotency
            .once(&self.inner.store, "webhook", key, digest, |keyed| {
                self.register_once(url, secret, events, keyed)
            })
            .await?;
        if answered.replayed && !self.is_registered(&answered.value.id) {
            return Err(WebhookError::RemovedSince(answered.value.id));
        }
        Ok(answered)
    }

    async fn register_once(
        &self,
        url: String,
        secret: &str,
        events: Option<Vec<EventKind>>,
        keyed: Option<KeyedCall>,
    ) -> Result<Webhook, WebhookError> {
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
        if let Some(keyed) = keyed {
            keyed.record(&mut group, &hook)?;
        }
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
    /// the one of `event` (an event id), or the oldest `REPLAY_BATCH_MAX`;
    /// once per Idempotency-Key (a retry answers what the first replay
    /// did, and replays nothing that failed again since). Returns how many
    /// were replayed and how many dead letters remain.
    pub async fn replay(
        &self,
        id: &str,
        event: Option<&str>,
        key: Option<&IdempotencyKey>,
    ) -> Result<Answered<(usize, usize)>, WebhookError> {
        let digest = request_digest(&[
            id.as_bytes(),
            event.unwrap_or_default().as_bytes(),
            &[u8::from(event.is_some())],
        ]);
        self.inner
            .idempotency
            .once(&self.inner.store, "replay", key, digest, |keyed| {
                self.replay_once(id, event, keyed)
            })
            .await
    }

    async fn replay_once(
        &self,
        id: &str,
        event: Option<&str>,
        keyed: Option<KeyedCall>,
    ) -> Result<(usize, usize), WebhookError> {
        let _changing = self.inner.changing.lock().await;
        let letters = match event {
            Some(event) => vec![self.dead_letter(id, event)?],
            None => self.dead_letters(id, REPLAY_BATCH_MAX)?,
        };
        // Counted before the commit so that a retry's receipt says the same;
        // deliveries that die meanwhile are not in it.
        let remaining = self.backlog(id)?.1.saturating_sub(letters.len());
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
        let outcome = (letters.len(), remaining);
        if let Some(keyed) = keyed {
            keyed.record(&mut group, &outcome)?;
        }
        self.inner.store.commit(group).await?;
        self.inner.rescan.notify_one();
        tracing::info!(webhook = %id, replayed = letters.len(), remaining, "dead letters replayed");
        Ok(outcome)
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
