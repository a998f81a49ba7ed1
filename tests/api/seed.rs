//! The demo catalog in `data/catalog.json`: loaded on the first start of an
//! empty store, realistic in size and shape, and never loaded twice.

use crate::helpers::{json_body, list_all, spawn_with, test_settings, TestApp, ADMIN_TOKEN};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

async fn spawn_seeded() -> TestApp {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut settings = test_settings(dir.path());
    settings.catalog.seed_file =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/catalog.json");
    spawn_with(settings, dir, Some(ADMIN_TOKEN)).await
}

fn skus_of(products: &[Value]) -> Vec<&Value> {
    products
        .iter()
        .flat_map(|p| p["variants"].as_array().expect("variants"))
        .collect()
}

#[tokio::test]
async fn the_seeded_catalog_has_at_least_50_products_and_200_skus_in_several_categories() {
    let app = spawn_seeded().await;
    let products = list_all(&app, 100, "").await;
    assert!(products.len() >= 50, "only {} products", products.len());
    let skus = skus_of(&products);
    assert!(skus.len() >= 200, "only {} SKUs", skus.len());
    let categories: BTreeSet<&str> = products
        .iter()
        .map(|p| p["category"].as_str().unwrap())
        .collect();
    assert!(categories.len() > 1, "one category: {categories:?}");

    let unique: BTreeSet<&str> = skus.iter().map(|v| v["sku"].as_str().unwrap()).collect();
    assert_eq!(unique.len(), skus.len(), "a SKU appears twice");
    for v in &skus {
        let price = &v["price"];
        assert!(price["amount"].is_i64(), "not integer minor units: {v}");
        assert!(price["amount"].as_i64().unwrap() >= 0, "{v}");
        let currency = price["currency"].as_str().unwrap_or_default();
        assert!(
            currency.len() == 3 && currency.chars().all(|c| c.is_ascii_uppercase()),
            "{v}"
        );
    }
    let stocked = skus
        .iter()
        .filter(|v| v["available"].as_u64() > Some(0))
        .count();
    assert!(
        stocked * 2 > skus.len(),
        "most seeded SKUs should have stock"
    );

    // Every category filter lists exactly its share of the catalog.
    let mut total = 0;
    for category in &categories {
        let listed = list_all(&app, 100, &format!("&category={category}")).await;
        assert!(listed.iter().all(|p| p["category"] == *category));
        total += listed.len();
    }
    assert_eq!(total, products.len());

    // A seeded SKU reads on its own.
    let sku = skus[0]["sku"].as_str().unwrap();
    let read = json_body(app.get(&format!("/v1/skus/{sku}")).await, 200).await;
    assert_eq!(read["price"], skus[0]["price"]);
}

#[tokio::test]
async fn restarting_a_seeded_store_does_not_seed_again() {
    let app = spawn_seeded().await;
    let before = list_all(&app, 100, "").await;
    let app = app.restart().await;
    let after = list_all(&app, 100, "").await;
    assert_eq!(after.len(), before.len(), "the catalog was seeded twice");
    assert_eq!(skus_of(&after).len(), skus_of(&before).len());
    assert_eq!(after, before);

    // Nor after the demo catalog was edited: an archived product stays gone.
    let first = before[0]["id"].as_str().unwrap();
    let res = app
        .admin(
            reqwest::Method::DELETE,
            &format!("/v1/admin/products/{first}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let app = app.restart().await;
    let again = list_all(&app, 100, "").await;
    assert_eq!(again.len(), before.len() - 1);
    assert_eq!(
        app.get(&format!("/v1/products/{first}")).await.status(),
        410
    );
}
