//! Carts through HTTP: lines hold stock, limits and currencies are enforced,
//! holds expire and can be taken again, unsafe calls replay by key.

use crate::helpers::{
    assert_problem, eur, eventually, header, json_body, spawn_app, spawn_with, test_settings,
    TestApp, ADMIN_TOKEN,
};
use crate::inventory::{assert_conserved, create_sku, inventory};
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

pub async fn new_cart(app: &TestApp, body: Value) -> Value {
    let res = app
        .request(Method::POST, "/v1/carts")
        .json(&body)
        .send()
        .await
        .unwrap();
    json_body(res, 201).await
}

pub async fn add_line(app: &TestApp, cart: &str, sku: &str, quantity: u64) -> reqwest::Response {
    app.request(Method::POST, &format!("/v1/carts/{cart}/lines"))
        .json(&json!({"sku": sku, "quantity": quantity}))
        .send()
        .await
        .unwrap()
}

pub async fn get_cart(app: &TestApp, cart: &str) -> Value {
    json_body(app.get(&format!("/v1/carts/{cart}")).await, 200).await
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn a_new_cart_is_empty_in_the_default_currency_with_an_unguessable_id() {
    let app = spawn_app().await;
    let cart = new_cart(&app, json!({})).await;
    assert_eq!(cart["currency"], "EUR");
    assert_eq!(cart["status"], "open");
    assert_eq!(cart["lines"], json!([]));
    assert_eq!(cart["subtotal"], json!({"amount": 0, "currency": "EUR"}));
    let cart_id = id(&cart);
    let hex = cart_id.strip_prefix("cart_").expect("cart_ prefix");
    assert_eq!(hex.len(), 32, "128 bits: {cart_id}");
    assert_ne!(cart_id, id(&new_cart(&app, json!({})).await));
    let with = new_cart(&app, json!({"currency": "USD", "customer_id": "alice"})).await;
    assert_eq!(with["currency"], "USD");
    assert_eq!(with["customer_id"], "alice");
    assert_eq!(get_cart(&app, &id(&with)).await, with);
}

/// SKUs `TEE-1` (10 in stock) and `MUG-1` (5 in stock), and an empty cart.
async fn stocked_cart(app: &TestApp) -> String {
    create_sku(app, "TEE-1", 10).await;
    create_sku(app, "MUG-1", 5).await;
    id(&new_cart(app, json!({})).await)
}

/// Adds 2 then 1 `TEE-1` and all 5 `MUG-1` to `cart`; the cart after.
async fn fill(app: &TestApp, cart: &str) -> Value {
    json_body(add_line(app, cart, "TEE-1", 2).await, 200).await;
    json_body(add_line(app, cart, "TEE-1", 1).await, 200).await;
    json_body(add_line(app, cart, "MUG-1", 5).await, 200).await
}

/// `(reserved, available)` of `sku`.
async fn held_and_available(app: &TestApp, sku: &str) -> (Option<u64>, Option<u64>) {
    let inv = inventory(app, sku).await;
    (inv["reserved"].as_u64(), inv["available"].as_u64())
}

#[tokio::test]
async fn a_line_holds_its_stock_and_shows_its_price() {
    let app = spawn_app().await;
    let cart = stocked_cart(&app).await;
    let after = json_body(add_line(&app, &cart, "TEE-1", 2).await, 200).await;
    let line = &after["lines"][0];
    assert_eq!(line["sku"], "TEE-1");
    assert_eq!(line["quantity"], 2);
    assert_eq!(line["unit_price"], eur(2500));
    assert_eq!(line["line_total"], eur(5000));
    assert_eq!(line["status"], "held");
    assert!(line["title"]
        .as_str()
        .is_some_and(|t| t.contains("Product TEE-1")));
    assert!(line["hold_expires_at"].is_string());
    assert_eq!(inventory(&app, "TEE-1").await["reserved"], 2);
}

#[tokio::test]
async fn lines_hold_stock_and_price_the_cart() {
    let app = spawn_app().await;
    let cart = stocked_cart(&app).await;
    // Adding the same SKU again adds to its line; another SKU is a new line.
    let after = fill(&app, &cart).await;
    assert_eq!(after["lines"].as_array().unwrap().len(), 2);
    assert_eq!(after["lines"][0]["quantity"], 3);
    assert_eq!(after["subtotal"], eur(8 * 2500));
    assert_eq!(held_and_available(&app, "TEE-1").await, (Some(3), Some(7)));
    assert_eq!(inventory(&app, "MUG-1").await["available"], 0);

    // More than is available: 409 with what is available, nothing changes.
    let body = assert_problem(add_line(&app, &cart, "TEE-1", 8).await, 409).await;
    assert!(
        body["type"].as_str().unwrap().ends_with("/sold-out"),
        "{body}"
    );
    assert_eq!(body["available"], 7);
    assert_eq!(inventory(&app, "TEE-1").await["reserved"], 3);
    assert_eq!(get_cart(&app, &cart).await["lines"][0]["quantity"], 3);
}

#[tokio::test]
async fn patching_and_deleting_lines_moves_and_releases_their_holds() {
    let app = spawn_app().await;
    let cart = stocked_cart(&app).await;
    fill(&app, &cart).await;
    // PATCH shrinks and grows the hold; DELETE releases it.
    let patch = |sku: &str, q: u64| {
        app.request(Method::PATCH, &format!("/v1/carts/{cart}/lines/{sku}"))
            .json(&json!({"quantity": q}))
            .send()
    };
    json_body(patch("TEE-1", 1).await.unwrap(), 200).await;
    assert_eq!(inventory(&app, "TEE-1").await["reserved"], 1);
    json_body(patch("TEE-1", 6).await.unwrap(), 200).await;
    assert_eq!(inventory(&app, "TEE-1").await["reserved"], 6);
    assert_problem(patch("TEE-1", 11).await.unwrap(), 409).await;
    assert_eq!(inventory(&app, "TEE-1").await["reserved"], 6);
    let res = app
        .request(Method::DELETE, &format!("/v1/carts/{cart}/lines/MUG-1"))
        .send()
        .await
        .unwrap();
    let after = json_body(res, 200).await;
    assert_eq!(after["lines"].as_array().unwrap().len(), 1);
    assert_eq!(held_and_available(&app, "MUG-1").await, (Some(0), Some(5)));
    // PATCH to 0 removes the line too.
    let after = json_body(patch("TEE-1", 0).await.unwrap(), 200).await;
    assert_eq!(after["lines"], json!([]));
    for sku in ["TEE-1", "MUG-1"] {
        let inv = inventory(&app, sku).await;
        assert_conserved(&inv);
        assert_eq!(inv["reserved"], 0);
    }
    // Lines that are not in the cart.
    assert_problem(patch("TEE-1", 1).await.unwrap(), 404).await;
}

#[tokio::test]
async fn limits_currency_and_unknown_things_are_refused_without_holding_stock() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut settings = test_settings(dir.path());
    settings.cart.lines_max = 2;
    settings.cart.quantity_max = 3;
    let app = spawn_with(settings, dir, Some(ADMIN_TOKEN)).await;
    for sku in ["A-1", "B-1", "C-1"] {
        create_sku(&app, sku, 10).await;
    }
    let cart = id(&new_cart(&app, json!({})).await);
    let body = assert_problem(add_line(&app, &cart, "A-1", 4).await, 422).await;
    assert!(
        body["type"]
            .as_str()
            .unwrap()
            .ends_with("/quantity-too-large"),
        "{body}"
    );
    json_body(add_line(&app, &cart, "A-1", 3).await, 200).await;
    // Growing past the per-line limit through repeated adds is refused too.
    assert_problem(add_line(&app, &cart, "A-1", 1).await, 422).await;
    json_body(add_line(&app, &cart, "B-1", 1).await, 200).await;
    let body = assert_problem(add_line(&app, &cart, "C-1", 1).await, 422).await;
    assert!(
        body["type"].as_str().unwrap().ends_with("/too-many-lines"),
        "{body}"
    );
    assert_eq!(inventory(&app, "C-1").await["reserved"], 0);

    let usd = id(&new_cart(&app, json!({"currency": "USD"})).await);
    let body = assert_problem(add_line(&app, &usd, "A-1", 1).await, 422).await;
    assert!(
        body["type"]
            .as_str()
            .unwrap()
            .ends_with("/currency-mismatch"),
        "{body}"
    );

    let body = assert_problem(add_line(&app, &cart, "NOPE-1", 1).await, 404).await;
    assert!(
        body["type"].as_str().unwrap().ends_with("/sku-not-found"),
        "{body}"
    );
    assert_problem(add_line(&app, &cart, "A-1", 0).await, 400).await;
    assert_problem(
        add_line(&app, "cart_00000000000000000000000000000000", "A-1", 1).await,
        404,
    )
    .await;
    assert_problem(app.get("/v1/carts/not-a-cart").await, 404).await;
    let res = app
        .request(Method::POST, "/v1/carts")
        .json(&json!({"currency": "euro"}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 400).await;
    let res = app
        .request(Method::POST, "/v1/carts")
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_problem(res, 400).await;
    assert_eq!(inventory(&app, "A-1").await["reserved"], 3);
}

#[tokio::test]
async fn an_expired_hold_marks_its_line_unavailable_and_a_later_add_holds_again() {
    let app = spawn_app().await;
    create_sku(&app, "EXP-1", 4).await;
    let cart = id(&new_cart(&app, json!({})).await);
    json_body(add_line(&app, &cart, "EXP-1", 3).await, 200).await;
    assert_eq!(inventory(&app, "EXP-1").await["reserved"], 3);

    let ttl = app.settings.cart.reservation_ttl_secs;
    app.advance(Duration::from_secs(ttl + 1));
    let view = get_cart(&app, &cart).await;
    assert_eq!(view["lines"][0]["status"], "unavailable");
    assert_eq!(
        view["lines"][0]["unavailable_reason"],
        "reservation-expired"
    );
    assert_eq!(view["subtotal"]["amount"], 0);
    let inv = eventually(|| inventory(&app, "EXP-1"), |inv| inv["reserved"] == 0).await;
    assert_eq!(
        (inv["reserved"].as_u64(), inv["available"].as_u64()),
        (Some(0), Some(4))
    );

    // Adding again holds the new quantity afresh (not on top of the lapsed one).
    let view = json_body(add_line(&app, &cart, "EXP-1", 2).await, 200).await;
    assert_eq!(view["lines"][0]["status"], "held");
    assert_eq!(view["lines"][0]["quantity"], 2);
    let inv = inventory(&app, "EXP-1").await;
    assert_conserved(&inv);
    assert_eq!(inv["reserved"], 2);
}

#[tokio::test]
async fn a_retried_add_with_the_same_key_adds_once_and_a_different_body_is_refused() {
    let app = spawn_app().await;
    create_sku(&app, "KEY-1", 10).await;
    let cart = id(&new_cart(&app, json!({})).await);
    let add = |key: &'static str, q: u64| {
        app.request(Method::POST, &format!("/v1/carts/{cart}/lines"))
            .header("Idempotency-Key", key)
            .json(&json!({"sku": "KEY-1", "quantity": q}))
            .send()
    };
    let first = json_body(add("add-1", 2).await.unwrap(), 200).await;
    let again = add("add-1", 2).await.unwrap();
    assert_eq!(
        header(&again, "idempotent-replayed").as_deref(),
        Some("true")
    );
    assert_eq!(json_body(again, 200).await["lines"], first["lines"]);
    assert_eq!(inventory(&app, "KEY-1").await["reserved"], 2);
    let body = assert_problem(add("add-1", 3).await.unwrap(), 422).await;
    assert!(
        body["type"]
            .as_str()
            .unwrap()
            .ends_with("/idempotency-key-reused"),
        "{body}"
    );
    assert_eq!(inventory(&app, "KEY-1").await["reserved"], 2);

    // A keyed create makes one cart however often it is retried.
    let create = || {
        app.request(Method::POST, "/v1/carts")
            .header("Idempotency-Key", "cart-key")
            .json(&json!({"customer_id": "bob"}))
            .send()
    };
    let one = json_body(create().await.unwrap(), 201).await;
    let two = create().await.unwrap();
    assert_eq!(header(&two, "idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(json_body(two, 201).await["id"], one["id"]);
}

#[tokio::test]
async fn a_cart_survives_a_restart_with_its_holds() {
    let app = spawn_app().await;
    create_sku(&app, "KEEP-1", 5).await;
    let cart = id(&new_cart(&app, json!({"customer_id": "carol"})).await);
    let before = json_body(add_line(&app, &cart, "KEEP-1", 2).await, 200).await;
    let app = app.restart().await;
    assert_eq!(get_cart(&app, &cart).await, before);
    assert_eq!(inventory(&app, "KEEP-1").await["reserved"], 2);
    // And it still works: the actor is activated from the store.
    json_body(add_line(&app, &cart, "KEEP-1", 1).await, 200).await;
    assert_eq!(inventory(&app, "KEEP-1").await["reserved"], 3);
}
