//! Idempotency-Key on every unsafe call: a retry with the same key and body
//! is answered as the first call was (with `Idempotent-Replayed: true`) and
//! changes nothing; the same key with another body is a 422; the calls that
//! move money require a key; receipts are purged after the retention.

use crate::helpers::{assert_problem, header, json_body, product_body, spawn_app, TestApp};
use crate::inventory::{create_sku, purchase};
use crate::orders::{admin_step, kind, paid_order, pay_keyed, refund_keyed};
use reqwest::{Method, Response};
use serde_json::{json, Value};
use std::time::Duration;

fn replayed(res: &Response) -> bool {
    header(res, "Idempotent-Replayed").as_deref() == Some("true")
}

/// The body and whether it was a replay, asserting `status`.
async fn answer(res: Response, status: u16) -> (Value, bool) {
    let again = replayed(&res);
    (json_body(res, status).await, again)
}

fn amount(value: i64) -> Option<Value> {
    Some(json!({"amount": {"amount": value, "currency": "EUR"}}))
}

async fn keyed_step(app: &TestApp, order: &str, step: &str, key: &str) -> Response {
    app.admin(Method::POST, &format!("/v1/admin/orders/{order}/{step}"))
        .header("Idempotency-Key", key)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_partial_refund_retried_refunds_once() {
    let app = spawn_app().await;
    create_sku(&app, "IDR-1", 10).await;
    let id = paid_order(&app, "IDR-1", 2, "idr-1").await; // 5000
    let (first, again) = answer(refund_keyed(&app, &id, amount(1200), "rf-1").await, 200).await;
    assert!(!again);
    assert_eq!(first["payment"]["refunded"]["amount"], 1200);

    let (retry, again) = answer(refund_keyed(&app, &id, amount(1200), "rf-1").await, 200).await;
    assert!(again, "the retry is marked as replayed");
    assert_eq!(retry, first, "the retry answers the first call's body");
    let order = json_body(app.get(&format!("/v1/orders/{id}")).await, 200).await;
    assert_eq!(
        order["payment"]["refunded"]["amount"], 1200,
        "refunded once"
    );

    let other = assert_problem(refund_keyed(&app, &id, amount(1300), "rf-1").await, 422).await;
    assert_eq!(kind(&other), "idempotency-key-reused");
    let (next, again) = answer(refund_keyed(&app, &id, amount(1200), "rf-2").await, 200).await;
    assert!(!again);
    assert_eq!(
        next["payment"]["refunded"]["amount"], 2400,
        "a new key refunds again"
    );
}

#[tokio::test]
async fn concurrent_retries_of_one_refund_refund_once() {
    let app = spawn_app().await;
    create_sku(&app, "IDR-2", 10).await;
    let id = paid_order(&app, "IDR-2", 2, "idr-2").await;
    let tries = (0..8).map(|_| refund_keyed(&app, &id, amount(700), "rf-same"));
    let answers = futures_util::future::join_all(tries).await;
    let mut done = 0;
    for res in answers {
        match res.status().as_u16() {
            200 => done += 1,
            409 => assert_eq!(
                kind(&res.json::<Value>().await.unwrap()),
                "idempotency-key-in-use"
            ),
            other => panic!("unexpected {other}"),
        }
    }
    assert!(done >= 1);
    let order = json_body(app.get(&format!("/v1/orders/{id}")).await, 200).await;
    assert_eq!(order["payment"]["refunded"]["amount"], 700);
}

#[tokio::test]
async fn money_moving_calls_require_a_key() {
    let app = spawn_app().await;
    create_sku(&app, "IDR-3", 10).await;
    let order = json_body(purchase(&app, "IDR-3", "p-3", "alice", 1).await, 201).await;
    let id = order["order_id"].as_str().unwrap();
    let unkeyed_pay = app
        .request(Method::POST, &format!("/v1/orders/{id}/pay"))
        .json(&json!({"payment_token": "tok_ok"}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(unkeyed_pay, 400).await;
    assert_eq!(kind(&problem), "idempotency-key-required");
    let unkeyed_refund = app
        .admin(Method::POST, &format!("/v1/admin/orders/{id}/refund"))
        .send()
        .await
        .unwrap();
    assert_problem(unkeyed_refund, 400).await;
    let after = json_body(app.get(&format!("/v1/orders/{id}")).await, 200).await;
    assert_eq!(after["status"], "awaiting_payment", "nothing changed");
}

#[tokio::test]
async fn a_retried_payment_answers_the_first_and_charges_once() {
    let app = spawn_app().await;
    create_sku(&app, "IDR-4", 10).await;
    let order = json_body(purchase(&app, "IDR-4", "p-4", "alice", 1).await, 201).await;
    let id = order["order_id"].as_str().unwrap();
    let (paid, again) = answer(pay_keyed(&app, id, "tok_ok", "pay-4").await, 200).await;
    assert!(!again);
    assert_eq!(paid["status"], "paid");
    json_body(admin_step(&app, id, "fulfil").await, 200).await;
    let (retry, again) = answer(pay_keyed(&app, id, "tok_ok", "pay-4").await, 200).await;
    assert!(again);
    assert_eq!(retry, paid, "the first answer, though the order moved on");
    let other = assert_problem(pay_keyed(&app, id, "tok_other", "pay-4").await, 422).await;
    assert_eq!(kind(&other), "idempotency-key-reused");
}

#[tokio::test]
async fn order_moves_replay_their_first_answer() {
    let app = spawn_app().await;
    create_sku(&app, "IDR-5", 10).await;
    let id = paid_order(&app, "IDR-5", 1, "idr-5").await;
    let (fulfilled, _) = answer(keyed_step(&app, &id, "fulfil", "f-5").await, 200).await;
    let (shipped, _) = answer(keyed_step(&app, &id, "ship", "s-5").await, 200).await;
    assert_eq!(shipped["status"], "shipped");
    // Unkeyed, a second fulfil is refused; keyed, it is the first answer.
    assert_problem(admin_step(&app, &id, "fulfil").await, 409).await;
    let (again, was) = answer(keyed_step(&app, &id, "fulfil", "f-5").await, 200).await;
    assert!(was);
    assert_eq!(again, fulfilled);
    let reused = assert_problem(keyed_step(&app, &id, "ship", "f-5").await, 409).await;
    assert_eq!(
        kind(&reused),
        "illegal-transition",
        "scopes differ per move"
    );

    let id = paid_order(&app, "IDR-5", 1, "idr-5b").await;
    let (cancelled, _) = answer(keyed_step(&app, &id, "cancel", "c-5").await, 200).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["payment"]["refunded"]["amount"], 2500);
    let (again, was) = answer(keyed_step(&app, &id, "cancel", "c-5").await, 200).await;
    assert!(was);
    assert_eq!(again, cancelled, "the order as the cancellation ended");
}

#[tokio::test]
async fn a_customer_cancel_retried_is_answered_again() {
    let app = spawn_app().await;
    create_sku(&app, "IDR-6", 10).await;
    let order = json_body(purchase(&app, "IDR-6", "p-6", "alice", 3).await, 201).await;
    let id = order["order_id"].as_str().unwrap();
    let cancel = || {
        app.request(Method::POST, &format!("/v1/orders/{id}/cancel"))
            .header("Idempotency-Key", "cx-6")
            .send()
    };
    let (first, _) = answer(cancel().await.unwrap(), 200).await;
    let (again, was) = answer(cancel().await.unwrap(), 200).await;
    assert!(was);
    assert_eq!(again, first);
    let inv = app.admin_json("/v1/admin/skus/IDR-6/inventory").await;
    assert_eq!(inv["available"], 10, "the stock came back once");
}

#[tokio::test]
async fn products_and_webhooks_are_created_once_per_key() {
    let app = spawn_app().await;
    let create = |body: Value| {
        app.admin(Method::POST, "/v1/admin/products")
            .header("Idempotency-Key", "prod-1")
            .json(&body)
            .send()
    };
    let mut body = product_body("p-once", &["ONCE-1"]);
    body.as_object_mut().unwrap().remove("id");
    let (first, _) = answer(create(body.clone()).await.unwrap(), 201).await;
    let (again, was) = answer(create(body.clone()).await.unwrap(), 201).await;
    assert!(was);
    assert_eq!(again["id"], first["id"], "one product, not two");
    body["title"] = json!("Another title");
    assert_problem(create(body).await.unwrap(), 422).await;
    let list = json_body(app.get("/v1/products?limit=100").await, 200).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    let register = || {
        app.admin(Method::POST, "/v1/admin/webhooks")
            .header("Idempotency-Key", "hook-1")
            .json(&json!({"url": "http://127.0.0.1:9/hook", "secret": "s3cret"}))
            .send()
    };
    let (hook, _) = answer(register().await.unwrap(), 201).await;
    let (again, was) = answer(register().await.unwrap(), 201).await;
    assert!(was);
    assert_eq!(again, hook);
    let hooks = app.admin_json("/v1/admin/webhooks").await;
    assert_eq!(hooks["items"].as_array().unwrap().len(), 1);

    // Once the webhook is removed, a retry must not answer 201 with an id
    // that no longer exists, nor register a second one.
    let id = hook["id"].as_str().unwrap();
    let removed = app
        .admin(Method::DELETE, &format!("/v1/admin/webhooks/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status().as_u16(), 204);
    let gone = assert_problem(register().await.unwrap(), 409).await;
    assert!(gone["type"]
        .as_str()
        .unwrap()
        .ends_with("/webhook-removed-since"));
    assert_eq!(gone["webhook_id"], hook["id"]);
    let hooks = app.admin_json("/v1/admin/webhooks").await;
    assert_eq!(hooks["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn receipts_are_purged_after_the_retention() {
    let app = spawn_app().await;
    create_sku(&app, "IDR-7", 10).await;
    let id = paid_order(&app, "IDR-7", 2, "idr-7").await;
    json_body(refund_keyed(&app, &id, amount(100), "old-key").await, 200).await;
    let reused = refund_keyed(&app, &id, amount(200), "old-key").await;
    assert_problem(reused, 422).await;
    // Still kept just before the default 24 h ...
    app.advance(Duration::from_secs(23 * 3600));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_problem(refund_keyed(&app, &id, amount(200), "old-key").await, 422).await;
    // ... and gone after them: the key is free again.
    app.advance(Duration::from_secs(2 * 3600));
    let freed = crate::helpers::eventually(
        || async {
            refund_keyed(&app, &id, amount(200), "old-key")
                .await
                .status()
        },
        |status| *status != 422,
    )
    .await;
    assert_eq!(freed, 200);
    let order = json_body(app.get(&format!("/v1/orders/{id}")).await, 200).await;
    assert_eq!(order["payment"]["refunded"]["amount"], 300);
}

#[tokio::test]
async fn a_malformed_key_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    create_sku(&app, "IDR-8", 10).await;
    let id = paid_order(&app, "IDR-8", 1, "idr-8").await;
    let long = "k".repeat(256);
    for bad in ["has space", long.as_str()] {
        let res = refund_keyed(&app, &id, None, bad).await;
        assert_eq!(
            kind(&assert_problem(res, 400).await),
            "invalid-idempotency-key"
        );
    }
    let order = json_body(app.get(&format!("/v1/orders/{id}")).await, 200).await;
    assert_eq!(order["status"], "paid");
}
