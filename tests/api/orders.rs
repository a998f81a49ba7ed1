//! Orders through HTTP: paying flash-sale orders, the state machine's moves
//! and refusals, cancellation returning stock, refunds, the admin list.

use crate::checkout::{checkout, filled_cart};
use crate::helpers::{assert_problem, eventually, json_body, spawn_app, TestApp};
use crate::inventory::{assert_conserved, create_sku, inventory, purchase};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

/// Pays with a fresh Idempotency-Key.
pub async fn pay(app: &TestApp, order: &str, token: &str) -> reqwest::Response {
    pay_keyed(app, order, token, &fresh_key()).await
}

pub async fn pay_keyed(app: &TestApp, order: &str, token: &str, key: &str) -> reqwest::Response {
    app.request(Method::POST, &format!("/v1/orders/{order}/pay"))
        .header("Idempotency-Key", key)
        .json(&json!({"payment_token": token}))
        .send()
        .await
        .unwrap()
}

pub async fn admin_step(app: &TestApp, order: &str, step: &str) -> reqwest::Response {
    app.admin(Method::POST, &format!("/v1/admin/orders/{order}/{step}"))
        .send()
        .await
        .unwrap()
}

/// Refunds with a fresh Idempotency-Key.
pub async fn refund(app: &TestApp, order: &str, body: Option<Value>) -> reqwest::Response {
    refund_keyed(app, order, body, &fresh_key()).await
}

pub async fn refund_keyed(
    app: &TestApp,
    order: &str,
    body: Option<Value>,
    key: &str,
) -> reqwest::Response {
    let req = app
        .admin(Method::POST, &format!("/v1/admin/orders/{order}/refund"))
        .header("Idempotency-Key", key);
    let req = match body {
        Some(body) => req.json(&body),
        None => req,
    };
    req.send().await.unwrap()
}

pub fn fresh_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn kind(problem: &Value) -> &str {
    problem["type"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
}

/// A paid checkout order of `quantity` units of `sku` (2500 each).
pub async fn paid_order(app: &TestApp, sku: &str, quantity: u64, key: &str) -> String {
    let cart = filled_cart(app, sku, quantity).await;
    let order = json_body(checkout(app, &cart, key, "tok_ok").await, 201).await;
    order["order_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn paying_a_flash_sale_order_sells_its_hold_once() {
    let app = spawn_app().await;
    create_sku(&app, "PAY-1", 5).await;
    let order = json_body(purchase(&app, "PAY-1", "p-1", "alice", 2).await, 201).await;
    let id = order["order_id"].as_str().unwrap();
    assert_eq!(order["status"], "awaiting_payment");

    let paid = json_body(pay(&app, id, "tok_ok").await, 200).await;
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["payment"]["captured"], true);
    assert_eq!(
        paid["payment"]["amount"],
        json!({"amount": 5000, "currency": "EUR"})
    );
    let inv = inventory(&app, "PAY-1").await;
    assert_conserved(&inv);
    assert_eq!(
        (inv["reserved"].as_u64(), inv["sold"].as_u64()),
        (Some(0), Some(2))
    );
    // Paying again is answered with the paid order; nothing moves.
    let again = json_body(pay(&app, id, "tok_ok").await, 200).await;
    assert_eq!(again["payment"], paid["payment"]);
    assert_eq!(inventory(&app, "PAY-1").await["sold"], 2);
    assert_eq!(
        json_body(app.get(&format!("/v1/orders/{id}")).await, 200).await["status"],
        "paid"
    );

    // A declined card leaves the order awaiting payment, its stock held.
    let other = json_body(purchase(&app, "PAY-1", "p-2", "bob", 1).await, 201).await;
    let other = other["order_id"].as_str().unwrap();
    assert_eq!(
        kind(&assert_problem(pay(&app, other, "tok_decline").await, 402).await),
        "payment-declined"
    );
    assert_eq!(inventory(&app, "PAY-1").await["reserved"], 1);
    assert_problem(pay(&app, "ord_nope", "tok_ok").await, 404).await;
    assert_problem(pay(&app, other, "").await, 400).await;
}

#[tokio::test]
async fn an_order_past_its_payment_window_cannot_be_paid() {
    let app = spawn_app().await;
    create_sku(&app, "WIN-1", 3).await;
    let order = json_body(purchase(&app, "WIN-1", "w-1", "alice", 1).await, 201).await;
    let id = order["order_id"].as_str().unwrap();
    let window = app.settings.inventory.payment_window_secs;
    app.advance(Duration::from_secs(window + 1));
    assert_eq!(
        kind(&assert_problem(pay(&app, id, "tok_ok").await, 409).await),
        "order-expired"
    );
    // The hold's expiry (in its SKU's actor) follows the clock shortly.
    let status = || async {
        json_body(app.get(&format!("/v1/orders/{id}")).await, 200).await["status"].clone()
    };
    eventually(status, |s| s == "expired").await;
    let inv = inventory(&app, "WIN-1").await;
    assert_eq!(
        (inv["available"].as_u64(), inv["sold"].as_u64()),
        (Some(3), Some(0))
    );
}

#[tokio::test]
async fn an_order_moves_through_fulfilment_and_refuses_illegal_moves() {
    let app = spawn_app().await;
    create_sku(&app, "LIFE-1", 10).await;
    let id = paid_order(&app, "LIFE-1", 2, "life-1").await;
    // Deliver before shipping: 409 naming the current state.
    let body = assert_problem(admin_step(&app, &id, "deliver").await, 409).await;
    assert_eq!(
        (kind(&body), body["current_status"].as_str()),
        ("illegal-transition", Some("paid"))
    );
    for (step, status) in [
        ("fulfil", "fulfilled"),
        ("ship", "shipped"),
        ("deliver", "delivered"),
    ] {
        let order = json_body(admin_step(&app, &id, step).await, 200).await;
        assert_eq!(order["status"], status);
    }
    let body = assert_problem(admin_step(&app, &id, "cancel").await, 409).await;
    assert_eq!(body["current_status"], "delivered");
    assert_problem(admin_step(&app, &id, "ship").await, 409).await;
    // The sold stock stays sold.
    assert_eq!(inventory(&app, "LIFE-1").await["sold"], 2);
    // Admin routes need the token.
    let res = app
        .request(Method::POST, &format!("/v1/admin/orders/{id}/fulfil"))
        .send()
        .await
        .unwrap();
    assert_problem(res, 401).await;
    assert_problem(admin_step(&app, "ord_missing", "fulfil").await, 404).await;
}

#[tokio::test]
async fn cancelling_returns_the_stock_and_the_customer_cannot_cancel_after_fulfilment() {
    let app = spawn_app().await;
    create_sku(&app, "CAN-1", 10).await;
    // A paid order, cancelled by the customer: stock back, payment refunded.
    let id = paid_order(&app, "CAN-1", 3, "can-1").await;
    assert_eq!(inventory(&app, "CAN-1").await["sold"], 3);
    let res = app
        .request(Method::POST, &format!("/v1/orders/{id}/cancel"))
        .send()
        .await
        .unwrap();
    let order = json_body(res, 200).await;
    assert_eq!(order["status"], "cancelled");
    assert_eq!(order["payment"]["refunded"]["amount"], 7500);
    let inv = inventory(&app, "CAN-1").await;
    assert_conserved(&inv);
    assert_eq!(
        (inv["sold"].as_u64(), inv["available"].as_u64()),
        (Some(0), Some(10))
    );

    // An unpaid flash-sale order, cancelled: its hold is released.
    let unpaid = json_body(purchase(&app, "CAN-1", "can-2", "dora", 2).await, 201).await;
    let unpaid = unpaid["order_id"].as_str().unwrap();
    let res = app
        .request(Method::POST, &format!("/v1/orders/{unpaid}/cancel"))
        .send()
        .await
        .unwrap();
    assert_eq!(json_body(res, 200).await["status"], "cancelled");
    assert_eq!(inventory(&app, "CAN-1").await["reserved"], 0);
    assert_problem(pay(&app, unpaid, "tok_ok").await, 409).await;

    // Fulfilled: the customer may not cancel, the merchant may.
    let id = paid_order(&app, "CAN-1", 1, "can-3").await;
    json_body(admin_step(&app, &id, "fulfil").await, 200).await;
    let res = app
        .request(Method::POST, &format!("/v1/orders/{id}/cancel"))
        .send()
        .await
        .unwrap();
    assert_eq!(kind(&assert_problem(res, 409).await), "not-cancellable");
    assert_eq!(
        json_body(admin_step(&app, &id, "cancel").await, 200).await["status"],
        "cancelled"
    );
    let inv = inventory(&app, "CAN-1").await;
    assert_conserved(&inv);
    assert_eq!(
        (inv["sold"].as_u64(), inv["available"].as_u64()),
        (Some(0), Some(10))
    );
}

#[tokio::test]
async fn refunds_are_partial_or_full_and_never_above_what_was_paid() {
    let app = spawn_app().await;
    create_sku(&app, "REF-1", 10).await;
    let id = paid_order(&app, "REF-1", 2, "ref-1").await; // 5000 EUR cents
    let partial = json_body(
        refund(
            &app,
            &id,
            Some(json!({"amount": {"amount": 1500, "currency": "EUR"}})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(partial["status"], "paid");
    assert_eq!(partial["payment"]["refunded"]["amount"], 1500);
    let body = assert_problem(
        refund(
            &app,
            &id,
            Some(json!({"amount": {"amount": 3501, "currency": "EUR"}})),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(
        (kind(&body), body["refundable"].as_i64()),
        ("refund-exceeds-paid", Some(3500))
    );
    assert_problem(
        refund(
            &app,
            &id,
            Some(json!({"amount": {"amount": 100, "currency": "USD"}})),
        )
        .await,
        422,
    )
    .await;
    // No amount: everything left.
    let full = json_body(refund(&app, &id, None).await, 200).await;
    assert_eq!(full["status"], "refunded");
    assert_eq!(full["payment"]["refunded"]["amount"], 5000);
    assert_problem(refund(&app, &id, None).await, 409).await;
    // An unpaid order has nothing to refund.
    let unpaid = json_body(purchase(&app, "REF-1", "ref-2", "eve", 1).await, 201).await;
    assert_problem(
        refund(&app, unpaid["order_id"].as_str().unwrap(), None).await,
        409,
    )
    .await;
}

#[tokio::test]
async fn the_admin_order_list_filters_by_status_and_pages_with_a_cursor() {
    let app = spawn_app().await;
    create_sku(&app, "LIST-1", 50).await;
    let mut paid = HashSet::new();
    for n in 0..5 {
        paid.insert(paid_order(&app, "LIST-1", 1, &format!("list-{n}")).await);
    }
    for n in 0..3 {
        json_body(
            purchase(&app, "LIST-1", &format!("fs-{n}"), "frank", 1).await,
            201,
        )
        .await;
    }
    let mut seen = HashSet::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let mut path = "/v1/admin/orders?status=paid&limit=2".to_owned();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = json_body(app.admin(Method::GET, &path).send().await.unwrap(), 200).await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        for item in items {
            assert_eq!(item["status"], "paid");
            assert!(seen.insert(item["order_id"].as_str().unwrap().to_owned()));
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, paid);
    let all = json_body(
        app.admin(Method::GET, "/v1/admin/orders")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(all["items"].as_array().unwrap().len(), 8);
    let res = app
        .admin(Method::GET, "/v1/admin/orders?status=lost")
        .send()
        .await
        .unwrap();
    assert_problem(res, 400).await;
    let res = app
        .admin(Method::GET, "/v1/admin/orders?limit=0")
        .send()
        .await
        .unwrap();
    assert_problem(res, 400).await;
}
