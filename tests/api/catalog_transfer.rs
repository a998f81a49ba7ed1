//! Catalog export and import through HTTP: the export imported into an
//! empty store recreates the catalog, importing the same body again changes
//! nothing (no revision, no ETag, no stock), a Shopify CSV with variants and
//! a malformed row, refused JSON lines named by line, bad requests refused
//! with nothing changed.

use crate::check::check;
use crate::helpers::{
    assert_problem, catalog_state, header, json_body, product_body, spawn_app, spawn_with,
    test_settings, TestApp, ADMIN_TOKEN,
};
use crate::inventory::{inventory, purchase};
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;

const NDJSON: &str = "application/x-ndjson";

async fn export(app: &TestApp) -> String {
    let res = app
        .admin(Method::GET, "/v1/admin/catalog/export")
        .send()
        .await
        .expect("export");
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "content-type").as_deref(), Some(NDJSON));
    res.text().await.expect("body")
}

async fn import(app: &TestApp, content_type: &str, query: &str, body: String) -> reqwest::Response {
    app.admin(Method::POST, &format!("/v1/admin/catalog/import{query}"))
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .expect("import")
}

/// An import answered 200; its report.
async fn imported(app: &TestApp, content_type: &str, query: &str, body: String) -> Value {
    json_body(import(app, content_type, query, body).await, 200).await
}

/// ETags of the given products, to show that nothing was rewritten.
async fn etags(app: &TestApp, ids: &[&str]) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for id in ids {
        out.push(header(
            &app.get(&format!("/v1/products/{id}")).await,
            "etag",
        ));
    }
    out
}

/// A catalog with stock that moved: two products, one unit of A-1 bought.
async fn shop() -> TestApp {
    let app = spawn_app().await;
    app.created(&product_body("alpha", &["A-1", "A-2"])).await;
    app.created(&product_body("beta", &["B-1"])).await;
    json_body(purchase(&app, "A-1", "k-1", "alice", 1).await, 201).await;
    app
}

#[tokio::test]
async fn an_export_imported_into_an_empty_store_recreates_the_catalog() {
    let source = shop().await;
    let lines = export(&source).await;
    assert_eq!(lines.lines().count(), 2);
    let first: Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert_eq!(first["id"], "alpha");
    assert_eq!(
        first["variants"][0]["stock"], 10,
        "units not sold: available and held"
    );

    let target = spawn_app().await;
    let report = imported(&target, NDJSON, "", lines.clone()).await;
    assert_eq!(
        report,
        json!({"created": 2, "updated": 0, "unchanged": 0, "refused": [], "refused_count": 0})
    );
    assert_eq!(export(&target).await, lines);
    assert_eq!(inventory(&target, "A-1").await["available"], 10);

    let (_, dir) = target.stop().await;
    let out = check(dir.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test]
async fn importing_the_same_body_again_changes_nothing() {
    let app = shop().await;
    let lines = export(&app).await;
    let before = catalog_state(&app, &["/v1/products/alpha", "/v1/skus/A-1"]).await;
    let tags = etags(&app, &["alpha", "beta"]).await;
    let stock = inventory(&app, "A-1").await;

    for _ in 0..2 {
        let report = imported(&app, NDJSON, "", lines.clone()).await;
        assert_eq!(report["unchanged"], 2, "{report}");
        assert_eq!(
            (report["created"].clone(), report["updated"].clone()),
            (json!(0), json!(0))
        );
    }
    // A body with other stock changes nothing either: stock is set through inventory.
    let restocked = lines.replace("\"stock\":10", "\"stock\":500");
    assert_eq!(imported(&app, NDJSON, "", restocked).await["unchanged"], 2);
    assert_eq!(
        catalog_state(&app, &["/v1/products/alpha", "/v1/skus/A-1"]).await,
        before
    );
    assert_eq!(etags(&app, &["alpha", "beta"]).await, tags);
    assert_eq!(inventory(&app, "A-1").await, stock);
}

#[tokio::test]
async fn a_changed_definition_is_updated_with_its_stock_kept_and_new_skus_stocked() {
    let app = shop().await;
    let tag = etags(&app, &["alpha"]).await;
    let mut alpha: Value =
        serde_json::from_str(export(&app).await.lines().next().unwrap()).unwrap();
    alpha["title"] = json!("Alpha, renamed");
    alpha["variants"][0]["stock"] = json!(99);
    alpha["variants"]
        .as_array_mut()
        .unwrap()
        .push(json!({"sku": "A-3", "title": "Three", "price": {"amount": 500, "currency": "EUR"}, "stock": 7}));
    let report = imported(&app, NDJSON, "", format!("{alpha}\n")).await;
    assert_eq!(report["updated"], 1, "{report}");
    let product = json_body(app.get("/v1/products/alpha").await, 200).await;
    assert_eq!(product["title"], "Alpha, renamed");
    assert_ne!(etags(&app, &["alpha"]).await, tag);
    assert_eq!(
        inventory(&app, "A-1").await["available"],
        9,
        "an existing SKU keeps its stock"
    );
    assert_eq!(
        inventory(&app, "A-3").await["available"],
        7,
        "a new SKU starts with its stock"
    );
}

const SHOPIFY_HEADER: &str =
    "Handle,Title,Body (HTML),Vendor,Product Category,Type,Tags,Published,\
Option1 Name,Option1 Value,Option2 Name,Option2 Value,Option3 Name,Option3 Value,Variant SKU,\
Variant Grams,Variant Inventory Tracker,Variant Inventory Qty,Variant Inventory Policy,\
Variant Fulfillment Service,Variant Price,Variant Compare At Price,Image Src,Status";

#[tokio::test]
async fn a_shopify_csv_imports_products_with_their_variants_and_names_the_malformed_row() {
    let app = spawn_app().await;
    let csv = format!(
        "{SHOPIFY_HEADER}\n\
classic-tee,Classic Tee,\"<p>Soft cotton,\nwashed twice.</p>\",Acme,Apparel,Shirts,\"cotton, basics\",true,Size,S,Color,White,,,TEE-S-W,180,shopify,12,deny,manual,19.99,24.99,https://cdn/tee.jpg,active\n\
classic-tee,,,,,,,,,M,,White,,,TEE-M-W,180,shopify,8,deny,manual,19.99,,,\n\
classic-tee,,,,,,,,,L,,Black,,,TEE-L-B,190,shopify,0,deny,manual,21.50,,,\n\
classic-tee,,,,,,,,,,,,,,,,,,,,,,https://cdn/tee-back.jpg,\n\
broken-mug,Mug,,,,,,true,Title,Default Title,,,,,MUG-1,350,shopify,3,deny,manual,8.5O,,,active\n\
tote,Tote Bag,,Acme,,Bags,,true,Title,Default Title,,,,,TOTE-1,200,shopify,5,deny,manual,12,,,active\n"
    );
    let report = imported(
        &app,
        "text/csv; charset=utf-8",
        "?currency=USD",
        csv.clone(),
    )
    .await;
    assert_eq!(
        (report["created"].clone(), report["refused_count"].clone()),
        (json!(2), json!(1)),
        "{report}"
    );
    let refused = &report["refused"][0];
    assert_eq!(
        (refused["row"].clone(), refused["id"].clone()),
        (json!(6), json!("broken-mug")),
        "{report}"
    );
    assert_eq!(refused["errors"][0]["field"], "Variant Price");

    let tee = json_body(app.get("/v1/products/classic-tee").await, 200).await;
    assert_eq!(tee["category"], "Shirts");
    assert_eq!(tee["description"], "<p>Soft cotton,\nwashed twice.</p>");
    assert_eq!(
        tee["attributes"],
        json!({"vendor": "Acme", "tags": "cotton, basics"})
    );
    let variants: Vec<(String, String, i64, u64)> = tee["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let text = |k: &str| v[k].as_str().unwrap().to_owned();
            (
                text("sku"),
                text("title"),
                v["price"]["amount"].as_i64().unwrap(),
                v["available"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        variants,
        [
            ("TEE-S-W".into(), "S / White".into(), 1999, 12),
            ("TEE-M-W".into(), "M / White".into(), 1999, 8),
            ("TEE-L-B".into(), "L / Black".into(), 2150, 0)
        ]
    );
    assert_eq!(tee["variants"][0]["price"]["currency"], "USD");
    assert_eq!(app.get("/v1/products/broken-mug").await.status(), 404);

    let again = imported(&app, "text/csv", "?currency=USD", csv).await;
    assert_eq!(
        (again["created"].clone(), again["unchanged"].clone()),
        (json!(0), json!(2)),
        "{again}"
    );
}

#[tokio::test]
async fn a_malformed_json_line_is_refused_by_its_line_number_and_the_others_imported() {
    let app = spawn_app().await;
    let body = format!(
        "{}\n{{\"id\": \"half\", \"title\": \n\n{}\n{}\n",
        product_body("one", &["ONE-1"]),
        product_body("two", &["TWO-1"]),
        product_body("three", &["ONE-1"]),
    );
    let report = imported(&app, NDJSON, "", body).await;
    assert_eq!(report["created"], 2, "{report}");
    let rows: Vec<(Value, Value)> = report["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["row"].clone(), r["id"].clone()))
        .collect();
    assert_eq!(
        rows,
        [(json!(2), Value::Null), (json!(5), json!("three"))],
        "{report}"
    );
    assert!(report["refused"][1]["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("already belongs to product 'one'"));
}

#[tokio::test]
async fn bad_imports_are_refused_with_a_problem_and_change_nothing() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut settings = test_settings(dir.path());
    settings.catalog.import_body_max_bytes = 2_048;
    let app = spawn_with(settings, dir, Some(ADMIN_TOKEN)).await;
    app.created(&product_body("kept", &["KEPT-1"])).await;
    let before = catalog_state(&app, &["/v1/products/kept"]).await;
    let line = format!("{}\n", product_body("new", &["NEW-1"]));

    assert_problem(
        import(&app, "application/json", "", line.clone()).await,
        415,
    )
    .await;
    assert_problem(
        import(&app, "text/csv", "?currency=euro", line.clone()).await,
        400,
    )
    .await;
    assert_problem(
        import(&app, "text/csv", "", "sku,price\nNEW-1,1\n".into()).await,
        422,
    )
    .await;
    assert_problem(import(&app, NDJSON, "?limit=1", line.clone()).await, 400).await;
    assert_problem(import(&app, NDJSON, "", line.repeat(20)).await, 413).await;
    let anonymous = app
        .request(Method::POST, "/v1/admin/catalog/import")
        .header("Content-Type", NDJSON)
        .body(line)
        .send()
        .await
        .unwrap();
    assert_problem(anonymous, 401).await;
    assert_problem(
        app.request(Method::GET, "/v1/admin/catalog/export")
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    assert_eq!(
        catalog_state(&app, &["/v1/products/kept", "/v1/products/new"]).await["listed"],
        before["listed"]
    );
    assert_eq!(app.get("/v1/products/new").await.status(), 404);
}

#[tokio::test]
async fn the_openapi_document_describes_both_formats_and_the_report() {
    let app = spawn_app().await;
    let doc = json_body(app.get("/openapi.json").await, 200).await;
    let import = &doc["paths"]["/v1/admin/catalog/import"]["post"];
    for media in [NDJSON, "text/csv"] {
        assert!(
            import["requestBody"]["content"][media].is_object(),
            "{media}: {import}"
        );
    }
    for status in ["200", "400", "401", "413", "415", "422", "503"] {
        assert!(
            import["responses"][status].is_object(),
            "{status}: {import}"
        );
    }
    assert!(import["security"].is_array());
    let export = &doc["paths"]["/v1/admin/catalog/export"]["get"];
    assert!(
        export["responses"]["200"]["content"][NDJSON].is_object(),
        "{export}"
    );
    let report = &doc["components"]["schemas"]["ImportReport"]["properties"];
    for field in [
        "created",
        "updated",
        "unchanged",
        "refused",
        "refused_count",
    ] {
        assert!(report[field].is_object(), "ImportReport lacks {field}");
    }
}
