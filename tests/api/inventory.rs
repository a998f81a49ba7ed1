//! The inventory engine through HTTP: flash-sale purchases, idempotency,
//! sale windows, limits, expiry, admin stock changes, overload, bad input.

use crate::helpers::{
    assert_problem, eventually, spawn_app, spawn_on, spawn_with, test_settings, TestApp,
    ADMIN_TOKEN,
};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// Creates a product with one SKU holding `stock` units.
pub async fn create_sku(app: &TestApp, sku: &str, stock: u64) {
    let body = json!({
        "id": format!("p-{sku}"), "title": format!("Product {sku}"), "category": "deals",
        "variants": [{"sku": sku, "title": "One size", "price": {"amount": 2500, "currency": "EUR"}, "stock": stock}]
    });
    let res = app.create_product(&body).await;
    assert_eq!(
        res.status(),
        201,
        "{}",
        res.text().await.unwrap_or_default()
    );
}

pub async fn purchase(
    app: &TestApp,
    sku: &str,
    key: &str,
    customer: &str,
    quantity: u64,
) -> reqwest::Response {
    app.request(Method::POST, &format!("/v1/skus/{sku}/purchase"))
        .header("Idempotency-Key", key)
        .json(&json!({"customer_id": customer, "quantity": quantity}))
        .send()
        .await
        .expect("request")
}

pub async fn inventory(app: &TestApp, sku: &str) -> Value {
    let res = app
        .admin(Method::GET, &format!("/v1/admin/skus/{sku}/inventory"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    res.json().await.expect("json")
}

/// available + reserved + sold == stocked, none negative (they are u64 in JSON).
pub fn assert_conserved(inv: &Value) {
    let n = |k: &str| {
        inv[k]
            .as_u64()
            .unwrap_or_else(|| panic!("{k} missing or negative in {inv}"))
    };
    assert_eq!(
        n("available") + n("reserved") + n("sold"),
        n("stocked"),
        "conservation broken: {inv}"
    );
}

#[tokio::test]
async fn a_purchase_holds_stock_and_creates_an_order_awaiting_payment() {
    let app = spawn_app().await;
    create_sku(&app, "HOT-1", 5).await;
    let res = purchase(&app, "HOT-1", "k-1", "alice", 2).await;
    assert_eq!(res.status(), 201);
    let order: Value = res.json().await.unwrap();
    for field in [
        "order_id",
        "status",
        "sku",
        "quantity",
        "unit_price",
        "total",
        "expires_at",
    ] {
        assert!(order.get(field).is_some(), "missing {field} in {order}");
    }
    assert_eq!(order["status"], "awaiting_payment");
    assert_eq!(order["sku"], "HOT-1");
    assert_eq!(order["quantity"], 2);
    assert_eq!(
        order["unit_price"],
        json!({"amount": 2500, "currency": "EUR"})
    );
    assert_eq!(order["total"], json!({"amount": 5000, "currency": "EUR"}));
    let id = order["order_id"].as_str().unwrap();
    let fetched: Value = app
        .get(&format!("/v1/orders/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched["order_id"], order["order_id"]);
    assert_eq!(fetched["status"], "awaiting_payment");
    let inv = inventory(&app, "HOT-1").await;
    assert_eq!(
        (inv["available"].as_u64(), inv["reserved"].as_u64()),
        (Some(3), Some(2))
    );
    assert_conserved(&inv);
    let sku: Value = app.get("/v1/skus/HOT-1").await.json().await.unwrap();
    assert_eq!(sku["available"], 3, "the published count follows the actor");
}

#[tokio::test]
async fn two_hundred_concurrent_buyers_of_one_hundred_units_get_exactly_one_hundred_orders() {
    let app = Arc::new(spawn_app().await);
    create_sku(&app, "FLASH", 100).await;
    let buyers = (0..200).map(|i| {
        let app = app.clone();
        tokio::spawn(async move {
            let res = purchase(&app, "FLASH", &format!("buyer-{i}"), &format!("c{i}"), 1).await;
            let status = res.status().as_u16();
            let body: Value = res.json().await.unwrap();
            (status, body)
        })
    });
    let mut orders = HashSet::new();
    let mut sold_out = 0;
    for buyer in futures_util::future::join_all(buyers).await {
        let (status, body) = buyer.unwrap();
        match status {
            201 => assert!(orders.insert(body["order_id"].as_str().unwrap().to_owned())),
            409 => {
                assert!(
                    body["type"].as_str().unwrap().ends_with("sold-out"),
                    "{body}"
                );
                sold_out += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(orders.len(), 100);
    assert_eq!(sold_out, 100);
    let inv = inventory(&app, "FLASH").await;
    assert_eq!(
        (inv["available"].as_u64(), inv["reserved"].as_u64()),
        (Some(0), Some(100))
    );
    assert_conserved(&inv);
    let app = Arc::into_inner(app).expect("only owner").restart().await;
    let inv = inventory(&app, "FLASH").await;
    assert_eq!(
        (inv["available"].as_u64(), inv["reserved"].as_u64()),
        (Some(0), Some(100))
    );
    assert_conserved(&inv);
    for id in &orders {
        assert_eq!(app.get(&format!("/v1/orders/{id}")).await.status(), 200);
    }
}

#[tokio::test]
async fn a_retried_key_returns_the_same_order_and_a_changed_body_is_refused() {
    let app = spawn_app().await;
    create_sku(&app, "IDEM", 10).await;
    let first = purchase(&app, "IDEM", "same-key", "bob", 1).await;
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("Idempotent-Replayed").is_none());
    let first: Value = first.json().await.unwrap();
    let again = purchase(&app, "IDEM", "same-key", "bob", 1).await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["Idempotent-Replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    let changed = purchase(&app, "IDEM", "same-key", "bob", 2).await;
    let problem = assert_problem(changed, 422).await;
    assert!(problem["type"]
        .as_str()
        .unwrap()
        .ends_with("idempotency-key-reused"));
    let inv = inventory(&app, "IDEM").await;
    assert_eq!(inv["reserved"], 1, "nothing new was held: {inv}");

    let app = app.restart().await;
    let after = purchase(&app, "IDEM", "same-key", "bob", 1).await;
    assert_eq!(after.status(), 201);
    assert_eq!(after.headers()["Idempotent-Replayed"], "true");
    assert_eq!(after.json::<Value>().await.unwrap(), first);
    assert_eq!(inventory(&app, "IDEM").await["reserved"], 1);
}

#[tokio::test]
async fn the_per_customer_limit_counts_every_unit_the_customer_holds() {
    let app = spawn_app().await;
    create_sku(&app, "LIM", 50).await;
    let res = app
        .admin(Method::PUT, "/v1/admin/skus/LIM/sale")
        .json(&json!({"per_customer_limit": 2, "starts_at": null, "ends_at": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(purchase(&app, "LIM", "l1", "carol", 1).await.status(), 201);
    assert_eq!(purchase(&app, "LIM", "l2", "carol", 1).await.status(), 201);
    let problem = assert_problem(purchase(&app, "LIM", "l3", "carol", 1).await, 422).await;
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .ends_with("limit-exceeded"),
        "{problem}"
    );
    assert_eq!(purchase(&app, "LIM", "l4", "dave", 2).await.status(), 201);
    let inv = inventory(&app, "LIM").await;
    assert_eq!(inv["reserved"], 4);
    assert_conserved(&inv);
}

#[tokio::test]
async fn purchases_outside_the_sale_window_are_refused_with_its_times() {
    let app = spawn_app().await;
    create_sku(&app, "WIN", 10).await;
    let set = |body: Value| {
        app.admin(Method::PUT, "/v1/admin/skus/WIN/sale")
            .json(&body)
            .send()
    };
    let res = set(
        json!({"per_customer_limit": null, "starts_at": "2999-01-01T00:00:00Z", "ends_at": null}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let problem = assert_problem(purchase(&app, "WIN", "w1", "erin", 1).await, 409).await;
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .ends_with("sale-not-started"),
        "{problem}"
    );
    assert!(problem["starts_at"]
        .as_str()
        .unwrap()
        .starts_with("2999-01-01T00:00:00"));
    let res = set(
        json!({"per_customer_limit": null, "starts_at": null, "ends_at": "2001-01-01T00:00:00Z"}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let problem = assert_problem(purchase(&app, "WIN", "w2", "erin", 1).await, 409).await;
    assert!(
        problem["type"].as_str().unwrap().ends_with("sale-ended"),
        "{problem}"
    );
    let res = set(json!({"per_customer_limit": null, "starts_at": "2001-01-01T00:00:00Z", "ends_at": "2999-01-01T00:00:00Z"}))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(purchase(&app, "WIN", "w3", "erin", 1).await.status(), 201);
    let bad = set(json!({"per_customer_limit": 0, "starts_at": "tomorrow", "ends_at": null}))
        .await
        .unwrap();
    let problem = assert_problem(bad, 400).await;
    assert_eq!(problem["errors"].as_array().unwrap().len(), 2, "{problem}");
}

/// The status of `order` as `GET /v1/orders/{id}` shows it.
async fn order_status(app: &TestApp, order: &Value) -> Value {
    let id = order["order_id"].as_str().unwrap();
    let order: Value = app
        .get(&format!("/v1/orders/{id}"))
        .await
        .json()
        .await
        .unwrap();
    order["status"].clone()
}

/// `order` expired and all `stocked` units of `sku` are available again.
async fn assert_expired(app: &TestApp, sku: &str, stocked: u64, order: &Value) {
    let inv = inventory(app, sku).await;
    assert_eq!(
        (inv["available"].as_u64(), inv["reserved"].as_u64()),
        (Some(stocked), Some(0)),
        "{inv}"
    );
    assert_conserved(&inv);
    assert_eq!(order_status(app, order).await, "expired");
}

#[tokio::test]
async fn an_unpaid_order_expires_and_its_stock_returns_also_across_a_restart() {
    let app = spawn_app().await;
    let window = Duration::from_secs(app.settings.inventory.payment_window_secs + 1);
    create_sku(&app, "EXP", 3).await;
    let a: Value = purchase(&app, "EXP", "e1", "f", 2)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(inventory(&app, "EXP").await["available"], 1);
    app.advance(window);
    eventually(|| order_status(&app, &a), |status| status == "expired").await;
    assert_expired(&app, "EXP", 3, &a).await;

    // A hold that lapses while the server is down expires at activation.
    let b: Value = purchase(&app, "EXP", "e2", "g", 3)
        .await
        .json()
        .await
        .unwrap();
    let clock = app.clock.clone();
    let (settings, dir) = app.stop().await;
    clock.advance(window);
    let app = spawn_on(settings, dir, Some(ADMIN_TOKEN), clock).await;
    // Nothing asks the SKU's actor: the stock must come back by itself, and
    // the public (published) count must show it.
    let sku = || async { app.get("/v1/skus/EXP").await.json::<Value>().await.unwrap() };
    eventually(sku, |sku| sku["available"] == 3).await;
    eventually(|| order_status(&app, &b), |status| status == "expired").await;
    assert_expired(&app, "EXP", 3, &b).await;
}

#[tokio::test]
async fn admin_stock_changes_keep_the_conservation_law() {
    let app = spawn_app().await;
    create_sku(&app, "ADM", 5).await;
    assert_eq!(purchase(&app, "ADM", "a1", "h", 3).await.status(), 201);
    let restock = |q: Value| {
        app.admin(Method::POST, "/v1/admin/skus/ADM/restock")
            .json(&json!({"quantity": q}))
            .send()
    };
    let res = restock(json!(10)).await.unwrap();
    assert_eq!(res.status(), 200);
    let inv: Value = res.json().await.unwrap();
    assert_eq!(
        (inv["stocked"].as_u64(), inv["available"].as_u64()),
        (Some(15), Some(12))
    );
    assert_problem(restock(json!(0)).await.unwrap(), 400).await;
    assert_problem(restock(json!(-3)).await.unwrap(), 400).await;
    let set = |n: Value| {
        app.admin(Method::PUT, "/v1/admin/skus/ADM/stock")
            .json(&json!({"stocked": n}))
            .send()
    };
    let problem = assert_problem(set(json!(2)).await.unwrap(), 409).await;
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .ends_with("stock-below-committed"),
        "{problem}"
    );
    let inv: Value = set(json!(3)).await.unwrap().json().await.unwrap();
    assert_eq!(
        (inv["stocked"].as_u64(), inv["available"].as_u64()),
        (Some(3), Some(0))
    );
    assert_conserved(&inv);
    let problem = assert_problem(purchase(&app, "ADM", "a2", "h", 1).await, 409).await;
    assert_eq!(problem["available"], 0);
    let app = app.restart().await;
    let inv = inventory(&app, "ADM").await;
    assert_eq!(
        (inv["stocked"].as_u64(), inv["reserved"].as_u64()),
        (Some(3), Some(3))
    );
    let unauthorized = app
        .request(Method::POST, "/v1/admin/skus/ADM/restock")
        .json(&json!({"quantity": 1}))
        .send();
    assert_problem(unauthorized.await.unwrap(), 401).await;
}

/// How a bad purchase's body is sent.
enum Sent {
    Json(Value),
    /// These bytes, with this `content-type` if one is given.
    Raw(Option<&'static str>, &'static str),
}

/// A purchase the server must refuse: what is wrong with it, the SKU, the
/// `Idempotency-Key` (if sent), the body, and the status it must get.
type BadPurchase = (&'static str, &'static str, Option<&'static str>, Sent, u16);

fn bad_purchases() -> Vec<BadPurchase> {
    let buy = |quantity: Value| Sent::Json(json!({"customer_id": "x", "quantity": quantity}));
    let no_customer = Sent::Json(json!({"customer_id": "", "quantity": 1}));
    let unknown_field = Sent::Json(json!({"customer_id": "x", "quantity": 1, "x": 1}));
    let malformed = Sent::Raw(Some("application/json"), "{");
    let form = Sent::Raw(None, "customer=x");
    vec![
        ("no key", "BAD", None, buy(json!(1)), 400),
        ("zero", "BAD", Some("b1"), buy(json!(0)), 400),
        ("negative", "BAD", Some("b2"), buy(json!(-1)), 400),
        ("huge", "BAD", Some("b3"), buy(json!(1_000_000)), 400),
        ("no customer", "BAD", Some("b4"), no_customer, 400),
        ("unknown field", "BAD", Some("b5"), unknown_field, 400),
        ("malformed", "BAD", Some("b6"), malformed, 400),
        ("form", "BAD", Some("b7"), form, 415),
        ("unknown sku", "NOPE", Some("b8"), buy(json!(1)), 404),
        ("bad key", "BAD", Some("has space"), buy(json!(1)), 400),
        ("too many", "BAD", Some("b9"), buy(json!(6)), 409),
    ]
}

/// Sends a purchase of `sku` with `key` (if any) and `body` as given.
async fn send_purchase(
    app: &TestApp,
    sku: &str,
    key: Option<&str>,
    body: Sent,
) -> reqwest::Response {
    let mut request = app.request(Method::POST, &format!("/v1/skus/{sku}/purchase"));
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    request = match body {
        Sent::Json(body) => request.json(&body),
        Sent::Raw(Some(content_type), bytes) => {
            request.header("content-type", content_type).body(bytes)
        }
        Sent::Raw(None, bytes) => request.body(bytes),
    };
    request.send().await.unwrap()
}

#[tokio::test]
async fn bad_purchases_get_4xx_problems_and_change_nothing() {
    let app = spawn_app().await;
    create_sku(&app, "BAD", 5).await;
    for (what, sku, key, body, status) in bad_purchases() {
        let res = send_purchase(&app, sku, key, body).await;
        assert_eq!(res.status().as_u16(), status, "{what}");
        assert_problem(res, status).await;
    }
    assert_problem(app.get("/v1/orders/ord_doesnotexist").await, 404).await;
    let inv = inventory(&app, "BAD").await;
    assert_eq!(
        (
            inv["available"].as_u64(),
            inv["reserved"].as_u64(),
            inv["sold"].as_u64()
        ),
        (Some(5), Some(0), Some(0))
    );
}

#[tokio::test]
async fn a_full_mailbox_sheds_load_with_503_and_loses_or_duplicates_nothing() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut settings = test_settings(dir.path());
    settings.inventory.mailbox_capacity = 1;
    settings.store.commit_queue_max = 2;
    let app = Arc::new(spawn_with(settings, dir, Some(ADMIN_TOKEN)).await);
    create_sku(&app, "LOAD", 1000).await;
    let buyers = (0..400).map(|i| {
        let app = app.clone();
        tokio::spawn(async move {
            let res = purchase(&app, "LOAD", &format!("o-{i}"), &format!("c{i}"), 1).await;
            let status = res.status().as_u16();
            let retry_after = res.headers().get("retry-after").is_some();
            let body: Value = res.json().await.unwrap();
            (status, retry_after, body)
        })
    });
    let mut created = HashSet::new();
    let mut shed = 0;
    for r in futures_util::future::join_all(buyers).await {
        let (status, retry_after, body) = r.unwrap();
        match status {
            201 => assert!(created.insert(body["order_id"].as_str().unwrap().to_owned())),
            503 => {
                assert!(retry_after, "503 without Retry-After: {body}");
                shed += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(
        shed > 0,
        "a mailbox of 1 and a queue of 2 must shed some of 400 concurrent buyers"
    );
    let inv = inventory(&app, "LOAD").await;
    assert_eq!(
        inv["reserved"].as_u64(),
        Some(created.len() as u64),
        "every 201 holds stock, nothing else: {inv}"
    );
    assert_conserved(&inv);
    // Every shed request can be retried with its key and succeeds once.
    for i in 0..400 {
        let res = purchase(&app, "LOAD", &format!("o-{i}"), &format!("c{i}"), 1).await;
        assert_eq!(res.status(), 201);
        created.insert(
            res.json::<Value>().await.unwrap()["order_id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(created.len(), 400);
    assert_eq!(inventory(&app, "LOAD").await["reserved"], 400);
}

#[tokio::test]
async fn idle_sku_actors_passivate_and_wake_with_their_state() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut settings = test_settings(dir.path());
    settings.inventory.idle_passivate_secs = 1;
    let app = spawn_with(settings, dir, Some(ADMIN_TOKEN)).await;
    for sku in ["IDLE-1", "IDLE-2", "IDLE-3"] {
        create_sku(&app, sku, 4).await;
        let res = app
            .admin(Method::POST, &format!("/v1/admin/skus/{sku}/restock"))
            .json(&json!({"quantity": 1}))
            .send();
        assert_eq!(res.await.unwrap().status(), 200);
    }
    let stats = || async {
        app.admin(Method::GET, "/v1/admin/stats")
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    assert_eq!(stats().await["sku_actors_active"], 3);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while stats().await["sku_actors_active"] != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "idle actors never passivated"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(purchase(&app, "IDLE-2", "i1", "z", 2).await.status(), 201);
    let inv = inventory(&app, "IDLE-2").await;
    assert_eq!(
        (inv["stocked"].as_u64(), inv["available"].as_u64()),
        (Some(5), Some(3)),
        "{inv}"
    );
    assert_eq!(stats().await["sku_actors_active"], 1);
}

async fn keyed_restock(app: &TestApp, sku: &str, key: &str, quantity: u64) -> reqwest::Response {
    app.admin(Method::POST, &format!("/v1/admin/skus/{sku}/restock"))
        .header("Idempotency-Key", key)
        .json(&json!({"quantity": quantity}))
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn a_restock_retried_with_its_key_adds_nothing_also_after_a_restart() {
    let app = spawn_app().await;
    create_sku(&app, "RESTOCK-1", 10).await;
    let first = keyed_restock(&app, "RESTOCK-1", "delivery-42", 5).await;
    assert_eq!(first.status(), 200);
    assert_eq!(crate::helpers::header(&first, "Idempotent-Replayed"), None);
    assert_eq!(first.json::<Value>().await.unwrap()["stocked"], json!(15));

    let retry = keyed_restock(&app, "RESTOCK-1", "delivery-42", 5).await;
    assert_eq!(retry.status(), 200);
    let replayed = crate::helpers::header(&retry, "Idempotent-Replayed");
    assert_eq!(replayed.as_deref(), Some("true"));
    assert_eq!(retry.json::<Value>().await.unwrap()["stocked"], json!(15));

    let other = keyed_restock(&app, "RESTOCK-1", "delivery-42", 6).await;
    assert_problem(other, 422).await;
    let malformed = keyed_restock(&app, "RESTOCK-1", "not a key", 5).await;
    assert_problem(malformed, 400).await;
    assert_eq!(inventory(&app, "RESTOCK-1").await["stocked"], json!(15));

    let app = app.restart().await;
    let after = keyed_restock(&app, "RESTOCK-1", "delivery-42", 5).await;
    assert_eq!(after.status(), 200);
    let inv = inventory(&app, "RESTOCK-1").await;
    assert_eq!(
        inv["stocked"],
        json!(15),
        "the receipt outlived the process"
    );
    assert_conserved(&inv);
    // A new key is a new delivery; no key keeps the old behaviour.
    assert_eq!(
        keyed_restock(&app, "RESTOCK-1", "delivery-43", 5)
            .await
            .status(),
        200
    );
    let unkeyed = app
        .admin(Method::POST, "/v1/admin/skus/RESTOCK-1/restock")
        .json(&json!({"quantity": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(unkeyed.status(), 200);
    assert_eq!(inventory(&app, "RESTOCK-1").await["stocked"], json!(21));
}

/// The same keyed restock sent many times at once (a retrying client, a
/// double-clicked admin button): it is applied exactly once. Each copy is
/// the original, a replay of it, or told the key is in use (409); none adds
/// stock a second time.
#[tokio::test]
async fn concurrent_copies_of_one_keyed_restock_add_the_stock_once() {
    let app = Arc::new(spawn_app().await);
    create_sku(&app, "RESTOCK-C", 10).await;
    // Open the connections first, so that the copies arrive together.
    let warm = (0..16).map(|_| {
        let app = app.clone();
        tokio::spawn(async move { app.get("/healthz").await.status() })
    });
    for w in warm.collect::<Vec<_>>() {
        assert_eq!(w.await.unwrap(), 200);
    }
    let copies = (0..16).map(|_| {
        let app = app.clone();
        tokio::spawn(async move {
            let res = keyed_restock(&app, "RESTOCK-C", "pallet-7", 4).await;
            let replayed = crate::helpers::header(&res, "Idempotent-Replayed").is_some();
            let status = res.status().as_u16();
            if status == 409 {
                let problem = assert_problem(res, 409).await;
                assert_eq!(
                    problem["type"],
                    "https://surge.dev/problems/idempotency-key-in-use"
                );
            }
            (status, replayed)
        })
    });
    let copies: Vec<_> = copies.collect();
    let (mut originals, mut replays, mut in_use) = (0, 0, 0);
    for copy in copies {
        match copy.await.unwrap() {
            (200, false) => originals += 1,
            (200, true) => replays += 1,
            (409, _) => in_use += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!(
        originals, 1,
        "exactly one copy is the restock itself ({replays} replayed, {in_use} in use)"
    );
    let inv = inventory(&app, "RESTOCK-C").await;
    assert_eq!(inv["stocked"], json!(14));
    assert_conserved(&inv);
}
