//! Webhooks: registration, signed at-least-once delivery with retries, dead
//! letters and their replay, delivery across a `kill -9`.

use crate::helpers::{
    assert_problem, header, json_body, spawn_with, test_settings, TestApp, ADMIN_TOKEN,
};
use crate::inventory::{create_sku, purchase};
use crate::process::Running;
use crate::receiver::{Received, Receiver};
use reqwest::{Client, Method};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::Arc;
use surge::config::Settings;
use surge::events::signature;

const SECRET: &str = "whsec_test_secret";

/// An app whose deliveries back off for milliseconds, not seconds.
pub async fn eager_app(tune: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let mut settings = test_settings(dir.path());
    settings.events.webhook_backoff_base_ms = 10;
    settings.events.webhook_backoff_max_ms = 50;
    settings.events.webhook_timeout_ms = 2_000;
    tune(&mut settings);
    spawn_with(settings, dir, Some(ADMIN_TOKEN)).await
}

async fn register(app: &TestApp, body: &Value) -> reqwest::Response {
    app.admin(Method::POST, "/v1/admin/webhooks")
        .json(body)
        .send()
        .await
        .expect("request")
}

pub async fn registered(app: &TestApp, url: &str, events: Option<&[&str]>) -> String {
    let mut body = json!({"url": url, "secret": SECRET});
    if let Some(events) = events {
        body["events"] = json!(events);
    }
    let hook = json_body(register(app, &body).await, 201).await;
    assert!(
        hook.get("secret").is_none(),
        "the secret is never shown: {hook}"
    );
    hook["id"].as_str().expect("id").to_owned()
}

/// Asserts that a delivery is signed with `SECRET` and returns its body.
pub fn verified(r: &Received) -> Value {
    let timestamp: u64 = r.header("surge-timestamp").parse().expect("timestamp");
    let signature = r.header("surge-signature");
    assert!(
        signature::verify(SECRET, timestamp, &r.body, signature),
        "bad signature {signature} on {}",
        String::from_utf8_lossy(&r.body)
    );
    assert!(!signature::verify(
        "another secret",
        timestamp,
        &r.body,
        signature
    ));
    let body = r.json();
    assert_eq!(
        r.header("surge-event-id"),
        body["id"].as_str().unwrap_or("-")
    );
    assert_eq!(
        r.header("surge-event-type"),
        body["type"].as_str().unwrap_or("-")
    );
    body
}

#[tokio::test]
async fn deliveries_are_signed_retried_and_arrive_once_the_endpoint_recovers() {
    let app = eager_app(|_| {}).await;
    let receiver = Receiver::start(3).await;
    let hook = registered(
        &app,
        &receiver.url,
        Some(&["order.created", "stock.sold_out"]),
    )
    .await;
    create_sku(&app, "HOOK-1", 1).await;
    let order = json_body(purchase(&app, "HOOK-1", "k-1", "alice", 1).await, 201).await;

    let accepted = receiver.wait_for(|got| got.len() >= 2).await;
    let bodies: Vec<Value> = accepted.iter().map(verified).collect();
    let kinds: HashSet<&str> = bodies.iter().filter_map(|b| b["type"].as_str()).collect();
    assert_eq!(kinds, HashSet::from(["order.created", "stock.sold_out"]));
    let created = bodies
        .iter()
        .find(|b| b["type"] == "order.created")
        .unwrap();
    assert_eq!(created["data"]["order_id"], order["order_id"], "{created}");
    let sold_out = bodies
        .iter()
        .find(|b| b["type"] == "stock.sold_out")
        .unwrap();
    assert_eq!(sold_out["data"]["sku"], "HOOK-1");
    let ids: HashSet<&str> = bodies.iter().filter_map(|b| b["id"].as_str()).collect();
    assert_eq!(ids.len(), 2, "distinct event ids");
    assert!(created["sequence"].as_u64() != sold_out["sequence"].as_u64());

    // Three failures, then one success per event; nothing else was sent
    // (stock.changed is not subscribed).
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let all = receiver.requests().await;
    assert_eq!(all.len(), 5, "{all:?}");
    // Retries reuse the keep-alive connections of the first tries.
    let connections: HashSet<usize> = all.iter().map(|r| r.connection).collect();
    assert!(
        connections.len() <= 2,
        "{} connections for 5 requests",
        connections.len()
    );
    let listed = app.admin_json("/v1/admin/webhooks").await;
    let item = &listed["items"][0];
    assert_eq!(item["id"], hook.as_str());
    assert_eq!(
        (item["pending"].as_u64(), item["dead_letters"].as_u64()),
        (Some(0), Some(0))
    );
}

#[tokio::test]
async fn a_delivery_out_of_tries_is_a_dead_letter_until_replayed() {
    let (app, receiver, hook, order) = sold_to_a_failing_hook(3, "DEAD-1").await;

    let letters_path = format!("/v1/admin/webhooks/{hook}/dead-letters");
    let letters = dead_letters(&app, &hook, 1).await;
    let letter = &letters["items"][0];
    assert_eq!(letter["type"], "order.created", "{letters}");
    assert_eq!(letter["attempts"], 3);
    assert!(
        letter["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("500"),
        "{letter}"
    );
    assert_eq!(letter["data"]["order_id"], order["order_id"]);
    assert_eq!(
        receiver.requests().await.len(),
        3,
        "exactly the tries allowed"
    );

    let event = letter["event_id"].as_str().unwrap().to_owned();
    let missing = app
        .admin(Method::POST, &format!("{letters_path}/evt_nope/replay"))
        .send()
        .await
        .unwrap();
    assert_problem(missing, 404).await;
    receiver.set_failing(false);
    let replay = app
        .admin(Method::POST, &format!("{letters_path}/{event}/replay"))
        .send()
        .await
        .unwrap();
    let replayed = json_body(replay, 200).await;
    assert_eq!(
        (
            replayed["replayed"].as_u64(),
            replayed["remaining"].as_u64()
        ),
        (Some(1), Some(0))
    );
    let accepted = receiver.wait_for(|got| !got.is_empty()).await;
    assert_eq!(verified(&accepted[0])["id"], event.as_str());
    let after = app.admin_json(&letters_path).await;
    assert_eq!(after["items"], json!([]));
    let again = app
        .admin(Method::POST, &format!("{letters_path}/replay"))
        .send()
        .await
        .unwrap();
    assert_eq!(json_body(again, 200).await["replayed"], 0);
}

/// An app whose webhook for `order.created` fails every try of the `tries`
/// it gets, and an order bought on `sku` for it to be told of.
async fn sold_to_a_failing_hook(tries: u32, sku: &str) -> (TestApp, Receiver, String, Value) {
    let app = eager_app(|s| s.events.webhook_attempts_max = tries).await;
    let receiver = Receiver::start(0).await;
    receiver.set_failing(true);
    let hook = registered(&app, &receiver.url, Some(&["order.created"])).await;
    create_sku(&app, sku, 5).await;
    let order = json_body(purchase(&app, sku, "k-sold", "bob", 1).await, 201).await;
    (app, receiver, hook, order)
}

/// Waits until webhook `hook` has `n` dead letters; returns them.
async fn dead_letters(app: &TestApp, hook: &str, n: usize) -> Value {
    let path = format!("/v1/admin/webhooks/{hook}/dead-letters");
    let mut letters = Value::Null;
    for _ in 0..500 {
        letters = app.admin_json(&path).await;
        if letters["items"].as_array().is_some_and(|i| i.len() == n) {
            return letters;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("not {n} dead letters: {letters}");
}

#[tokio::test]
async fn a_replay_retried_with_its_key_replays_nothing_more() {
    let (app, receiver, hook, _) = sold_to_a_failing_hook(1, "AGAIN-1").await;
    let event = dead_letters(&app, &hook, 1).await["items"][0]["event_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let replay_all = format!("/v1/admin/webhooks/{hook}/dead-letters/replay");
    let keyed = |path: &str, key: &str| {
        app.admin(Method::POST, path)
            .header("Idempotency-Key", key)
            .send()
    };

    let first = keyed(&replay_all, "replay-1").await.unwrap();
    assert_eq!(header(&first, "idempotent-replayed"), None);
    let answer = json!({"replayed": 1, "remaining": 0});
    assert_eq!(json_body(first, 200).await, answer);
    // The endpoint still fails: its one try makes it a dead letter again.
    dead_letters(&app, &hook, 1).await;
    assert_eq!(receiver.requests().await.len(), 2);

    // The answer of the first replay was lost; its retry replays nothing.
    let retry = keyed(&replay_all, "replay-1").await.unwrap();
    assert_eq!(
        header(&retry, "idempotent-replayed").as_deref(),
        Some("true")
    );
    assert_eq!(json_body(retry, 200).await, answer);
    dead_letters(&app, &hook, 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(receiver.requests().await.len(), 2, "no second replay");

    // The key on another request is refused; a new key replays again.
    let one = format!("/v1/admin/webhooks/{hook}/dead-letters/{event}/replay");
    assert_problem(keyed(&one, "replay-1").await.unwrap(), 422).await;
    receiver.set_failing(false);
    let fresh = keyed(&one, "replay-2").await.unwrap();
    assert_eq!(json_body(fresh, 200).await, answer);
    receiver.wait_for(|got| got.len() == 1).await;
    assert_eq!(receiver.requests().await.len(), 3);
}

/// Registrations refused with 400, each with the field its first error names.
fn invalid_registrations() -> [(Value, &'static str); 5] {
    let local = "http://127.0.0.1:9/h";
    [
        (json!({"url": "ftp://x/", "secret": "s"}), "url"),
        (
            json!({"url": "https://shop.example:99999/h", "secret": "s"}),
            "url",
        ),
        (json!({"url": local, "secret": ""}), "secret"),
        (
            json!({"url": local, "secret": "s", "events": ["order.lost"]}),
            "events[0]",
        ),
        (json!({"url": local, "secret": "s", "events": []}), "events"),
    ]
}

async fn delete_hook(app: &TestApp, id: &str) -> reqwest::Response {
    app.admin(Method::DELETE, &format!("/v1/admin/webhooks/{id}"))
        .send()
        .await
        .unwrap()
}

/// The ids of the registered webhooks, as the admin listing shows them.
async fn listed_ids(app: &TestApp) -> Vec<String> {
    let listed = app.admin_json("/v1/admin/webhooks").await;
    listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["id"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn registrations_are_validated_and_limited() {
    let app = eager_app(|s| s.events.webhooks_max = 2).await;
    for (body, field) in invalid_registrations() {
        let problem = assert_problem(register(&app, &body).await, 400).await;
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    let unknown = json!({"url": "http://127.0.0.1:9/h", "secret": "s", "color": "red"});
    assert_problem(register(&app, &unknown).await, 400).await;
    let anonymous = app
        .request(Method::POST, "/v1/admin/webhooks")
        .json(&json!({"url": "http://127.0.0.1:9/h", "secret": "s"}))
        .send()
        .await
        .unwrap();
    assert_problem(anonymous, 401).await;

    // Refused registrations do not count against the limit.
    registered(&app, "http://127.0.0.1:9/a", None).await;
    registered(&app, "http://127.0.0.1:9/b", Some(&["order.paid"])).await;
    let third = json!({"url": "http://127.0.0.1:9/c", "secret": "s"});
    let problem = assert_problem(register(&app, &third).await, 409).await;
    assert_eq!(problem["max"], 2);
}

#[tokio::test]
async fn registrations_are_listed_removable_and_durable() {
    let app = eager_app(|s| s.events.webhooks_max = 2).await;
    let first = registered(&app, "http://127.0.0.1:9/a", None).await;
    let second = registered(&app, "http://127.0.0.1:9/b", Some(&["order.paid"])).await;
    for bad in ["limit=0", "limit=1001", "limit=x", "page=2"] {
        let path = format!("/v1/admin/webhooks/{second}/dead-letters?{bad}");
        assert_problem(app.admin(Method::GET, &path).send().await.unwrap(), 400).await;
    }
    let unknown = app.admin(Method::GET, "/v1/admin/webhooks/wh_nope/dead-letters");
    assert_problem(unknown.send().await.unwrap(), 404).await;
    let one = app
        .admin_json(&format!("/v1/admin/webhooks/{second}"))
        .await;
    assert_eq!(
        (one["events"].clone(), one["all_events"].clone()),
        (json!(["order.paid"]), json!(false))
    );
    assert_eq!(delete_hook(&app, &first).await.status(), 204);
    assert_problem(delete_hook(&app, &first).await, 404).await;
    assert_eq!(listed_ids(&app).await, [second.as_str()]);

    let restarted = app.restart().await;
    let listed = restarted.admin_json("/v1/admin/webhooks").await;
    assert_eq!(
        listed["items"][0]["id"],
        second.as_str(),
        "registrations are durable"
    );
}

#[tokio::test]
async fn pending_deliveries_survive_kill_9_and_arrive_after_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let env = [
        ("SURGE_EVENTS__WEBHOOK_BACKOFF_BASE_MS", "20"),
        ("SURGE_EVENTS__WEBHOOK_BACKOFF_MAX_MS", "100"),
        ("SURGE_EVENTS__WEBHOOK_ATTEMPTS_MAX", "100"),
    ];
    let server = Running::start_with_env(dir.path(), &env).await;
    let client = Client::new();
    let receiver = Receiver::start(0).await;
    receiver.set_failing(true);
    let res = server
        .admin(&client, Method::POST, "/v1/admin/webhooks")
        .json(&json!({"url": receiver.url, "secret": SECRET, "events": ["order.created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    server
        .create_product(&json!({
            "id": "p-kill", "title": "Kill", "category": "deals",
            "variants": [{"sku": "KILL-1", "title": "One", "price": {"amount": 100, "currency": "EUR"}, "stock": 1000}]
        }))
        .await;
    let mut orders = HashSet::new();
    for n in 0..30 {
        let res = client
            .post(format!("{}/v1/skus/KILL-1/purchase", server.base))
            .header("Idempotency-Key", format!("kill-{n}"))
            .json(&json!({"customer_id": format!("c{n}"), "quantity": 1}))
            .send()
            .await
            .unwrap();
        let order: Value = res.json().await.unwrap();
        orders.insert(order["order_id"].as_str().unwrap().to_owned());
    }
    // Wait for a failed try. At the kill, an event is either a stored
    // delivery backing off or (its first try's outcome not yet committed)
    // still in the outbox: both must be delivered after the restart.
    while receiver.requests().await.is_empty() {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    server.kill9();
    receiver.set_failing(false);
    let _server = Running::start_with_env(dir.path(), &env).await;
    let accepted = receiver
        .wait_for(|got| {
            let seen: HashSet<String> = got
                .iter()
                .filter_map(|r| r.json()["data"]["order_id"].as_str().map(str::to_owned))
                .collect();
            orders.is_subset(&seen)
        })
        .await;
    assert!(accepted
        .iter()
        .all(|r| verified(r)["type"] == "order.created"));
}

#[tokio::test]
async fn a_full_backlog_sends_new_events_to_dead_letters_not_to_memory() {
    let app = eager_app(|s| {
        s.events.webhook_pending_max = 2;
        s.events.webhook_backoff_base_ms = 60_000;
        s.events.webhook_backoff_max_ms = 60_000;
    })
    .await;
    let receiver = Receiver::start(0).await;
    receiver.set_failing(true);
    let hook = registered(&app, &receiver.url, Some(&["order.created"])).await;
    create_sku(&app, "FULL-1", 10).await;
    for n in 0..5 {
        json_body(
            purchase(&app, "FULL-1", &format!("full-{n}"), "carol", 1).await,
            201,
        )
        .await;
    }
    let path = format!("/v1/admin/webhooks/{hook}");
    let mut view = Value::Null;
    for _ in 0..500 {
        view = app.admin_json(&path).await;
        if view["pending"].as_u64().unwrap_or(0) + view["dead_letters"].as_u64().unwrap_or(0) == 5 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        (view["pending"].as_u64(), view["dead_letters"].as_u64()),
        (Some(2), Some(3)),
        "{view}"
    );
    let letters = app.admin_json(&format!("{path}/dead-letters")).await;
    assert!(letters["items"][0]["last_error"]
        .as_str()
        .unwrap_or_default()
        .contains("backlog"));
    assert_eq!(letters["items"][0]["attempts"], 0, "never tried");
}
