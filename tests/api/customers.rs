//! Verified buyers: with `customers.token_secret` set, storefront writes
//! need a customer token (HS256 JWT from the merchant's site), act for its
//! `sub`, and carts and orders are their own customer's only. Without it,
//! the body names the customer as before.

use crate::helpers::{
    assert_problem, header, json_body, spawn_app, spawn_with, test_settings, TestApp, ADMIN_TOKEN,
};
use crate::inventory::{create_sku, inventory};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use surge::config::Secret;

pub const SECRET: &str = "the-merchant-site-signs-with-this-secret";

/// A server with customer tokens on.
pub async fn spawn_with_tokens(edit: impl FnOnce(&mut surge::config::Settings)) -> TestApp {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut settings = test_settings(dir.path());
    settings.customers.token_secret = Secret::new(SECRET);
    edit(&mut settings);
    spawn_with(settings, dir, Some(ADMIN_TOKEN)).await
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A token as the merchant's site mints it: `sub`, `exp` `ttl_secs` away.
pub fn token(sub: &str, ttl_secs: i64) -> String {
    signed(json!({"sub": sub, "exp": now_secs() + ttl_secs}), SECRET)
}

fn signed(claims: Value, secret: &str) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// A storefront write, with the bearer token if one is given.
fn write(app: &TestApp, path: &str, token: Option<&str>) -> RequestBuilder {
    let request = app.request(Method::POST, path);
    match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
}

async fn buy(app: &TestApp, sku: &str, key: &str, token: Option<&str>, body: Value) -> Response {
    write(app, &format!("/v1/skus/{sku}/purchase"), token)
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn without_a_valid_token_a_purchase_is_401_and_changes_nothing() {
    let app = spawn_with_tokens(|_| {}).await;
    create_sku(&app, "VB-1", 5).await;
    let before = inventory(&app, "VB-1").await;
    // {"alg":"none"} with a far exp and no signature.
    let unsigned = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.\
                    eyJzdWIiOiJhbGljZSIsImV4cCI6NDEwMjQ0NDgwMH0.";
    let forged = signed(
        json!({"sub": "alice", "exp": now_secs() + 600}),
        "not-the-merchant-secret-but-just-as-long",
    );
    let expired = token("alice", -60);
    let no_exp = signed(json!({"sub": "alice"}), SECRET);
    let cases = [
        ("missing", None, "customer-token-required"),
        ("forged", Some(forged.as_str()), "customer-token-invalid"),
        ("expired", Some(expired.as_str()), "customer-token-expired"),
        ("alg none", Some(unsigned), "customer-token-invalid"),
        ("no exp", Some(no_exp.as_str()), "customer-token-invalid"),
        ("garbage", Some("abc.def.ghi"), "customer-token-invalid"),
    ];
    for (i, (what, token, code)) in cases.into_iter().enumerate() {
        let body = json!({"customer_id": "alice", "quantity": 1});
        let res = buy(&app, "VB-1", &format!("k{i}"), token, body).await;
        let challenge = header(&res, "www-authenticate").unwrap_or_default();
        assert!(
            challenge.starts_with("Bearer realm=\"surge\""),
            "{what}: {challenge}"
        );
        let problem = assert_problem(res, 401).await;
        assert!(
            problem["type"].as_str().unwrap().ends_with(code),
            "{what}: {problem}"
        );
    }
    assert_eq!(inventory(&app, "VB-1").await, before);
}

#[tokio::test]
async fn a_valid_token_buys_for_its_sub_and_a_body_naming_another_is_403() {
    let app = spawn_with_tokens(|_| {}).await;
    create_sku(&app, "VB-2", 5).await;
    let alice = token("alice", 600);
    let res = buy(&app, "VB-2", "a1", Some(&alice), json!({"quantity": 1})).await;
    let order = json_body(res, 201).await;
    assert_eq!(order["customer_id"], "alice");
    let same = json!({"customer_id": "alice", "quantity": 1});
    let order = json_body(buy(&app, "VB-2", "a2", Some(&alice), same).await, 201).await;
    assert_eq!(order["customer_id"], "alice");

    let before = inventory(&app, "VB-2").await;
    let other = json!({"customer_id": "bob", "quantity": 1});
    let problem = assert_problem(buy(&app, "VB-2", "a3", Some(&alice), other).await, 403).await;
    assert!(problem["type"]
        .as_str()
        .unwrap()
        .ends_with("customer-mismatch"));
    assert_eq!(inventory(&app, "VB-2").await, before);
    assert_eq!(before["reserved"], 2);

    // Admin and operations routes do not want a customer token.
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/v1/skus/VB-2").await.status(), 200);
}

#[tokio::test]
async fn a_token_expires_on_the_servers_clock() {
    let app = spawn_with_tokens(|_| {}).await;
    create_sku(&app, "VB-3", 5).await;
    let alice = token("alice", 60);
    let res = buy(&app, "VB-3", "e1", Some(&alice), json!({"quantity": 1})).await;
    assert_eq!(res.status(), 201);
    app.advance(Duration::from_secs(120));
    let res = buy(&app, "VB-3", "e2", Some(&alice), json!({"quantity": 1})).await;
    let problem = assert_problem(res, 401).await;
    assert!(problem["type"]
        .as_str()
        .unwrap()
        .ends_with("customer-token-expired"));
}

#[tokio::test]
async fn another_customers_cart_or_order_is_not_found() {
    let app = spawn_with_tokens(|_| {}).await;
    create_sku(&app, "VB-4", 5).await;
    let (alice, bob) = (token("alice", 600), token("bob", 600));

    let res = write(&app, "/v1/carts", Some(&alice))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let cart = json_body(res, 201).await;
    assert_eq!(cart["customer_id"], "alice");
    let cart = cart["id"].as_str().unwrap().to_owned();
    let line = json!({"sku": "VB-4", "quantity": 1});
    let lines = format!("/v1/carts/{cart}/lines");
    let res = write(&app, &lines, Some(&bob))
        .json(&line)
        .send()
        .await
        .unwrap();
    assert_problem(res, 404).await;
    let res = write(&app, &lines, Some(&alice))
        .json(&line)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let read = |token: Option<&str>, path: String| {
        let request = app.request(Method::GET, &path);
        let request = match token {
            Some(t) => request.bearer_auth(t),
            None => request,
        };
        async move { request.send().await.unwrap() }
    };
    assert_problem(read(Some(&bob), format!("/v1/carts/{cart}")).await, 404).await;
    assert_problem(read(None, format!("/v1/carts/{cart}")).await, 401).await;
    assert_eq!(
        read(Some(&alice), format!("/v1/carts/{cart}"))
            .await
            .status(),
        200
    );

    let res = buy(&app, "VB-4", "o1", Some(&alice), json!({"quantity": 1})).await;
    let order = json_body(res, 201).await;
    let order = order["order_id"].as_str().unwrap().to_owned();
    assert_problem(read(Some(&bob), format!("/v1/orders/{order}")).await, 404).await;
    let pay = write(&app, &format!("/v1/orders/{order}/pay"), Some(&bob))
        .header("Idempotency-Key", "bob-pays")
        .json(&json!({"payment_token": "tok_ok"}))
        .send()
        .await
        .unwrap();
    assert_problem(pay, 404).await;
    let cancel = write(&app, &format!("/v1/orders/{order}/cancel"), Some(&bob))
        .send()
        .await
        .unwrap();
    assert_problem(cancel, 404).await;
    let mine = json_body(read(Some(&alice), format!("/v1/orders/{order}")).await, 200).await;
    assert_eq!(mine["status"], "awaiting_payment");

    // A cart for someone else is refused too.
    let res = write(&app, "/v1/carts", Some(&alice))
        .json(&json!({"customer_id": "bob"}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 403).await;
}

#[tokio::test]
async fn with_tokens_off_the_body_names_the_customer_as_before() {
    let app = spawn_app().await;
    create_sku(&app, "VB-5", 5).await;
    // A stray Authorization header is not a customer token here.
    let body = json!({"customer_id": "carol", "quantity": 1});
    let res = buy(&app, "VB-5", "off-1", Some("whatever"), body).await;
    assert_eq!(json_body(res, 201).await["customer_id"], "carol");
    let res = buy(&app, "VB-5", "off-2", None, json!({"quantity": 1})).await;
    let problem = assert_problem(res, 400).await;
    assert_eq!(problem["errors"][0]["field"], "customer_id", "{problem}");
}

#[tokio::test]
async fn the_openapi_document_shows_the_customer_token_and_the_front_door_answers() {
    let app = spawn_with_tokens(|s| s.rate_limits.ip_writes_per_sec = 10.0).await;
    let doc = json_body(app.get("/openapi.json").await, 200).await;
    let scheme = &doc["components"]["securitySchemes"]["customer_token"];
    assert_eq!(scheme["scheme"], "bearer", "{scheme}");
    assert_eq!(scheme["bearerFormat"], "JWT", "{scheme}");
    let purchase = &doc["paths"]["/v1/skus/{sku}/purchase"]["post"];
    for status in ["401", "403", "429"] {
        assert!(
            purchase["responses"][status].is_object(),
            "{status}: {purchase}"
        );
    }
    let headers = &purchase["responses"]["429"]["headers"];
    for name in ["Retry-After", "RateLimit-Policy", "RateLimit"] {
        assert!(headers[name].is_object(), "{name}: {headers}");
    }
    assert_eq!(purchase["security"], json!([{"customer_token": []}]));
    let read = &doc["paths"]["/v1/products"]["get"];
    assert!(
        read["responses"]["429"].is_object() && read["security"].is_null(),
        "{read}"
    );
    let admin = &doc["paths"]["/v1/admin/orders"]["get"];
    assert!(admin["responses"]["429"].is_null(), "{admin}");

    // As configured by default (no tokens, no limits), none of it.
    let plain = spawn_app().await;
    let doc = json_body(plain.get("/openapi.json").await, 200).await;
    assert!(doc["components"]["securitySchemes"]["customer_token"].is_null());
    let purchase = &doc["paths"]["/v1/skus/{sku}/purchase"]["post"];
    for status in ["401", "429"] {
        assert!(
            purchase["responses"][status].is_null(),
            "{status}: {purchase}"
        );
    }
}
