//! What a purchase of a SKU with a waiting room needs (a valid admission,
//! used once), what carts may not do, switching the room off and on, and
//! bad input.

use super::{buy, id, join, open_room, set_sale, ticket, token, try_join};
use crate::helpers::{assert_problem, eventually, json_body, spawn_app, TestApp};
use crate::inventory::{create_sku, inventory};
use reqwest::Method;
use serde_json::{json, Value};

/// Asserts a 403 admission-required problem with `reason`.
async fn refused(res: reqwest::Response, reason: &str) {
    let problem = assert_problem(res, 403).await;
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .ends_with("/admission-required"),
        "{problem}"
    );
    assert_eq!(problem["reason"], reason, "{problem}");
}

/// `customer`'s admitted ticket on `sku`.
async fn admitted(app: &TestApp, sku: &str, customer: &str) -> Value {
    let t = id(&join(app, sku, customer).await);
    eventually(|| ticket(app, &t), |t| t["status"] == "admitted").await
}

#[tokio::test]
async fn a_purchase_needs_a_valid_admission_and_uses_it_once() {
    let app = spawn_app().await;
    open_room(&app, "GATE-1", 10, Value::Null, 100).await;
    let alice = admitted(&app, "GATE-1", "alice").await;
    let good = token(&alice);
    assert!(alice["admission"]["expires_at"].is_string(), "{alice}");
    refused(buy(&app, "GATE-1", "k1", "alice", None).await, "missing").await;
    let mut forged = good.clone();
    let last = if forged.ends_with('0') { "1" } else { "0" };
    forged.replace_range(forged.len() - 1.., last);
    refused(
        buy(&app, "GATE-1", "k2", "alice", Some(&forged)).await,
        "invalid",
    )
    .await;
    refused(
        buy(&app, "GATE-1", "k3", "bob", Some(&good)).await,
        "invalid",
    )
    .await;
    refused(
        buy(&app, "GATE-1", "k4", "alice", Some("not-a-token")).await,
        "invalid",
    )
    .await;
    assert_eq!(
        inventory(&app, "GATE-1").await["reserved"],
        0,
        "a refusal held stock"
    );

    let first = json_body(buy(&app, "GATE-1", "k5", "alice", Some(&good)).await, 201).await;
    let replay = buy(&app, "GATE-1", "k5", "alice", Some(&good)).await;
    assert_eq!(replay.headers()["Idempotent-Replayed"], "true");
    assert_eq!(json_body(replay, 201).await["order_id"], first["order_id"]);
    refused(
        buy(&app, "GATE-1", "k6", "alice", Some(&good)).await,
        "used",
    )
    .await;
    assert_eq!(inventory(&app, "GATE-1").await["reserved"], 1);
    assert_eq!(ticket(&app, &id(&alice)).await["status"], "admitted");
}

#[tokio::test]
async fn a_cart_cannot_hold_a_sku_sold_through_its_waiting_room() {
    let app = spawn_app().await;
    open_room(&app, "CART-Q", 10, Value::Null, 100).await;
    let cart: Value = app
        .request(Method::POST, "/v1/carts")
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = format!("/v1/carts/{}/lines", cart["id"].as_str().unwrap());
    let res = app
        .request(Method::POST, &path)
        .json(&json!({"sku": "CART-Q", "quantity": 1}))
        .send()
        .await
        .unwrap();
    refused(res, "waiting-room-only").await;
    assert_eq!(inventory(&app, "CART-Q").await["reserved"], 0);
}

#[tokio::test]
async fn switching_the_room_off_opens_purchases_and_on_again_starts_it_empty() {
    let app = spawn_app().await;
    open_room(&app, "OFF-1", 10, Value::Null, 100).await;
    let old = join(&app, "OFF-1", "alice").await;
    let sale = set_sale(&app, "OFF-1", Value::Null, None).await;
    assert_eq!(sale["sale"]["queue"]["enabled"], false, "{sale}");
    assert_problem(app.get(&format!("/v1/queue/{}", id(&old))).await, 404).await;
    assert_eq!(buy(&app, "OFF-1", "k1", "alice", None).await.status(), 201);
    let problem = assert_problem(try_join(&app, "OFF-1", "alice").await, 409).await;
    assert!(problem["type"]
        .as_str()
        .unwrap()
        .ends_with("/queue-not-enabled"));

    let sale = set_sale(&app, "OFF-1", Value::Null, Some(7)).await;
    assert_eq!(
        sale["sale"]["queue"],
        json!({"enabled": true, "admit_per_sec": 7})
    );
    let new = join(&app, "OFF-1", "alice").await;
    assert_ne!(
        new["ticket"], old["ticket"],
        "the old run's ticket came back"
    );
    let app = app.restart().await;
    assert_problem(app.get(&format!("/v1/queue/{}", id(&old))).await, 404).await;
    assert_eq!(ticket(&app, &id(&new)).await["ticket"], new["ticket"]);
}

#[tokio::test]
async fn bad_queue_requests_get_a_problem_and_change_nothing() {
    let app = spawn_app().await;
    create_sku(&app, "PLAIN-1", 5).await;
    open_room(&app, "BAD-Q", 5, Value::Null, 10).await;
    assert_problem(app.get("/v1/queue/nope").await, 400).await;
    let unknown = "/v1/queue/tkt_0123456789abcdef0123456789abcdef";
    assert_problem(app.get(unknown).await, 404).await;
    assert_problem(app.get(&format!("{unknown}/stream")).await, 404).await;
    assert_problem(try_join(&app, "PLAIN-1", "alice").await, 409).await;
    assert_problem(try_join(&app, "NOPE-1", "alice").await, 404).await;
    assert_problem(try_join(&app, "BAD-Q", "a b").await, 400).await;
    let res = app
        .request(Method::POST, "/v1/skus/BAD-Q/queue")
        .json(&json!({"customer_id": "alice", "extra": 1}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 400).await;
    for rate in [0, 10_001] {
        let body = json!({"per_customer_limit": null, "starts_at": null, "ends_at": null,
            "queue": {"enabled": true, "admit_per_sec": rate}});
        let res = app
            .admin(Method::PUT, "/v1/admin/skus/PLAIN-1/sale")
            .json(&body)
            .send()
            .await
            .unwrap();
        let problem = assert_problem(res, 400).await;
        assert_eq!(problem["errors"][0]["field"], "queue.admit_per_sec");
    }
    assert_eq!(
        buy(&app, "PLAIN-1", "k1", "alice", None).await.status(),
        201,
        "the room was switched on"
    );
}

#[tokio::test]
async fn the_openapi_document_gives_ticket_ids_their_pattern() {
    let app = spawn_app().await;
    let doc = json_body(app.get("/openapi.json").await, 200).await;
    for path in ["/v1/queue/{ticket}", "/v1/queue/{ticket}/stream"] {
        let param = &doc["paths"][path]["get"]["parameters"][0];
        assert_eq!(param["name"], "ticket");
        assert_eq!(
            param["schema"]["pattern"],
            surge::queue::TICKET_ID_PATTERN,
            "{path}"
        );
    }
    let join = &doc["paths"]["/v1/skus/{sku}/queue"]["post"]["responses"];
    for status in ["201", "400", "404", "409", "503"] {
        assert!(join.get(status).is_some(), "join lacks {status}");
    }
    let purchase = &doc["paths"]["/v1/skus/{sku}/purchase"]["post"]["responses"];
    assert!(purchase.get("403").is_some(), "purchase lacks 403");
}

#[tokio::test]
async fn an_admission_buys_once_even_when_buyers_hang_up_midway() {
    let app = spawn_app().await;
    open_room(&app, "HANG-1", 10, Value::Null, 100).await;
    let good = token(&admitted(&app, "HANG-1", "alice").await);
    for n in 0..16 {
        // Gone within a few ms: the purchase may or may not have been made
        // (a hang-up that resets the connection drops the handler).
        let body = json!({"customer_id": "alice", "quantity": 1, "admission": good});
        let _ = app
            .request(Method::POST, "/v1/skus/HANG-1/purchase")
            .header("Idempotency-Key", format!("hang-{n}"))
            .timeout(std::time::Duration::from_micros(500 + 250 * (n % 16)))
            .json(&body)
            .send()
            .await;
    }
    let last = eventually(
        || async {
            let res = buy(&app, "HANG-1", "last", "alice", Some(&good)).await;
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap_or_default())
        },
        |(status, body)| *status == 201 || body["reason"] == "used",
    )
    .await;
    let inv = inventory(&app, "HANG-1").await;
    assert_eq!(inv["reserved"], 1, "one admission, {last:?}: {inv}");
}
