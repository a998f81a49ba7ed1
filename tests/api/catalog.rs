//! Public catalog reads: cursor pagination, category filter, the exact JSON
//! shapes of a product and a SKU, 404/410 problems, and HTTP caching.

use crate::helpers::{
    assert_problem, header, json_body, list_all, product_body, spawn_app, TestApp,
};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// Creates products `p-00` .. `p-{n-1}`, each with one SKU `S-<i>`, in `category`.
async fn create_products(app: &TestApp, n: usize, category: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let id = format!("{category}-{i:02}");
        let mut body = product_body(&id, &[&format!("S-{id}")]);
        body["category"] = json!(category);
        json_body(app.create_product(&body).await, 201).await;
        ids.push(id);
    }
    ids
}

fn ids_of(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|p| p["id"].as_str().expect("id").to_owned())
        .collect()
}

fn keys_of(v: &Value) -> BTreeSet<&str> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect()
}

#[tokio::test]
async fn listing_pages_through_every_product_exactly_once_and_ends_with_a_null_cursor() {
    let app = spawn_app().await;
    let created = create_products(&app, 7, "things").await;

    let first = json_body(app.get("/v1/products?limit=3").await, 200).await;
    assert_eq!(first["items"].as_array().unwrap().len(), 3);
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a cursor after page 1");
    let second = json_body(
        app.get(&format!("/v1/products?limit=3&cursor={cursor}"))
            .await,
        200,
    )
    .await;
    assert_eq!(second["items"].as_array().unwrap().len(), 3);
    let cursor = second["next_cursor"]
        .as_str()
        .expect("a cursor after page 2");
    let third = json_body(
        app.get(&format!("/v1/products?limit=3&cursor={cursor}"))
            .await,
        200,
    )
    .await;
    assert_eq!(third["items"].as_array().unwrap().len(), 1);
    assert_eq!(third["next_cursor"], Value::Null, "{third}");

    for limit in [1, 2, 3, 6, 7, 100] {
        let seen = ids_of(&list_all(&app, limit, "").await);
        let unique: BTreeSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "limit {limit}: repeated {seen:?}");
        assert_eq!(
            unique,
            created.iter().collect(),
            "limit {limit}: not every product seen once"
        );
    }
}

#[tokio::test]
async fn a_page_that_exactly_fills_the_limit_at_the_end_has_a_null_cursor() {
    let app = spawn_app().await;
    create_products(&app, 4, "things").await;
    let page = json_body(app.get("/v1/products?limit=4").await, 200).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 4);
    assert_eq!(page["next_cursor"], Value::Null, "{page}");
}

#[tokio::test]
async fn an_empty_catalog_lists_no_items_and_a_null_cursor() {
    let app = spawn_app().await;
    let page = json_body(app.get("/v1/products").await, 200).await;
    assert_eq!(page, json!({"items": [], "next_cursor": null}));
}

#[tokio::test]
async fn listing_without_a_limit_uses_the_default_page_size() {
    let app = spawn_app().await;
    let default = app.settings.catalog.page_limit_default;
    create_products(&app, default + 1, "things").await;
    let page = json_body(app.get("/v1/products").await, 200).await;
    assert_eq!(page["items"].as_array().unwrap().len(), default);
    assert!(page["next_cursor"].is_string(), "{page}");
}

#[tokio::test]
async fn listing_with_limit_0_or_over_100_returns_400_problem() {
    let app = spawn_app().await;
    create_products(&app, 1, "things").await;
    for query in ["limit=0", "limit=101", "limit=100000"] {
        let res = app.get(&format!("/v1/products?{query}")).await;
        let problem = assert_problem(res, 400).await;
        assert!(
            problem["detail"].as_str().unwrap().contains("limit"),
            "{query}: {problem}"
        );
    }
    for query in [
        "limit=-1",
        "limit=abc",
        "limit=1.5",
        "limit=99999999999999999999999",
    ] {
        let res = app.get(&format!("/v1/products?{query}")).await;
        assert_problem(res, 400).await;
    }
    let page = json_body(app.get("/v1/products?limit=100").await, 200).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_limit_that_is_not_a_number_is_reported_by_name() {
    let app = spawn_app().await;
    for query in ["limit=-1", "limit=abc"] {
        let problem = assert_problem(app.get(&format!("/v1/products?{query}")).await, 400).await;
        assert!(
            problem["detail"].as_str().unwrap().contains("limit"),
            "{query}: {problem}"
        );
    }
}

#[tokio::test]
async fn listing_with_a_cursor_the_server_never_gave_out_returns_400_problem() {
    let app = spawn_app().await;
    create_products(&app, 2, "things").await;
    // Not hex; hex of bytes that are not UTF-8; hex of "a b" (not a valid id); empty.
    for cursor in ["zz-not-a-cursor", "ff", "612062", ""] {
        let res = app.get(&format!("/v1/products?cursor={cursor}")).await;
        assert_problem(res, 400).await;
    }
}

#[tokio::test]
async fn listing_by_category_returns_only_that_category_across_pages() {
    let app = spawn_app().await;
    let books = create_products(&app, 5, "books").await;
    let toys = create_products(&app, 3, "toys").await;

    let listed = list_all(&app, 2, "&category=books").await;
    assert_eq!(ids_of(&listed), books);
    assert!(listed.iter().all(|p| p["category"] == "books"));
    assert_eq!(ids_of(&list_all(&app, 2, "&category=toys").await), toys);
    assert!(list_all(&app, 2, "&category=nothing-here").await.is_empty());
    assert_eq!(
        list_all(&app, 100, "").await.len(),
        books.len() + toys.len()
    );
}

#[tokio::test]
async fn a_product_reads_with_exactly_the_documented_fields() {
    let app = spawn_app().await;
    app.created(&product_body("shirt", &["SH-S", "SH-M"])).await;

    let product = json_body(app.get("/v1/products/shirt").await, 200).await;
    assert_eq!(
        keys_of(&product),
        [
            "attributes",
            "category",
            "description",
            "id",
            "title",
            "variants"
        ]
        .into()
    );
    assert_eq!(product["id"], "shirt");
    assert_eq!(product["title"], "Product shirt");
    assert_eq!(product["description"], "A fine thing.");
    assert_eq!(product["category"], "things");
    assert_eq!(product["attributes"], json!({"brand": "Acme"}));
    let variants = product["variants"].as_array().expect("variants");
    assert_eq!(variants.len(), 2);
    for (variant, sku) in variants.iter().zip(["SH-S", "SH-M"]) {
        assert_eq!(
            keys_of(variant),
            ["available", "price", "sku", "title"].into()
        );
        assert_eq!(variant["sku"], sku);
        assert_eq!(variant["title"], format!("Variant {sku}"));
        assert_eq!(variant["price"], json!({"amount": 1999, "currency": "EUR"}));
        assert!(variant["price"]["amount"].is_i64(), "integer minor units");
        assert_eq!(variant["available"], 10);
    }
}

#[tokio::test]
async fn a_sku_reads_with_exactly_the_documented_fields() {
    let app = spawn_app().await;
    app.created(&product_body("shirt", &["SH-S", "SH-M"])).await;

    let sku = json_body(app.get("/v1/skus/SH-M").await, 200).await;
    assert_eq!(
        sku,
        json!({
            "sku": "SH-M", "product_id": "shirt", "title": "Variant SH-M",
            "price": {"amount": 1999, "currency": "EUR"}, "available": 10
        })
    );
}

#[tokio::test]
async fn unknown_products_and_skus_return_404_problem() {
    let app = spawn_app().await;
    app.created(&product_body("shirt", &["SH-S"])).await;
    let problem = assert_problem(app.get("/v1/products/no-such-product").await, 404).await;
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("no-such-product"));
    let problem = assert_problem(app.get("/v1/skus/NO-SUCH-SKU").await, 404).await;
    assert!(problem["detail"].as_str().unwrap().contains("NO-SUCH-SKU"));
}

#[tokio::test]
async fn an_archived_product_and_its_skus_return_410_problem() {
    let app = spawn_app().await;
    app.created(&product_body("old", &["OLD-1", "OLD-2"])).await;
    let res = app
        .admin(Method::DELETE, "/v1/admin/products/old")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);

    assert_problem(app.get("/v1/products/old").await, 410).await;
    assert_problem(app.get("/v1/skus/OLD-1").await, 410).await;
    assert_problem(app.get("/v1/skus/OLD-2").await, 410).await;
}

#[tokio::test]
async fn a_product_read_has_an_etag_and_cache_control_and_a_matching_if_none_match_gets_304() {
    let app = spawn_app().await;
    app.created(&product_body("shirt", &["SH-S"])).await;

    let res = app.get("/v1/products/shirt").await;
    assert_eq!(res.status(), 200);
    let etag = header(&res, "etag").expect("ETag");
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert!(header(&res, "cache-control").is_some(), "Cache-Control");

    let res = app
        .request(Method::GET, "/v1/products/shirt")
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);
    assert_eq!(header(&res, "etag").as_deref(), Some(etag.as_str()));
    assert!(res.bytes().await.unwrap().is_empty(), "a 304 has no body");

    let res = app
        .request(Method::GET, "/v1/products/shirt")
        .header("If-None-Match", "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn sku_and_list_reads_have_an_etag_and_a_matching_if_none_match_gets_304() {
    let app = spawn_app().await;
    app.created(&product_body("shirt", &["SH-S"])).await;

    for path in ["/v1/skus/SH-S", "/v1/products", "/v1/products?limit=1"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        assert!(
            header(&res, "cache-control").is_some(),
            "{path}: Cache-Control"
        );
        let etag = header(&res, "etag").unwrap_or_else(|| panic!("{path}: ETag"));
        let res = app
            .request(Method::GET, path)
            .header("If-None-Match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 304, "{path}");
    }

    // A change to the catalog changes the list's ETag.
    let before = header(&app.get("/v1/products").await, "etag").unwrap();
    app.created(&product_body("hat", &["HAT-1"])).await;
    let res = app
        .request(Method::GET, "/v1/products")
        .header("If-None-Match", &before)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "a stale ETag must not get 304");
    assert_ne!(header(&res, "etag").unwrap(), before);
}

/// The three kinds of read of SKU `TEE-S`: itself, its product, the list.
const TEE_READS: [&str; 3] = ["/v1/skus/TEE-S", "/v1/products/tee", "/v1/products"];

/// A read's path, its ETag and its body.
type Read = (&'static str, String, Value);

/// `TEE-S`'s availability as the read of `path` shows it.
fn tee_available(v: &Value, path: &str) -> Value {
    match path {
        "/v1/skus/TEE-S" => v["available"].clone(),
        "/v1/products/tee" => v["variants"][0]["available"].clone(),
        _ => v["items"][0]["variants"][0]["available"].clone(),
    }
}

/// Every read in [`TEE_READS`], in order, asserting 200 and an ETag.
async fn read_tee(app: &TestApp) -> Vec<Read> {
    let mut seen = Vec::new();
    for path in TEE_READS {
        let res = app.get(path).await;
        let etag = header(&res, "etag").unwrap_or_else(|| panic!("{path}: ETag"));
        seen.push((path, etag, json_body(res, 200).await));
    }
    seen
}

/// Asserts that every read shows `available` units of `TEE-S`.
fn assert_tee_available(reads: &[Read], available: u64, why: &str) {
    for (path, _, body) in reads {
        assert_eq!(tee_available(body, path), available, "{path}{why}");
    }
}

/// The status of a GET of `path` with `If-None-Match: etag`.
async fn status_if_none_match(app: &TestApp, path: &str, etag: &str) -> reqwest::StatusCode {
    let res = app
        .request(Method::GET, path)
        .header("If-None-Match", etag)
        .send()
        .await
        .unwrap();
    res.status()
}

/// Buys `quantity` of `TEE-S`, asserting 201.
async fn buy_tee_s(app: &TestApp, quantity: u64) {
    let res = app
        .request(Method::POST, "/v1/skus/TEE-S/purchase")
        .header("Idempotency-Key", "tee-1")
        .json(&json!({"customer_id": "c1", "quantity": quantity}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
}

/// Restocks `quantity` of `TEE-S`, asserting 200.
async fn restock_tee_s(app: &TestApp, quantity: u64) {
    let res = app
        .admin(Method::POST, "/v1/admin/skus/TEE-S/restock")
        .json(&json!({"quantity": quantity}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// Renames `TEE-S` (the first variant of `tee`) by replacing the product
/// without stock, which keeps the stock.
async fn rename_tee_s(app: &TestApp, title: &str) {
    let mut edited = product_body("tee", &["TEE-S", "TEE-M"]);
    for v in edited["variants"].as_array_mut().unwrap() {
        v.as_object_mut().unwrap().remove("stock"); // a replace keeps stock
    }
    edited["variants"][0]["title"] = json!(title);
    let res = app
        .admin(Method::PUT, "/v1/admin/products/tee")
        .json(&edited)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// Reads are answered from their last rendering while nothing they show has
/// changed; every read below follows one already answered (and kept), so
/// each checks that a change reaches all three kinds of read at once.
#[tokio::test]
async fn every_kind_of_read_shows_a_purchase_a_restock_and_an_edit_at_once() {
    let app = spawn_app().await;
    app.created(&product_body("tee", &["TEE-S", "TEE-M"])).await;
    let before = read_tee(&app).await;
    assert_eq!(
        read_tee(&app).await,
        before,
        "nothing changed, nothing differs"
    );
    assert_tee_available(&before, 10, "");

    buy_tee_s(&app, 3).await;
    let bought = read_tee(&app).await;
    assert_tee_available(&bought, 7, "");
    for ((path, old_etag, _), (_, etag, _)) in before.iter().zip(&bought) {
        assert_ne!(etag, old_etag, "{path}");
        let status = status_if_none_match(&app, path, old_etag).await;
        assert_eq!(status, 200, "{path}: a stale ETag must not get 304");
    }

    restock_tee_s(&app, 5).await;
    assert_tee_available(&read_tee(&app).await, 12, "");

    rename_tee_s(&app, "Small, renamed").await;
    let after = read_tee(&app).await;
    assert_eq!(after[0].2["title"], "Small, renamed");
    assert_eq!(after[1].2["variants"][0]["title"], "Small, renamed");
    assert_eq!(
        after[2].2["items"][0]["variants"][0]["title"],
        "Small, renamed"
    );
    assert_tee_available(&after, 12, ": stock is kept");
}

/// Readers polling a SKU, its product and the list while buyers empty it:
/// with only purchases happening, every reader sees availability fall or
/// stay, never rise (an answer kept from before a purchase is never given
/// after one reflecting it), and the reads after the sale show what is
/// left exactly.
#[tokio::test]
async fn reads_during_a_sale_never_go_back_and_end_at_what_is_left() {
    let app = std::sync::Arc::new(spawn_app().await);
    let mut body = product_body("sale", &["SALE-1"]);
    body["variants"][0]["stock"] = json!(60);
    app.created(&body).await;
    let available = |path: &str, v: &Value| match path {
        "/v1/skus/SALE-1" => v["available"].as_u64(),
        "/v1/products/sale" => v["variants"][0]["available"].as_u64(),
        _ => v["items"][0]["variants"][0]["available"].as_u64(),
    };
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = ["/v1/skus/SALE-1", "/v1/products/sale", "/v1/products"]
        .into_iter()
        .flat_map(|path| [path, path])
        .map(|path| {
            let (app, done) = (app.clone(), done.clone());
            tokio::spawn(async move {
                // Reads at least once more after the last purchase.
                let mut last = u64::MAX;
                loop {
                    let finished = done.load(std::sync::atomic::Ordering::Acquire);
                    let v = json_body(app.get(path).await, 200).await;
                    let now = available(path, &v).unwrap_or_else(|| panic!("{path}: {v}"));
                    assert!(now <= last, "{path} went from {last} back up to {now}");
                    last = now;
                    if finished {
                        return last;
                    }
                }
            })
        })
        .collect();
    let buyers: Vec<_> = (0..50)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                app.request(Method::POST, "/v1/skus/SALE-1/purchase")
                    .header("Idempotency-Key", format!("sale-{i}"))
                    .json(&json!({"customer_id": format!("c{i}"), "quantity": 1}))
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    for buyer in buyers {
        assert_eq!(buyer.await.unwrap(), 201);
    }
    done.store(true, std::sync::atomic::Ordering::Release);
    for reader in readers {
        assert_eq!(reader.await.unwrap(), 10, "a read after the sale");
    }
    for path in ["/v1/skus/SALE-1", "/v1/products/sale", "/v1/products"] {
        let v = json_body(app.get(path).await, 200).await;
        assert_eq!(available(path, &v), Some(10), "{path}");
    }
}
