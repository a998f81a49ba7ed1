//! The server keeps to what its OpenAPI document says a request may be
//! (`scripts/conformance.sh` checks the whole of it with schemathesis):
//! JSON bodies are objects whose integers may be written as any integral
//! number; an optional body may be `null`; a request that fits the
//! document but contradicts itself is a 422, not a 400; the limits the
//! document states are the configured ones.

use crate::helpers::{
    assert_problem, json_body, product_body, spawn_app, spawn_with, test_settings, TestApp,
};
use crate::inventory::{create_sku, inventory};
use reqwest::{Method, Response};
use serde_json::{json, Value};
use std::sync::Arc;

async fn send(app: &TestApp, method: Method, path: &str, body: &str) -> Response {
    app.admin(method, path)
        .header("Content-Type", "application/json")
        .header("Idempotency-Key", "contract-1")
        .body(body.to_owned())
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn a_body_is_an_object_and_its_integers_may_be_written_as_integral_numbers() {
    let app = spawn_app().await;
    create_sku(&app, "J-1", 5).await;
    // serde would read a struct from an array of its fields in order.
    for (path, array) in [
        ("/v1/skus/J-1/purchase", r#"["alice", 1]"#),
        ("/v1/carts", "[null, null]"),
        (
            "/v1/admin/products",
            r#"{"title": "T", "category": "c", "variants": [["J-2", "T", [1, "EUR"], 0]]}"#,
        ),
    ] {
        let problem = assert_problem(send(&app, Method::POST, path, array).await, 400).await;
        assert!(
            problem["detail"].as_str().unwrap().contains("sequence"),
            "{path}: {problem}"
        );
    }
    assert_eq!(inventory(&app, "J-1").await["available"], 5);
    assert_eq!(app.get("/v1/skus/J-2").await.status(), 404);
    // 2.0 is the integer 2 (JSON Schema says so); 2.5 is not an integer.
    let half = r#"{"customer_id": "alice", "quantity": 2.5}"#;
    assert_problem(
        send(&app, Method::POST, "/v1/skus/J-1/purchase", half).await,
        400,
    )
    .await;
    let whole = r#"{"customer_id": "alice", "quantity": 2.0}"#;
    let order = json_body(
        send(&app, Method::POST, "/v1/skus/J-1/purchase", whole).await,
        201,
    )
    .await;
    assert_eq!(order["quantity"], 2);
    assert_eq!(inventory(&app, "J-1").await["available"], 3);
}

#[tokio::test]
async fn an_optional_body_may_be_null() {
    let app = spawn_app().await;
    let cart = json_body(send(&app, Method::POST, "/v1/carts", "null").await, 201).await;
    assert_eq!(cart["currency"], "EUR");
    assert_eq!(cart["lines"], json!([]));
}

#[tokio::test]
async fn fields_that_fit_the_document_but_contradict_each_other_are_a_422() {
    let app = spawn_app().await;
    app.created(&product_body("mine", &["MINE-1"])).await;
    let before: Value = app.get("/v1/products/mine").await.json().await.unwrap();
    let mut other = product_body("theirs", &["MINE-1"]);
    other["variants"][0]
        .as_object_mut()
        .unwrap()
        .remove("stock");
    let res = send(
        &app,
        Method::PUT,
        "/v1/admin/products/mine",
        &other.to_string(),
    )
    .await;
    assert_eq!(
        assert_problem(res, 422).await["type"],
        "https://surge.dev/problems/id-mismatch"
    );
    let after: Value = app.get("/v1/products/mine").await.json().await.unwrap();
    assert_eq!(before, after);

    let sale = |starts: &str, ends: &str| {
        json!({"per_customer_limit": null, "starts_at": starts, "ends_at": ends}).to_string()
    };
    let backwards = sale("2030-01-02T00:00:00Z", "2030-01-01T00:00:00Z");
    let res = send(&app, Method::PUT, "/v1/admin/skus/MINE-1/sale", &backwards).await;
    let problem = assert_problem(res, 422).await;
    assert_eq!(problem["errors"][0]["field"], "ends_at", "{problem}");
    assert_eq!(
        inventory(&app, "MINE-1").await["sale"]["ends_at"],
        Value::Null
    );
    // A time before 1970 is a valid RFC 3339 time, long past.
    let long_open = sale("1969-07-20T20:17:00Z", "2999-01-01T00:00:00Z");
    let res = send(&app, Method::PUT, "/v1/admin/skus/MINE-1/sale", &long_open).await;
    assert_eq!(
        json_body(res, 200).await["sale"]["starts_at"],
        "1970-01-01T00:00:00.000Z"
    );
}

#[tokio::test]
async fn ids_a_url_cannot_carry_are_refused() {
    let app = spawn_app().await;
    for sku in [".", ".."] {
        let res = app.create_product(&product_body("dots", &[sku])).await;
        let problem = assert_problem(res, 400).await;
        assert_eq!(
            problem["errors"][0]["field"], "variants[0].sku",
            "{problem}"
        );
    }
    app.created(&product_body("dots", &["..."])).await;
    assert_eq!(app.get("/v1/skus/...").await.status(), 200);
}

#[tokio::test]
async fn the_stream_filter_is_bounded_as_sent() {
    let app = spawn_app().await;
    let repeated = vec!["A-1"; 101].join(",");
    let res = app.get(&format!("/v1/events/stream?skus={repeated}")).await;
    assert_eq!(assert_problem(res, 400).await["errors"][0]["field"], "skus");
}

#[tokio::test]
async fn the_served_document_states_the_configured_limits() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut settings = test_settings(dir.path());
    settings.inventory.purchase_quantity_max = 3;
    settings.cart.quantity_max = 4;
    settings.catalog.page_limit_max = 7;
    settings.catalog.page_limit_default = 5;
    let app = spawn_with(settings, dir, Some(crate::helpers::ADMIN_TOKEN)).await;
    let doc = json_body(app.get("/openapi.json").await, 200).await;
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["PurchaseBody"]["properties"]["quantity"]["maximum"],
        3
    );
    assert_eq!(
        schemas["AddLineBody"]["properties"]["quantity"]["maximum"],
        4
    );
    let limit = doc["paths"]["/v1/products"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .cloned()
        .unwrap();
    assert_eq!(limit["schema"]["maximum"], 7);
    // And they are the server's.
    assert_eq!(app.get("/v1/products?limit=7").await.status(), 200);
    assert_problem(app.get("/v1/products?limit=8").await, 400).await;
    create_sku(&app, "L-1", 10).await;
    let over = r#"{"customer_id": "alice", "quantity": 4}"#;
    assert_problem(
        send(&app, Method::POST, "/v1/skus/L-1/purchase", over).await,
        400,
    )
    .await;
    let at = r#"{"customer_id": "alice", "quantity": 3}"#;
    json_body(
        send(&app, Method::POST, "/v1/skus/L-1/purchase", at).await,
        201,
    )
    .await;
}
