//! Operations routes: liveness, readiness, Prometheus metrics, the OpenAPI
//! document and the offline API docs page.

use crate::helpers::{header, json_body, product_body, spawn_app};

#[tokio::test]
async fn healthz_returns_200() {
    let app = spawn_app().await;
    let body = json_body(app.get("/healthz").await, 200).await;
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn readyz_returns_200_while_running() {
    let app = spawn_app().await;
    let body = json_body(app.get("/readyz").await, 200).await;
    assert_eq!(body["status"], "ready");
    assert_eq!(body["durability"], "strict");
}

#[tokio::test]
async fn metrics_are_prometheus_text_with_request_counts_per_route_pattern() {
    let app = spawn_app().await;
    app.created(&product_body("metered", &["MET-1"])).await;
    assert_eq!(app.get("/v1/products/metered").await.status(), 200);
    assert_eq!(app.get("/v1/skus/MET-1").await.status(), 200);
    // Invented methods must not become labels either.
    let brew = reqwest::Method::from_bytes(b"BREW").unwrap();
    let odd = app.request(brew, "/v1/skus/MET-1").send().await.unwrap();
    assert!(odd.status().is_client_error(), "{}", odd.status());

    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 200);
    let content_type = header(&res, "content-type").unwrap_or_default();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = res.text().await.unwrap();

    assert!(
        text.contains("# TYPE surge_http_requests_total counter"),
        "{text}"
    );
    let counted = |route: &str| {
        text.lines().any(|l| {
            l.starts_with("surge_http_requests_total{")
                && l.contains(&format!("route=\"{route}\""))
                && l.contains("method=\"GET\"")
        })
    };
    assert!(counted("/v1/products/{id}"), "{text}");
    assert!(counted("/v1/skus/{sku}"), "{text}");
    assert!(
        !text.contains("route=\"/v1/products/metered\""),
        "raw paths must not become labels"
    );
    assert!(
        !text.contains("BREW") && text.contains("method=\"OTHER\""),
        "{text}"
    );
    assert!(
        text.contains("surge_http_request_duration_seconds_bucket{"),
        "latency histogram missing: {text}"
    );
    // Every sample line is `name{labels} value` or `name value`, value numeric.
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let value = line.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "not a sample: {line}");
    }
}

/// Route path → methods the OpenAPI document must list for it.
const ROUTES: &[(&str, &[&str])] = &[
    ("/healthz", &["get"]),
    ("/readyz", &["get"]),
    ("/metrics", &["get"]),
    ("/v1/products", &["get"]),
    ("/v1/products/{id}", &["get"]),
    ("/v1/skus/{sku}", &["get"]),
    ("/v1/admin/products", &["post"]),
    ("/v1/admin/products/{id}", &["put", "delete"]),
    ("/v1/admin/catalog/export", &["get"]),
    ("/v1/admin/catalog/import", &["post"]),
    ("/v1/skus/{sku}/purchase", &["post"]),
    ("/v1/skus/{sku}/queue", &["post"]),
    ("/v1/queue/{ticket}", &["get"]),
    ("/v1/queue/{ticket}/stream", &["get"]),
    ("/v1/carts", &["post"]),
    ("/v1/carts/{id}", &["get"]),
    ("/v1/carts/{id}/lines", &["post"]),
    ("/v1/carts/{id}/lines/{sku}", &["patch", "delete"]),
    ("/v1/carts/{id}/checkout", &["post"]),
    ("/v1/orders/{id}", &["get"]),
    ("/v1/orders/{id}/pay", &["post"]),
    ("/v1/orders/{id}/cancel", &["post"]),
    ("/v1/admin/orders", &["get"]),
    ("/v1/admin/orders/{id}/refund", &["post"]),
    ("/v1/admin/webhooks", &["get", "post"]),
    ("/v1/admin/webhooks/{id}", &["get", "delete"]),
    ("/v1/admin/webhooks/{id}/dead-letters", &["get"]),
    ("/v1/admin/webhooks/{id}/dead-letters/replay", &["post"]),
    (
        "/v1/admin/webhooks/{id}/dead-letters/{event_id}/replay",
        &["post"],
    ),
    ("/v1/events/stream", &["get"]),
];

#[tokio::test]
async fn the_openapi_document_is_json_and_covers_every_route_with_its_methods() {
    let app = spawn_app().await;
    let res = app.get("/openapi.json").await;
    assert!(header(&res, "content-type")
        .unwrap_or_default()
        .starts_with("application/json"));
    let doc = json_body(res, 200).await;
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with('3')),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");
    for (path, methods) in ROUTES {
        let item = paths
            .get(*path)
            .unwrap_or_else(|| panic!("{path} missing from the OpenAPI document"));
        for method in *methods {
            assert!(
                item.get(*method).is_some(),
                "{method} {path} not documented"
            );
        }
    }
    let admin_security = &paths["/v1/admin/products"]["post"]["security"];
    assert!(
        admin_security.is_array(),
        "admin routes must declare their security"
    );
    assert!(
        doc["components"]["securitySchemes"]["admin_token"].is_object(),
        "bearer scheme missing"
    );
    // The product schema documents the fields clients read.
    let product = &doc["components"]["schemas"]["ProductView"]["properties"];
    for field in [
        "id",
        "title",
        "description",
        "category",
        "attributes",
        "variants",
    ] {
        assert!(product.get(field).is_some(), "ProductView lacks {field}");
    }
}

#[tokio::test]
async fn the_docs_page_is_served_as_html_from_embedded_assets() {
    let app = spawn_app().await;
    let res = app.get("/docs/").await;
    assert_eq!(res.status(), 200);
    assert!(header(&res, "content-type")
        .unwrap_or_default()
        .starts_with("text/html"));
    assert!(
        header(&res, "content-encoding").is_none(),
        "served compressed"
    );
    let html = res.text().await.unwrap();
    assert!(html.to_lowercase().contains("<html"), "{html:.200}");
    assert!(
        !html.contains("https://"),
        "the docs page must not load assets from the network"
    );

    // Its assets come from this server, and it points at our document.
    for asset in ["swagger-ui.css", "swagger-ui-bundle.js"] {
        let res = app.get(&format!("/docs/{asset}")).await;
        assert_eq!(res.status(), 200, "{asset}");
        assert!(!res.bytes().await.unwrap().is_empty(), "{asset} is empty");
    }
    let init = app.get("/docs/swagger-initializer.js").await;
    assert_eq!(init.status(), 200);
    assert!(init.text().await.unwrap().contains("/openapi.json"));
}
