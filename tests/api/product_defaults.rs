//! A product needs only a title and one variant: `description`, `category`
//! and `attributes` take their defaults when absent, on create and on
//! replace; what is given is validated as ever.

use crate::bad_input::{app_with_one_product, assert_unchanged};
use crate::helpers::{assert_problem, json_body, list_all, TestApp};
use reqwest::{Method, Response};
use serde_json::{json, Value};

/// A definition with nothing but a title and one variant.
fn minimal(id: &str, sku: &str) -> Value {
    json!({
        "id": id,
        "title": "Plain tee",
        "variants": [{"sku": sku, "title": "One size", "price": {"amount": 1500, "currency": "EUR"}}]
    })
}

fn assert_defaults(product: &Value) {
    assert_eq!(product["description"], "", "{product}");
    assert_eq!(product["category"], "uncategorized", "{product}");
    assert_eq!(product["attributes"], json!({}), "{product}");
}

async fn put(app: &TestApp, id: &str, body: &Value) -> Response {
    app.admin(Method::PUT, &format!("/v1/admin/products/{id}"))
        .json(body)
        .send()
        .await
        .expect("request")
}

/// Asserts a 400 problem that names `field` among its per-field errors.
async fn assert_refused(res: Response, field: &str) {
    let problem = assert_problem(res, 400).await;
    let errors = problem["errors"].as_array().cloned().unwrap_or_default();
    assert!(
        errors.iter().any(|e| e["field"] == field),
        "no error for {field}: {problem}"
    );
}

#[tokio::test]
async fn a_product_with_only_a_title_and_one_variant_is_created_with_the_defaults() {
    let (app, _) = app_with_one_product().await;
    let created = app.created(&minimal("fresh", "FRESH-1")).await;
    assert_defaults(&created);
    assert_eq!(created["title"], "Plain tee");
    assert_eq!(
        json_body(app.get("/v1/products/fresh").await, 200).await,
        created
    );
    let sku = json_body(app.get("/v1/skus/FRESH-1").await, 200).await;
    assert_eq!(sku["available"], 0);
    // The default category is a category like any other for the listing.
    let listed = list_all(&app, 100, "&category=uncategorized").await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], "fresh");
}

#[tokio::test]
async fn a_replace_without_the_optional_fields_sets_their_defaults() {
    let (app, _) = app_with_one_product().await;
    let before = json_body(app.get("/v1/products/existing").await, 200).await;
    assert_eq!(before["category"], "things");
    let replaced = json_body(
        put(&app, "existing", &minimal("existing", "EX-1")).await,
        200,
    )
    .await;
    assert_defaults(&replaced);
    assert_eq!(
        json_body(app.get("/v1/products/existing").await, 200).await,
        replaced
    );
}

#[tokio::test]
async fn given_optional_fields_are_still_validated_and_a_refusal_changes_nothing() {
    let (app, before) = app_with_one_product().await;
    for (field, value) in [
        ("category", json!("")),
        ("category", json!("  ")),
        ("category", json!("c".repeat(65))),
        ("description", json!("d".repeat(5_001))),
        ("attributes", json!({"": "x"})),
    ] {
        let mut body = minimal("fresh", "FRESH-1");
        body[field] = value.clone();
        let field_named = if field == "attributes" {
            "attributes."
        } else {
            field
        };
        assert_refused(app.create_product(&body).await, field_named).await;
        let mut replace = minimal("existing", "EX-1");
        replace[field] = value;
        assert_refused(put(&app, "existing", &replace).await, field_named).await;
    }
    // Wrong types and null are not taken for "absent".
    for (field, value) in [
        ("category", json!(null)),
        ("category", json!(7)),
        ("description", json!(["a"])),
        ("attributes", json!({"k": 1})),
    ] {
        let mut body = minimal("fresh", "FRESH-1");
        body[field] = value;
        assert_problem(app.create_product(&body).await, 400).await;
    }
    // The two required fields stay required.
    for field in ["title", "variants"] {
        let mut body = minimal("fresh", "FRESH-1");
        body.as_object_mut().expect("object").remove(field);
        assert_problem(app.create_product(&body).await, 400).await;
    }
    assert_unchanged(&app, &before).await;
}
