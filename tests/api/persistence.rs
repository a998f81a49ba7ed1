//! Persistence across a restart of the real server on the same store:
//! created, replaced and archived products read back exactly as before.

use crate::helpers::{
    assert_problem, catalog_state, header, json_body, list_all, product_body, spawn_app,
    try_spawn_with,
};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn a_created_product_reads_the_same_after_a_restart_with_the_same_etag() {
    let app = spawn_app().await;
    let created = app
        .created(&product_body("kept", &["KEPT-1", "KEPT-2"]))
        .await;
    let res = app.get("/v1/products/kept").await;
    let etag = header(&res, "etag").expect("ETag");
    let body = res.text().await.unwrap();
    let sku_before = app.get("/v1/skus/KEPT-2").await.text().await.unwrap();

    let app = app.restart().await;
    let res = app.get("/v1/products/kept").await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "etag").as_deref(), Some(etag.as_str()));
    assert_eq!(
        res.text().await.unwrap(),
        body,
        "the body changed across a restart"
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        created
    );
    assert_eq!(
        app.get("/v1/skus/KEPT-2").await.text().await.unwrap(),
        sku_before
    );
    let res = app
        .request(Method::GET, "/v1/products/kept")
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        304,
        "a cached copy stays valid across a restart"
    );
}

#[tokio::test]
async fn the_whole_catalog_reads_the_same_after_a_restart() {
    let app = spawn_app().await;
    for i in 0..5 {
        let id = format!("p{i}");
        app.created(&product_body(&id, &[&format!("S{i}")])).await;
    }
    let probe = ["/v1/products/p0", "/v1/skus/S4", "/v1/products/none"];
    let before = catalog_state(&app, &probe).await;
    let app = app.restart().await;
    assert_eq!(catalog_state(&app, &probe).await, before);
}

#[tokio::test]
async fn a_replaced_product_keeps_its_new_definition_and_etag_after_a_restart() {
    let app = spawn_app().await;
    app.created(&product_body("edited", &["ED-1", "ED-2"]))
        .await;
    let mut body = product_body("edited", &["ED-1"]);
    body["title"] = json!("Edited");
    body["variants"][0].as_object_mut().unwrap().remove("stock");
    let res = app
        .admin(Method::PUT, "/v1/admin/products/edited")
        .json(&body)
        .send()
        .await
        .unwrap();
    let etag = header(&res, "etag").expect("ETag");
    let replaced = json_body(res, 200).await;

    let app = app.restart().await;
    let res = app.get("/v1/products/edited").await;
    assert_eq!(header(&res, "etag").as_deref(), Some(etag.as_str()));
    assert_eq!(json_body(res, 200).await, replaced);
    assert_problem(app.get("/v1/skus/ED-2").await, 410).await;
    // The dropped SKU still belongs to its product after the restart.
    assert_problem(
        app.create_product(&product_body("other", &["ED-2"])).await,
        409,
    )
    .await;
    // And If-Match still works with the ETag read before the restart.
    let res = app
        .admin(Method::PUT, "/v1/admin/products/edited")
        .header("If-Match", &etag)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn an_archived_product_stays_archived_after_a_restart() {
    let app = spawn_app().await;
    app.created(&product_body("gone", &["GONE-1"])).await;
    app.created(&product_body("kept", &["KEPT-1"])).await;
    let res = app
        .admin(Method::DELETE, "/v1/admin/products/gone")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);

    let app = app.restart().await;
    assert_problem(app.get("/v1/products/gone").await, 410).await;
    assert_problem(app.get("/v1/skus/GONE-1").await, 410).await;
    let listed = json_body(app.get("/v1/products").await, 200).await;
    let ids: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["kept"]);
    assert_problem(
        app.create_product(&product_body("new", &["GONE-1"])).await,
        409,
    )
    .await;
    assert_problem(
        app.create_product(&product_body("gone", &["NEW-1"])).await,
        409,
    )
    .await;
}

#[tokio::test]
async fn a_stopped_store_can_be_reopened_at_once() {
    let mut app = spawn_app().await;
    for cycle in 0..100 {
        let id = format!("c{cycle}");
        app.created(&product_body(&id, &[&format!("C-{cycle}")]))
            .await;
        let token = app.admin_token.clone();
        let (settings, dir) = app.stop().await;
        app = try_spawn_with(settings, dir, Some(&token))
            .await
            .unwrap_or_else(|e| panic!("cycle {cycle}: the stopped store is still locked: {e}"));
    }
    assert_eq!(list_all(&app, 100, "").await.len(), 100);
}
