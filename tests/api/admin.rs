//! Admin catalog writes: create, replace with `If-Match`, archive; conflicts
//! on ids and SKUs leave the catalog exactly as it was.

use crate::helpers::{
    assert_problem, catalog_state, header, json_body, list_all, product_body, spawn_app, TestApp,
};
use reqwest::{Method, Response};
use serde_json::{json, Value};

async fn put(app: &TestApp, id: &str, body: &Value, if_match: Option<&str>) -> Response {
    let mut req = app
        .admin(Method::PUT, &format!("/v1/admin/products/{id}"))
        .json(body);
    if let Some(tag) = if_match {
        req = req.header("If-Match", tag);
    }
    req.send().await.expect("request")
}

async fn archive(app: &TestApp, id: &str) -> Response {
    app.admin(Method::DELETE, &format!("/v1/admin/products/{id}"))
        .send()
        .await
        .expect("request")
}

async fn etag_of(app: &TestApp, id: &str) -> String {
    let res = app.get(&format!("/v1/products/{id}")).await;
    assert_eq!(res.status(), 200);
    header(&res, "etag").expect("ETag")
}

#[tokio::test]
async fn creating_a_product_returns_201_with_its_body_location_and_etag() {
    let app = spawn_app().await;
    let res = app
        .create_product(&product_body("shirt", &["SH-S", "SH-M"]))
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(
        header(&res, "location").as_deref(),
        Some("/v1/products/shirt")
    );
    let etag = header(&res, "etag").expect("ETag");
    assert!(header(&res, "content-type")
        .unwrap()
        .starts_with("application/json"));
    let created: Value = res.json().await.unwrap();

    let res = app.get("/v1/products/shirt").await;
    assert_eq!(header(&res, "etag").as_deref(), Some(etag.as_str()));
    assert_eq!(json_body(res, 200).await, created);
    assert_eq!(created["variants"][1]["sku"], "SH-M");
    assert_eq!(ids(&list_all(&app, 100, "").await), ["shirt"]);
}

#[tokio::test]
async fn creating_a_product_without_an_id_generates_one() {
    let app = spawn_app().await;
    let mut body = product_body("ignored", &["GEN-1"]);
    body.as_object_mut().unwrap().remove("id");
    let res = app.create_product(&body).await;
    assert_eq!(res.status(), 201);
    let location = header(&res, "location").expect("Location");
    let created = json_body(res, 201).await;
    let id = created["id"].as_str().expect("generated id");
    assert!(!id.is_empty() && id != "ignored", "{id}");
    assert_eq!(location, format!("/v1/products/{id}"));
    assert_eq!(json_body(app.get(&location).await, 200).await, created);
    let sku = json_body(app.get("/v1/skus/GEN-1").await, 200).await;
    assert_eq!(sku["product_id"], id);

    // A second product without an id gets a different one.
    let mut other = product_body("ignored", &["GEN-2"]);
    other.as_object_mut().unwrap().remove("id");
    let second = json_body(app.create_product(&other).await, 201).await;
    assert_ne!(second["id"], created["id"]);
}

#[tokio::test]
async fn creating_a_product_with_a_sku_of_another_product_returns_409_and_changes_nothing() {
    let app = spawn_app().await;
    app.created(&product_body("first", &["DUP-1"])).await;
    let probe = ["/v1/products/second", "/v1/skus/DUP-1", "/v1/skus/NEW-1"];
    let before = catalog_state(&app, &probe).await;

    let res = app
        .create_product(&product_body("second", &["NEW-1", "DUP-1"]))
        .await;
    let problem = assert_problem(res, 409).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("DUP-1"),
        "{problem}"
    );

    assert_eq!(catalog_state(&app, &probe).await, before);
    assert_problem(app.get("/v1/skus/NEW-1").await, 404).await;
    assert_problem(app.get("/v1/products/second").await, 404).await;
}

#[tokio::test]
async fn creating_a_product_with_a_repeated_sku_in_its_body_returns_409_and_changes_nothing() {
    let app = spawn_app().await;
    let probe = ["/v1/products/twice", "/v1/skus/TW-1"];
    let before = catalog_state(&app, &probe).await;
    let res = app
        .create_product(&product_body("twice", &["TW-1", "TW-1"]))
        .await;
    assert_problem(res, 409).await;
    assert_eq!(catalog_state(&app, &probe).await, before);
    assert_problem(app.get("/v1/products/twice").await, 404).await;
}

#[tokio::test]
async fn creating_a_product_with_an_existing_id_returns_409_and_changes_nothing() {
    let app = spawn_app().await;
    app.created(&product_body("same", &["SAME-1"])).await;
    let probe = ["/v1/products/same", "/v1/skus/SAME-1", "/v1/skus/SAME-2"];
    let before = catalog_state(&app, &probe).await;

    let mut body = product_body("same", &["SAME-2"]);
    body["title"] = json!("Another title");
    let problem = assert_problem(app.create_product(&body).await, 409).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("same"),
        "{problem}"
    );

    assert_eq!(catalog_state(&app, &probe).await, before);
}

#[tokio::test]
async fn replacing_a_product_returns_200_and_the_change_is_visible_with_a_new_etag() {
    let app = spawn_app().await;
    app.created(&product_body("shirt", &["SH-S"])).await;
    let old_etag = etag_of(&app, "shirt").await;

    let mut body = definition("shirt", &["SH-S", "SH-L"]);
    body["title"] = json!("Shirt, now in L");
    body["variants"][0]["price"] = json!({"amount": 2500, "currency": "EUR"});
    let res = put(&app, "shirt", &body, None).await;
    assert_eq!(res.status(), 200);
    let new_etag = header(&res, "etag").expect("ETag");
    assert_ne!(new_etag, old_etag);
    let replaced = json_body(res, 200).await;

    let res = app.get("/v1/products/shirt").await;
    assert_eq!(header(&res, "etag").as_deref(), Some(new_etag.as_str()));
    let read = json_body(res, 200).await;
    assert_eq!(read, replaced);
    assert_eq!(read["title"], "Shirt, now in L");
    assert_eq!(read["variants"][0]["price"]["amount"], 2500);
    assert_eq!(read["variants"][0]["available"], 10, "stock is kept");
    assert_eq!(read["variants"][1]["sku"], "SH-L");
    let sku = json_body(app.get("/v1/skus/SH-L").await, 200).await;
    assert_eq!(sku["product_id"], "shirt");
    let listed = list_all(&app, 100, "").await;
    assert_eq!(listed, [read]);
}

#[tokio::test]
async fn replacing_with_a_stale_if_match_returns_412_and_changes_nothing() {
    let app = spawn_app().await;
    app.created(&product_body("shirt", &["SH-S"])).await;
    let stale = etag_of(&app, "shirt").await;
    let mut first = definition("shirt", &["SH-S"]);
    first["title"] = json!("First edit");
    assert_eq!(put(&app, "shirt", &first, Some(&stale)).await.status(), 200);

    let probe = ["/v1/products/shirt", "/v1/skus/SH-S", "/v1/skus/SH-X"];
    let before = catalog_state(&app, &probe).await;
    let mut second = definition("shirt", &["SH-S", "SH-X"]);
    second["title"] = json!("Lost update");
    assert_problem(put(&app, "shirt", &second, Some(&stale)).await, 412).await;
    assert_problem(put(&app, "shirt", &second, Some("\"nonsense\"")).await, 412).await;
    assert_eq!(catalog_state(&app, &probe).await, before);
}

#[tokio::test]
async fn replacing_with_the_current_etag_returns_200() {
    let app = spawn_app().await;
    app.created(&product_body("shirt", &["SH-S"])).await;
    let mut body = definition("shirt", &["SH-S"]);
    for title in ["One", "Two", "Three"] {
        body["title"] = json!(title);
        let current = etag_of(&app, "shirt").await;
        let res = put(&app, "shirt", &body, Some(&current)).await;
        assert_eq!(json_body(res, 200).await["title"], title);
    }
    assert_eq!(put(&app, "shirt", &body, Some("*")).await.status(), 200);
}

#[tokio::test]
async fn replacing_an_unknown_or_archived_product_or_changing_its_id_is_refused() {
    let app = spawn_app().await;
    let res = put(&app, "ghost", &definition("ghost", &["GH-1"]), None).await;
    assert_problem(res, 404).await;
    assert_problem(app.get("/v1/skus/GH-1").await, 404).await;

    app.created(&product_body("shirt", &["SH-S"])).await;
    let before = catalog_state(&app, &["/v1/products/shirt", "/v1/products/other"]).await;
    // Both ids are valid; together they ask for the impossible: a 422.
    let res = put(&app, "shirt", &definition("other", &["SH-S"]), None).await;
    assert_problem(res, 422).await;
    assert_eq!(
        catalog_state(&app, &["/v1/products/shirt", "/v1/products/other"]).await,
        before
    );

    assert_eq!(archive(&app, "shirt").await.status(), 204);
    let res = put(&app, "shirt", &definition("shirt", &["SH-S"]), None).await;
    assert_problem(res, 410).await;
    assert_problem(app.get("/v1/products/shirt").await, 410).await;
}

#[tokio::test]
async fn replacing_a_product_with_a_sku_owned_by_another_product_returns_409_and_changes_nothing() {
    let app = spawn_app().await;
    json_body(app.create_product(&product_body("a", &["A-1"])).await, 201).await;
    json_body(app.create_product(&product_body("b", &["B-1"])).await, 201).await;
    let probe = [
        "/v1/products/a",
        "/v1/products/b",
        "/v1/skus/A-1",
        "/v1/skus/B-1",
    ];
    let before = catalog_state(&app, &probe).await;
    let res = put(&app, "b", &definition("b", &["B-1", "A-1"]), None).await;
    assert_problem(res, 409).await;
    assert_eq!(catalog_state(&app, &probe).await, before);
}

#[tokio::test]
async fn a_sku_dropped_by_a_replace_is_no_longer_sold_and_cannot_be_reused() {
    let app = spawn_app().await;
    app.created(&product_body("shirt", &["SH-S", "SH-M"])).await;
    let body = definition("shirt", &["SH-S"]);
    assert_eq!(put(&app, "shirt", &body, None).await.status(), 200);

    assert_problem(app.get("/v1/skus/SH-M").await, 410).await;
    let res = app.create_product(&product_body("thief", &["SH-M"])).await;
    assert_problem(res, 409).await;
    assert_problem(app.get("/v1/products/thief").await, 404).await;
}

#[tokio::test]
async fn archiving_a_product_returns_204_and_it_is_no_longer_listed_or_readable() {
    let app = spawn_app().await;
    app.created(&product_body("keep", &["KEEP-1"])).await;
    app.created(&product_body("gone", &["GONE-1"])).await;

    let res = archive(&app, "gone").await;
    assert_eq!(res.status(), 204);
    assert!(res.bytes().await.unwrap().is_empty());

    assert_eq!(ids(&list_all(&app, 100, "").await), ["keep"]);
    assert_eq!(ids(&list_all(&app, 1, "&category=things").await), ["keep"]);
    assert_problem(app.get("/v1/products/gone").await, 410).await;
    assert_problem(app.get("/v1/skus/GONE-1").await, 410).await;
    assert_eq!(
        json_body(app.get("/v1/skus/KEEP-1").await, 200).await["sku"],
        "KEEP-1"
    );

    // Archiving again is a no-op; an unknown product is a 404.
    assert_eq!(archive(&app, "gone").await.status(), 204);
    assert_problem(archive(&app, "never-was").await, 404).await;
}

#[tokio::test]
async fn a_sku_of_an_archived_product_cannot_be_reused_by_a_new_product() {
    let app = spawn_app().await;
    app.created(&product_body("old", &["REUSE-1"])).await;
    assert_eq!(archive(&app, "old").await.status(), 204);

    let probe = ["/v1/products/new", "/v1/skus/REUSE-1"];
    let before = catalog_state(&app, &probe).await;
    let res = app.create_product(&product_body("new", &["REUSE-1"])).await;
    assert_problem(res, 409).await;
    assert_eq!(catalog_state(&app, &probe).await, before);

    // Nor can the archived product's id be taken again.
    let res = app.create_product(&product_body("old", &["OTHER-1"])).await;
    assert_problem(res, 409).await;
    assert_problem(app.get("/v1/skus/OTHER-1").await, 404).await;
}

/// A replacement definition: `product_body` without initial stock (stock of
/// an existing SKU changes through the inventory endpoints, not a replace).
fn definition(id: &str, skus: &[&str]) -> Value {
    let mut body = product_body(id, skus);
    for v in body["variants"].as_array_mut().unwrap() {
        v.as_object_mut().unwrap().remove("stock");
    }
    body
}

fn ids(items: &[Value]) -> Vec<&str> {
    items.iter().map(|p| p["id"].as_str().unwrap()).collect()
}
