//! The worker's rounds against a real store: unreadable records set aside,
//! backlogs and their cap, webhooks added or removed around a round.

use super::intake::Intake;
use super::round::send_round;
use super::{reload, Delivery};
use crate::clock::SystemClock;
use crate::events::schedule::Schedule;
use crate::events::sender::Connections;
use crate::events::{Event, EventKind, EventSettings, Outbox, Webhook, Webhooks};
use crate::idempotency::Idempotency;
use crate::store::{keys, CommitterSettings, Durability, Store, StoreError, WriteGroup};
use std::sync::Arc;
use std::time::Duration;

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
        ..CommitterSettings::default()
    };
    let store = Store::open(dir.path(), committer).unwrap();
    let outbox = Outbox::load(&store).unwrap();
    let clock = Arc::new(SystemClock);
    let idempotency = Idempotency::load(&store, 1024, clock.clone())
        .await
        .unwrap();
    let webhooks = Webhooks::load(store.clone(), outbox, idempotency, clock, 8).unwrap();
    let hook = webhooks.register(url, "s", None, None).await.unwrap().value;
    let settings = EventSettings {
        webhook_pending_max: pending_max,
        webhook_backoff_base_ms: 60_000,
        webhook_backoff_max_ms: 60_000,
        webhook_timeout_ms: 1_000,
        ..EventSettings::default()
    };
    let connections = Connections::new(
        settings.webhook_in_flight_max,
        crate::tls::Tls::new(&Default::default()).unwrap(),
    );
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
        .register("http://127.0.0.1:1/late", "s", None, None)
        .await
        .unwrap()
        .value;
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
    let clock = Arc::new(SystemClock);
    let reloaded = Webhooks::load(
        w.store.clone(),
        Outbox::load(&w.store).unwrap(),
        Idempotency::load(&w.store, 1024, clock.clone())
            .await
            .unwrap(),
        clock,
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
