//! Bad bodies: every malformed or invalid request body gets a 4xx
//! problem+json that says what was wrong, and the catalog is exactly as it
//! was before. (Bad routes, methods and paths: `bad_requests`.)

use crate::helpers::{assert_problem, catalog_state, json_body, product_body, spawn_app, TestApp};
use reqwest::{Method, Response};
use serde_json::{json, Value};

/// Paths whose answers must not change because of a rejected request.
const PROBE: &[&str] = &[
    "/v1/products/existing",
    "/v1/skus/EX-1",
    "/v1/products/fresh",
    "/v1/skus/FRESH-1",
];

/// A server holding one product, `existing` with SKU `EX-1`, and the
/// client-visible state to compare against after each bad request.
pub async fn app_with_one_product() -> (TestApp, Value) {
    let app = spawn_app().await;
    app.created(&product_body("existing", &["EX-1"])).await;
    let state = catalog_state(&app, PROBE).await;
    (app, state)
}

/// A valid create body for product `fresh` (SKU `FRESH-1`), to be spoiled.
fn fresh() -> Value {
    product_body("fresh", &["FRESH-1"])
}

async fn post_raw(app: &TestApp, content_type: &str, body: impl Into<reqwest::Body>) -> Response {
    app.admin(Method::POST, "/v1/admin/products")
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .expect("request")
}

/// Asserts a 400 problem whose `errors` name `field`, and returns the problem.
async fn assert_field_error(res: Response, field: &str) -> Value {
    let problem = assert_problem(res, 400).await;
    let errors = problem["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no per-field errors array: {problem}"));
    assert!(
        errors
            .iter()
            .any(|e| e["field"] == field && e["message"].as_str().is_some_and(|m| !m.is_empty())),
        "no error for {field}: {problem}"
    );
    problem
}

pub async fn assert_unchanged(app: &TestApp, before: &Value) {
    assert_eq!(
        &catalog_state(app, PROBE).await,
        before,
        "the catalog changed"
    );
}

#[tokio::test]
async fn malformed_json_returns_400_and_changes_nothing() {
    let (app, before) = app_with_one_product().await;
    for body in ["{", "{\"title\": }", "not json at all", "[1, 2", "", "null"] {
        let res = post_raw(&app, "application/json", body).await;
        assert_problem(res, 400).await;
    }
    assert_unchanged(&app, &before).await;
}

#[tokio::test]
async fn a_body_that_is_not_sent_as_json_returns_415_and_changes_nothing() {
    let (app, before) = app_with_one_product().await;
    let valid = fresh().to_string();
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/xml",
    ] {
        let res = post_raw(&app, content_type, valid.clone()).await;
        let problem = assert_problem(res, 415).await;
        assert!(problem["detail"]
            .as_str()
            .unwrap()
            .contains("application/json"));
    }
    let res = app
        .admin(Method::POST, "/v1/admin/products")
        .body(valid)
        .send()
        .await
        .unwrap();
    assert_problem(res, 415).await;
    assert_unchanged(&app, &before).await;
}

#[tokio::test]
async fn an_unknown_field_returns_400_naming_the_field_and_changes_nothing() {
    let (app, before) = app_with_one_product().await;
    let mut top = fresh();
    top["colour"] = json!("red");
    let mut nested = fresh();
    nested["variants"][0]["weight_grams"] = json!(120);
    let mut in_price = fresh();
    in_price["variants"][0]["price"]["cents"] = json!(1);
    for (body, field) in [
        (top, "colour"),
        (nested, "weight_grams"),
        (in_price, "cents"),
    ] {
        let problem = assert_problem(app.create_product(&body).await, 400).await;
        assert!(
            problem["detail"].as_str().unwrap().contains(field),
            "{field} not named: {problem}"
        );
    }
    assert_unchanged(&app, &before).await;
}

#[tokio::test]
async fn a_negative_price_returns_400_with_a_per_field_error_and_changes_nothing() {
    let (app, before) = app_with_one_product().await;
    let mut body = fresh();
    body["variants"][0]["price"]["amount"] = json!(-1);
    assert_field_error(app.create_product(&body).await, "variants[0].price").await;
    assert_unchanged(&app, &before).await;
}

#[tokio::test]
async fn oversized_or_fractional_numbers_return_400_and_change_nothing() {
    let (app, before) = app_with_one_product().await;
    let mut too_big = fresh();
    too_big["variants"][0]["price"]["amount"] = json!(1_000_000_000_001_i64);
    assert_field_error(app.create_product(&too_big).await, "variants[0].price").await;
    let mut too_much_stock = fresh();
    too_much_stock["variants"][0]["stock"] = json!(1_000_000_001_u64);
    assert_field_error(
        app.create_product(&too_much_stock).await,
        "variants[0].stock",
    )
    .await;

    let mut float = fresh();
    float["variants"][0]["price"]["amount"] = json!(19.99);
    let mut beyond_i64 = fresh();
    beyond_i64["variants"][0]["price"]["amount"] = json!(u64::MAX);
    let mut negative_stock = fresh();
    negative_stock["variants"][0]["stock"] = json!(-5);
    let mut string_amount = fresh();
    string_amount["variants"][0]["price"]["amount"] = json!("1999");
    for body in [float, beyond_i64, negative_stock, string_amount] {
        assert_problem(app.create_product(&body).await, 400).await;
    }
    let res = post_raw(
        &app,
        "application/json",
        fresh()
            .to_string()
            .replace("1999", "99999999999999999999999999999999"),
    )
    .await;
    assert_problem(res, 400).await;
    assert_unchanged(&app, &before).await;
}

#[tokio::test]
async fn an_unknown_currency_returns_400_with_a_per_field_error_and_changes_nothing() {
    let (app, before) = app_with_one_product().await;
    for currency in ["XYZ", "eur", "EURO", "", "€"] {
        let mut body = fresh();
        body["variants"][0]["price"]["currency"] = json!(currency);
        let problem =
            assert_field_error(app.create_product(&body).await, "variants[0].price").await;
        assert!(
            problem["detail"].as_str().unwrap().contains("ISO 4217"),
            "{problem}"
        );
    }
    assert_unchanged(&app, &before).await;
}

#[tokio::test]
async fn an_over_long_title_returns_400_with_a_per_field_error_and_changes_nothing() {
    let (app, before) = app_with_one_product().await;
    let mut body = fresh();
    body["title"] = json!("t".repeat(201));
    assert_field_error(app.create_product(&body).await, "title").await;
    let mut variant = fresh();
    variant["variants"][0]["title"] = json!("é".repeat(201));
    assert_field_error(app.create_product(&variant).await, "variants[0].title").await;
    let mut blank = fresh();
    blank["title"] = json!("   ");
    assert_field_error(app.create_product(&blank).await, "title").await;
    let mut long_id = fresh();
    long_id["id"] = json!("x".repeat(65));
    assert_field_error(app.create_product(&long_id).await, "id").await;
    let mut bad_sku = fresh();
    bad_sku["variants"][0]["sku"] = json!("A/B");
    assert_field_error(app.create_product(&bad_sku).await, "variants[0].sku").await;
    assert_unchanged(&app, &before).await;

    let mut ok = fresh();
    ok["title"] = json!("t".repeat(200));
    json_body(app.create_product(&ok).await, 201).await;
}

#[tokio::test]
async fn a_product_without_variants_returns_400_with_a_per_field_error_and_changes_nothing() {
    let (app, before) = app_with_one_product().await;
    let mut body = fresh();
    body["variants"] = json!([]);
    assert_field_error(app.create_product(&body).await, "variants").await;
    let mut missing = fresh();
    missing.as_object_mut().unwrap().remove("variants");
    assert_problem(app.create_product(&missing).await, 400).await;
    assert_unchanged(&app, &before).await;
}

#[tokio::test]
async fn every_invalid_field_is_reported_at_once() {
    let (app, before) = app_with_one_product().await;
    let body = json!({
        "id": "fresh", "title": "", "category": "c".repeat(65),
        "variants": [
            {"sku": "FRESH-1", "title": "ok", "price": {"amount": -5, "currency": "EUR"}},
            {"sku": "", "title": "ok", "price": {"amount": 5, "currency": "EUR"}}
        ]
    });
    let problem = assert_problem(app.create_product(&body).await, 400).await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for field in ["title", "category", "variants[0].price", "variants[1].sku"] {
        assert!(fields.contains(&field), "{field} missing from {fields:?}");
    }
    assert_unchanged(&app, &before).await;
}

#[tokio::test]
async fn a_body_over_the_limit_returns_413_and_changes_nothing() {
    let (app, before) = app_with_one_product().await;
    assert_eq!(app.settings.server.body_limit_bytes, 16 * 1024);
    let mut body = fresh();
    body["description"] = json!("d".repeat(17 * 1024));
    let problem = assert_problem(app.create_product(&body).await, 413).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("16384"),
        "{problem}"
    );
    let res = app
        .admin(Method::PUT, "/v1/admin/products/existing")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_problem(res, 413).await;
    assert_unchanged(&app, &before).await;
}

#[tokio::test]
async fn a_bad_replace_changes_nothing() {
    let (app, before) = app_with_one_product().await;
    let put = |body: String| {
        app.admin(Method::PUT, "/v1/admin/products/existing")
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };
    let mut negative = product_body("existing", &["EX-1"]);
    negative["variants"][0]["price"]["amount"] = json!(-1);
    assert_problem(put(negative.to_string()).await.unwrap(), 400).await;
    assert_problem(put("{".into()).await.unwrap(), 400).await;
    // Stock of an existing SKU is not a replace's business. The request
    // fits the document (a new SKU may come with stock): a 422, not a 400.
    let restock = product_body("existing", &["EX-1"]);
    let problem = assert_problem(put(restock.to_string()).await.unwrap(), 422).await;
    assert_eq!(
        problem["errors"][0]["field"], "variants[0].stock",
        "{problem}"
    );
    assert_unchanged(&app, &before).await;
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_returns_413_and_changes_nothing() {
    use std::io::{Read, Write};

    let (app, before) = app_with_one_product().await;
    let mut body = fresh();
    body["description"] = json!("d".repeat(20 * 1024));
    let body = body.to_string();
    let addr = app.address.trim_start_matches("http://").to_owned();
    let mut request = format!(
        "POST /v1/admin/products HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        app.admin_token
    );
    for chunk in body.as_bytes().chunks(4096) {
        request.push_str(&format!("{:x}\r\n", chunk.len()));
        request.push_str(std::str::from_utf8(chunk).unwrap());
        request.push_str("\r\n");
    }
    request.push_str("0\r\n\r\n");
    let response = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        // The server may answer and close before it has read everything.
        let _ = stream.write_all(request.as_bytes());
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        String::from_utf8_lossy(&response).into_owned()
    })
    .await
    .unwrap();
    assert!(response.starts_with("HTTP/1.1 413"), "{response:.300}");
    assert!(
        response
            .to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{response:.300}"
    );
    assert_unchanged(&app, &before).await;
}
