//! CORS: with `server.cors_origins` set, the storefront routes and the event
//! stream approve exactly those origins (preflights included); admin and
//! operations routes never do; with the default (empty) list, nothing of
//! CORS is answered at all.

use crate::checkout::{checkout, filled_cart};
use crate::helpers::{
    assert_problem, header, spawn_app, spawn_with, test_settings, TestApp, ADMIN_TOKEN,
};
use crate::inventory::create_sku;
use reqwest::{Method, Response};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const SHOP: &str = "https://shop.example";
const OTHER: &str = "http://localhost:3000";
const UNLISTED: &str = "https://evil.example";

async fn app_for(origins: &[&str], tune: impl FnOnce(&mut surge::config::Settings)) -> TestApp {
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let mut settings = test_settings(dir.path());
    settings.server.cors_origins = origins.iter().map(|o| (*o).to_owned()).collect();
    tune(&mut settings);
    spawn_with(settings, dir, Some(ADMIN_TOKEN)).await
}

/// A browser's preflight for a purchase from `origin`.
async fn preflight(app: &TestApp, path: &str, origin: &str) -> Response {
    app.request(Method::OPTIONS, path)
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "idempotency-key,content-type",
        )
        .send()
        .await
        .expect("request")
}

async fn get_from(app: &TestApp, path: &str, origin: &str) -> Response {
    app.request(Method::GET, path)
        .header("Origin", origin)
        .send()
        .await
        .expect("request")
}

/// The comma-separated names of a header, lowercased.
fn names(res: &Response, header_name: &str) -> Vec<String> {
    header(res, header_name)
        .unwrap_or_default()
        .split(',')
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect()
}

fn assert_no_cors(res: &Response, what: &str) {
    let cors: Vec<_> = res
        .headers()
        .keys()
        .filter(|k| k.as_str().starts_with("access-control-"))
        .collect();
    assert!(cors.is_empty(), "{what}: {cors:?}");
}

#[tokio::test]
async fn a_preflight_for_a_purchase_from_a_listed_origin_is_approved() {
    let app = app_for(&[SHOP, OTHER], |_| {}).await;
    let res = preflight(&app, "/v1/skus/CORS-1/purchase", SHOP).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        header(&res, "access-control-allow-origin").as_deref(),
        Some(SHOP)
    );
    let methods = names(&res, "access-control-allow-methods");
    for method in ["get", "post", "patch", "delete", "options"] {
        assert!(methods.iter().any(|m| m == method), "{method}: {methods:?}");
    }
    let allowed = names(&res, "access-control-allow-headers");
    for name in [
        "content-type",
        "idempotency-key",
        "if-none-match",
        "last-event-id",
        "authorization",
    ] {
        assert!(allowed.iter().any(|h| h == name), "{name}: {allowed:?}");
    }
    assert_eq!(
        header(&res, "access-control-max-age").as_deref(),
        Some("3600")
    );
    assert!(names(&res, "vary").contains(&"origin".to_owned()));
    assert!(header(&res, "access-control-allow-credentials").is_none());

    // Each listed origin is answered with itself, never with the list.
    let res = preflight(&app, "/v1/carts/c1/lines/S-1", OTHER).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        header(&res, "access-control-allow-origin").as_deref(),
        Some(OTHER)
    );
}

#[tokio::test]
async fn storefront_answers_to_a_listed_origin_carry_the_allow_and_expose_headers() {
    let app = app_for(&[SHOP], |_| {}).await;
    create_sku(&app, "CORS-1", 5).await;
    for path in [
        "/v1/skus/CORS-1",
        "/v1/products/p-CORS-1",
        "/v1/products",
        "/v1/skus/NOPE",
    ] {
        let res = get_from(&app, path, SHOP).await;
        assert_eq!(
            header(&res, "access-control-allow-origin").as_deref(),
            Some(SHOP),
            "{path}"
        );
        let exposed = names(&res, "access-control-expose-headers");
        for name in [
            "etag",
            "location",
            "retry-after",
            "idempotent-replayed",
            "ratelimit",
            "ratelimit-policy",
        ] {
            assert!(
                exposed.iter().any(|h| h == name),
                "{path} {name}: {exposed:?}"
            );
        }
        assert!(names(&res, "vary").contains(&"origin".to_owned()), "{path}");
    }
    let purchase = app
        .request(Method::POST, "/v1/skus/CORS-1/purchase")
        .header("Origin", SHOP)
        .header("Idempotency-Key", "cors-1")
        .json(&json!({"customer_id": "alice", "quantity": 1}))
        .send()
        .await
        .expect("request");
    assert_eq!(purchase.status(), 201);
    assert_eq!(
        header(&purchase, "access-control-allow-origin").as_deref(),
        Some(SHOP)
    );
}

#[tokio::test]
async fn an_unlisted_origin_gets_no_approval_but_its_request_is_served() {
    let app = app_for(&[SHOP], |_| {}).await;
    create_sku(&app, "CORS-1", 5).await;
    let res = preflight(&app, "/v1/skus/CORS-1/purchase", UNLISTED).await;
    assert!(header(&res, "access-control-allow-origin").is_none());
    let problem = assert_problem(res, 400).await;
    assert!(problem["type"].as_str().unwrap().ends_with("/cors-refused"));

    // The browser decides what a page may read; the server still answers
    // (same-origin pages send `Origin` on writes too).
    let res = get_from(&app, "/v1/skus/CORS-1", UNLISTED).await;
    assert_eq!(res.status(), 200);
    assert!(header(&res, "access-control-allow-origin").is_none());

    // A method or header outside the policy is refused for listed origins.
    let res = app
        .request(Method::OPTIONS, "/v1/skus/CORS-1/purchase")
        .header("Origin", SHOP)
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "x-custom")
        .send()
        .await
        .expect("request");
    assert!(header(&res, "access-control-allow-origin").is_none());
    assert_problem(res, 400).await;
}

#[tokio::test]
async fn admin_and_operations_routes_never_approve_another_origin() {
    let app = app_for(&[SHOP], |_| {}).await;
    create_sku(&app, "CORS-1", 5).await;
    let res = preflight(&app, "/v1/admin/products", SHOP).await;
    assert_no_cors(&res, "admin preflight");
    assert_problem(res, 405).await;
    let res = preflight(&app, "/v1/admin/skus/CORS-1/restock", SHOP).await;
    assert_no_cors(&res, "admin preflight");
    let res = app
        .admin(Method::GET, "/v1/admin/skus/CORS-1/inventory")
        .header("Origin", SHOP)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    assert_no_cors(&res, "admin read");
    for path in ["/healthz", "/metrics", "/openapi.json"] {
        assert_no_cors(&get_from(&app, path, SHOP).await, path);
    }
}

#[tokio::test]
async fn the_event_stream_answers_a_listed_origin() {
    let app = app_for(&[SHOP], |_| {}).await;
    create_sku(&app, "LIVE-1", 3).await;
    let res = get_from(&app, "/v1/events/stream?skus=LIVE-1", SHOP).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        header(&res, "content-type").as_deref(),
        Some("text/event-stream")
    );
    assert_eq!(
        header(&res, "access-control-allow-origin").as_deref(),
        Some(SHOP)
    );
}

#[tokio::test]
async fn a_write_refused_under_overload_carries_the_cors_headers() {
    // The refusal comes from the admission layer, before any route: the
    // page must still be able to read its status and Retry-After.
    let app = Arc::new(
        app_for(&[SHOP], |s| {
            s.server.writes_in_flight_max = 1;
            s.payment.simulated.latency_ms_min = 800;
            s.payment.simulated.latency_ms_max = 800;
        })
        .await,
    );
    create_sku(&app, "CORS-1", 10).await;
    let cart = filled_cart(&app, "CORS-1", 1).await;
    let slow = {
        let app = app.clone();
        tokio::spawn(async move { checkout(&app, &cart, "slow-1", "tok_ok").await.status() })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let shed = app
        .request(Method::POST, "/v1/skus/CORS-1/purchase")
        .header("Origin", SHOP)
        .header("Idempotency-Key", "shed-1")
        .json(&json!({"customer_id": "bob", "quantity": 1}))
        .send()
        .await
        .expect("request");
    assert_eq!(
        header(&shed, "access-control-allow-origin").as_deref(),
        Some(SHOP)
    );
    assert!(names(&shed, "access-control-expose-headers").contains(&"retry-after".to_owned()));
    assert_eq!(header(&shed, "retry-after").as_deref(), Some("1"));
    assert_problem(shed, 503).await;
    assert_eq!(slow.await.expect("checkout"), 201);
}

#[tokio::test]
async fn a_single_star_allows_any_origin_without_credentials() {
    let app = app_for(&["*"], |_| {}).await;
    let res = preflight(&app, "/v1/skus/CORS-1/purchase", UNLISTED).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        header(&res, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    assert!(header(&res, "access-control-allow-credentials").is_none());
    let res = get_from(&app, "/v1/products", OTHER).await;
    assert_eq!(
        header(&res, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    assert_no_cors(&preflight(&app, "/v1/admin/products", OTHER).await, "admin");
}

#[tokio::test]
async fn by_default_nothing_of_cors_is_answered() {
    let app = spawn_app().await;
    assert!(app.settings.server.cors_origins.is_empty());
    create_sku(&app, "CORS-1", 5).await;
    // As before CORS existed: the purchase route takes POST only.
    let res = preflight(&app, "/v1/skus/CORS-1/purchase", SHOP).await;
    assert_no_cors(&res, "preflight");
    assert_problem(res, 405).await;
    for path in [
        "/v1/skus/CORS-1",
        "/v1/products",
        "/v1/events/stream?skus=CORS-1",
    ] {
        let res = get_from(&app, path, SHOP).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_no_cors(&res, path);
        assert!(header(&res, "vary").is_none(), "{path}");
    }
}
