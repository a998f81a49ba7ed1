//! Checkout through HTTP: the happy path, payment failures and their
//! compensations, the last unit under concurrent checkouts, idempotent
//! retries.

use crate::carts::{add_line, get_cart, new_cart};
use crate::helpers::{
    assert_problem, eur, eventually, header, json_body, spawn_app, spawn_with, stays,
    test_settings, TestApp, ADMIN_TOKEN,
};
use crate::inventory::{assert_conserved, create_sku, inventory};
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use surge::config::Settings;

pub async fn checkout(app: &TestApp, cart: &str, key: &str, token: &str) -> reqwest::Response {
    app.request(Method::POST, &format!("/v1/carts/{cart}/checkout"))
        .header("Idempotency-Key", key)
        .json(&json!({
            "email": "shopper@example.com",
            "shipping_address": {"line1": "1 Main St", "city": "Springfield", "country": "US"},
            "payment_token": token
        }))
        .send()
        .await
        .unwrap()
}

/// A cart holding `quantity` of `sku`.
pub async fn filled_cart(app: &TestApp, sku: &str, quantity: u64) -> String {
    let cart = new_cart(app, json!({"customer_id": "shopper-1"})).await;
    let id = cart["id"].as_str().unwrap().to_owned();
    json_body(add_line(app, &id, sku, quantity).await, 200).await;
    id
}

/// An app whose payment gateway gives up fast (for timeout and breaker paths).
async fn impatient_app(tune: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut settings = test_settings(dir.path());
    settings.payment.timeout_ms = 100;
    settings.payment.retries = 1;
    settings.payment.backoff_base_ms = 5;
    settings.payment.backoff_max_ms = 10;
    tune(&mut settings);
    spawn_with(settings, dir, Some(ADMIN_TOKEN)).await
}

fn kind(problem: &Value) -> &str {
    problem["type"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
}

/// SKUs `CO-1` and `CO-2` (10 each) and a cart holding 2 `CO-1` and 3 `CO-2`.
async fn two_line_cart(app: &TestApp) -> String {
    create_sku(app, "CO-1", 10).await;
    create_sku(app, "CO-2", 10).await;
    let cart = filled_cart(app, "CO-1", 2).await;
    json_body(add_line(app, &cart, "CO-2", 3).await, 200).await;
    cart
}

#[tokio::test]
async fn a_checkout_sells_the_held_stock_and_answers_the_paid_order() {
    let app = spawn_app().await;
    let cart = two_line_cart(&app).await;
    let res = checkout(&app, &cart, "co-key-1", "tok_ok").await;
    assert!(header(&res, "location").is_some_and(|l| l.starts_with("/v1/orders/ord_")));
    let order = json_body(res, 201).await;
    assert_eq!(order["status"], "paid");
    assert_eq!(order["email"], "shopper@example.com");
    assert_eq!(order["total"], eur(5 * 2500));
    assert_eq!(order["shipping_address"]["city"], "Springfield");
    assert_eq!(order["payment"]["captured"], true);
    assert!(order["created_at"].is_string());
    let lines = order["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        (lines[0]["sku"].as_str(), lines[0]["quantity"].as_u64()),
        (Some("CO-1"), Some(2))
    );
    assert_eq!(lines[1]["line_total"], eur(7500));
    let id = order["order_id"].as_str().unwrap();
    assert_eq!(
        json_body(app.get(&format!("/v1/orders/{id}")).await, 200).await,
        order
    );

    for (sku, sold) in [("CO-1", 2), ("CO-2", 3)] {
        let inv = inventory(&app, sku).await;
        assert_conserved(&inv);
        assert_eq!(
            (inv["sold"].as_u64(), inv["reserved"].as_u64()),
            (Some(sold), Some(0))
        );
    }
    let cart_view = get_cart(&app, &cart).await;
    assert_eq!(cart_view["status"], "checked_out");
    assert_eq!(cart_view["order_id"], order["order_id"]);
}

#[tokio::test]
async fn a_checked_out_cart_replays_its_key_and_refuses_everything_else() {
    let app = spawn_app().await;
    let cart = two_line_cart(&app).await;
    let order = json_body(checkout(&app, &cart, "co-key-1", "tok_ok").await, 201).await;
    // The same key again: the same order, nothing sold twice.
    let again = checkout(&app, &cart, "co-key-1", "tok_ok").await;
    assert_eq!(
        header(&again, "idempotent-replayed").as_deref(),
        Some("true")
    );
    assert_eq!(json_body(again, 201).await["order_id"], order["order_id"]);
    assert_eq!(inventory(&app, "CO-1").await["sold"], 2);
    // Another key on a checked-out cart: 409, and the cart is frozen.
    let body = assert_problem(checkout(&app, &cart, "co-key-2", "tok_ok").await, 409).await;
    assert_eq!(kind(&body), "cart-checked-out");
    assert_eq!(body["order_id"], order["order_id"]);
    assert_problem(add_line(&app, &cart, "CO-1", 1).await, 409).await;
    // The same key with another body is refused.
    let res = app
        .request(Method::POST, &format!("/v1/carts/{cart}/checkout"))
        .header("Idempotency-Key", "co-key-1")
        .json(&json!({"email": "other@example.com", "payment_token": "tok_ok"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        kind(&assert_problem(res, 422).await),
        "idempotency-key-reused"
    );
}

#[tokio::test]
async fn a_declined_card_is_402_and_keeps_the_cart_and_its_stock() {
    let app = spawn_app().await;
    create_sku(&app, "DEC-1", 5).await;
    let cart = filled_cart(&app, "DEC-1", 2).await;
    let body = assert_problem(checkout(&app, &cart, "dec-1", "tok_decline").await, 402).await;
    assert_eq!(kind(&body), "payment-declined");
    let view = get_cart(&app, &cart).await;
    assert_eq!(view["status"], "open");
    assert_eq!(view["lines"][0]["status"], "held");
    let inv = inventory(&app, "DEC-1").await;
    assert_eq!(
        (inv["reserved"].as_u64(), inv["sold"].as_u64()),
        (Some(2), Some(0))
    );
    // Another card works, and the stock was there all along.
    let order = json_body(checkout(&app, &cart, "dec-2", "tok_ok").await, 201).await;
    assert_eq!(order["status"], "paid");
    assert_eq!(inventory(&app, "DEC-1").await["sold"], 2);
}

/// Checkout makes each hold last the checkout out; it must never cut a hold
/// short. A declined card reopens the cart with its lines' expiries, and
/// the stock must stay held that long (here the cart's 900 s, not the
/// checkout's 300 s).
#[tokio::test]
async fn a_declined_checkout_leaves_every_hold_as_long_as_the_cart_says() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut settings = test_settings(dir.path());
    settings.cart.reservation_ttl_secs = 900;
    settings.cart.checkout_hold_secs = 300;
    let app = spawn_with(settings, dir, Some(ADMIN_TOKEN)).await;
    create_sku(&app, "DEC-2", 5).await;
    let cart = filled_cart(&app, "DEC-2", 2).await;
    assert_problem(checkout(&app, &cart, "dec-3", "tok_decline").await, 402).await;
    // Past the checkout's hold, far from the cart's.
    app.advance(Duration::from_secs(400));
    let view = get_cart(&app, &cart).await;
    assert_eq!(view["lines"][0]["status"], "held");
    stays(
        || inventory(&app, "DEC-2"),
        |inv| inv["reserved"] == 2, // the cart says held, so the stock is
    )
    .await;
    let order = json_body(checkout(&app, &cart, "dec-4", "tok_ok").await, 201).await;
    assert_eq!(order["status"], "paid");
}

#[tokio::test]
async fn a_gateway_timeout_is_503_with_retry_after_and_the_stock_stays_held() {
    let app = impatient_app(|_| {}).await;
    create_sku(&app, "TMO-1", 5).await;
    let cart = filled_cart(&app, "TMO-1", 1).await;
    let started = Instant::now();
    let res = checkout(&app, &cart, "tmo-1", "tok_timeout").await;
    assert!(header(&res, "retry-after").is_some(), "Retry-After missing");
    let body = assert_problem(res, 503).await;
    assert!(kind(&body).starts_with("payment-"), "{body}");
    // Two attempts of 100 ms plus a short backoff: bounded, not hung.
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(get_cart(&app, &cart).await["status"], "open");
    assert_eq!(inventory(&app, "TMO-1").await["reserved"], 1);
    let order = json_body(checkout(&app, &cart, "tmo-2", "tok_ok").await, 201).await;
    assert_eq!(order["status"], "paid");
}

#[tokio::test]
async fn a_failing_gateway_opens_the_circuit_then_recovers() {
    let app = impatient_app(|s| {
        s.payment.retries = 0;
        s.payment.breaker_failures = 2;
        s.payment.breaker_open_secs = 1;
    })
    .await;
    create_sku(&app, "BRK-1", 5).await;
    let cart = filled_cart(&app, "BRK-1", 1).await;
    for attempt in 0..2 {
        let res = checkout(&app, &cart, &format!("brk-{attempt}"), "tok_error").await;
        assert_problem(res, 503).await;
    }
    // Open: even a good card is refused at once, without calling the gateway.
    let started = Instant::now();
    let res = checkout(&app, &cart, "brk-open", "tok_ok").await;
    let retry_after = header(&res, "retry-after").expect("Retry-After");
    assert!(
        retry_after.parse::<u64>().is_ok_and(|s| s >= 1),
        "{retry_after}"
    );
    let body = assert_problem(res, 503).await;
    assert_eq!(kind(&body), "payment-unavailable");
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(inventory(&app, "BRK-1").await["reserved"], 1);
    // After the open period a probe goes through and closes the circuit.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let order = json_body(checkout(&app, &cart, "brk-ok", "tok_ok").await, 201).await;
    assert_eq!(order["status"], "paid");
}

#[tokio::test]
async fn concurrent_checkouts_for_the_last_unit_sell_it_exactly_once() {
    let app = Arc::new(spawn_app().await);
    create_sku(&app, "LAST-1", 6).await;
    // Six carts each hold a unit, their holds lapse, and the stock is then
    // counted down to one: at checkout every cart must take its unit again,
    // and only one can.
    let mut carts = Vec::new();
    for _ in 0..6 {
        carts.push(filled_cart(&app, "LAST-1", 1).await);
    }
    let ttl = app.settings.cart.reservation_ttl_secs;
    app.advance(Duration::from_secs(ttl + 1));
    eventually(|| inventory(&app, "LAST-1"), |inv| inv["reserved"] == 0).await;
    let res = app
        .admin(Method::PUT, "/v1/admin/skus/LAST-1/stock")
        .json(&json!({"stocked": 1}))
        .send()
        .await
        .unwrap();
    json_body(res, 200).await;
    let tasks: Vec<_> = carts
        .iter()
        .enumerate()
        .map(|(n, cart)| {
            let (app, cart) = (app.clone(), cart.clone());
            tokio::spawn(async move {
                checkout(&app, &cart, &format!("last-{n}"), "tok_ok")
                    .await
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    let won = statuses.iter().filter(|&&s| s == 201).count();
    assert_eq!(won, 1, "statuses: {statuses:?}");
    assert!(
        statuses.iter().all(|&s| s == 201 || s == 409),
        "{statuses:?}"
    );
    let inv = inventory(&app, "LAST-1").await;
    assert_conserved(&inv);
    assert_eq!(
        (inv["sold"].as_u64(), inv["available"].as_u64()),
        (Some(1), Some(0))
    );
}

#[tokio::test]
async fn checkout_refuses_empty_carts_and_bad_requests() {
    let app = spawn_app().await;
    create_sku(&app, "BAD-1", 5).await;
    let empty = new_cart(&app, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        kind(&assert_problem(checkout(&app, &empty, "e-1", "tok_ok").await, 422).await),
        "cart-empty"
    );
    let cart = filled_cart(&app, "BAD-1", 1).await;
    let res = app
        .request(Method::POST, &format!("/v1/carts/{cart}/checkout"))
        .json(&json!({"email": "a@b.co", "payment_token": "tok_ok"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        kind(&assert_problem(res, 400).await),
        "idempotency-key-required"
    );
    for body in [
        json!({"email": "not-an-email", "payment_token": "tok_ok"}),
        json!({"email": "a@b.co", "payment_token": "4242424242424242"}),
        json!({"email": "a@b.co", "payment_token": "tok_ok", "shipping_address": "a string"}),
    ] {
        let res = app
            .request(Method::POST, &format!("/v1/carts/{cart}/checkout"))
            .header("Idempotency-Key", "bad-1")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_problem(res, 400).await;
    }
    // Nothing happened to the cart or the stock.
    assert_eq!(get_cart(&app, &cart).await["status"], "open");
    assert_eq!(inventory(&app, "BAD-1").await["reserved"], 1);
}
