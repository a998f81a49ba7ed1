//! Rate limits: token buckets per client address (writes and reads apart,
//! the address behind a trusted proxy from its header) and per verified
//! customer. Over a limit: 429 problem with Retry-After, RateLimit-Policy
//! and RateLimit, nothing changed, and a count in the metrics. Admin and
//! operations routes are never limited by them.

use crate::customers::{spawn_with_tokens, token};
use crate::helpers::{assert_problem, header, spawn_with, test_settings, TestApp, ADMIN_TOKEN};
use crate::inventory::{create_sku, inventory, purchase};
use reqwest::{Method, Response};
use serde_json::json;
use std::sync::Arc;
use surge::config::Settings;

/// A rate so slow that no bucket refills during a test: 1 per 100 s.
const SLOW: f64 = 0.01;

async fn spawn_limited(edit: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut settings = test_settings(dir.path());
    edit(&mut settings);
    spawn_with(settings, dir, Some(ADMIN_TOKEN)).await
}

/// `surge_rate_limited_total{reason}` as `/metrics` shows it now (the
/// recorder is shared by every app of the test process: compare deltas).
async fn limited_total(app: &TestApp, reason: &str) -> u64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    let prefix = format!("surge_rate_limited_total{{reason=\"{reason}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// Asserts a 429 of `policy` with its three headers and a problem body.
async fn assert_limited(res: Response, policy: &str, quota: &str) {
    let retry: u64 = header(&res, "retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!(retry >= 1);
    assert_eq!(
        header(&res, "ratelimit-policy").as_deref(),
        Some(format!("\"{policy}\";{quota}").as_str())
    );
    assert_eq!(
        header(&res, "ratelimit").as_deref(),
        Some(format!("\"{policy}\";r=0;t={retry}").as_str())
    );
    let problem = assert_problem(res, 429).await;
    assert!(
        problem["type"].as_str().unwrap().ends_with("/rate-limited"),
        "{problem}"
    );
    assert_eq!(problem["policy"], policy);
}

async fn new_cart(app: &TestApp, forwarded_for: Option<&str>) -> Response {
    let mut request = app.request(Method::POST, "/v1/carts").json(&json!({}));
    if let Some(chain) = forwarded_for {
        request = request.header("X-Forwarded-For", chain);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn writes_over_the_burst_get_429_with_the_headers_and_change_nothing() {
    let app = spawn_limited(|s| {
        s.rate_limits.ip_writes_per_sec = SLOW;
        s.rate_limits.ip_write_burst = 3;
    })
    .await;
    create_sku(&app, "RL-1", 10).await;
    let counted = limited_total(&app, "ip_write").await;
    for i in 0..3 {
        let res = purchase(&app, "RL-1", &format!("rl-{i}"), "dave", 1).await;
        assert_eq!(res.status(), 201);
    }
    let before = inventory(&app, "RL-1").await;
    let res = purchase(&app, "RL-1", "rl-3", "dave", 1).await;
    assert_limited(res, "ip-write", "q=3;w=300").await;
    assert_eq!(inventory(&app, "RL-1").await, before);
    assert!(limited_total(&app, "ip_write").await > counted);
    // Reads have their own bucket (off here); admin and ops have none.
    assert_eq!(app.get("/v1/skus/RL-1").await.status(), 200);
    let restock = app
        .admin(Method::POST, "/v1/admin/skus/RL-1/restock")
        .json(&json!({"quantity": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(restock.status(), 200);
}

#[tokio::test]
async fn reads_are_limited_apart_from_writes_and_ops_never() {
    let app = spawn_limited(|s| {
        s.rate_limits.ip_reads_per_sec = SLOW;
        s.rate_limits.ip_read_burst = 2;
    })
    .await;
    let counted = limited_total(&app, "ip_read").await;
    for _ in 0..2 {
        assert_eq!(app.get("/v1/products").await.status(), 200);
    }
    assert_limited(app.get("/v1/products").await, "ip-read", "q=2;w=200").await;
    assert_eq!(new_cart(&app, None).await.status(), 201);
    for path in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        assert_eq!(app.get(path).await.status(), 200, "{path}");
    }
    let stats = app
        .admin(Method::GET, "/v1/admin/stats")
        .send()
        .await
        .unwrap();
    assert_eq!(stats.status(), 200);
    assert!(limited_total(&app, "ip_read").await > counted);
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket() {
    let app = spawn_limited(|s| {
        s.rate_limits.ip_writes_per_sec = SLOW;
        s.rate_limits.ip_write_burst = 1;
        s.server.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    assert_eq!(new_cart(&app, Some("198.51.100.1")).await.status(), 201);
    let again = new_cart(&app, Some("198.51.100.1")).await;
    assert_limited(again, "ip-write", "q=1;w=100").await;
    assert_eq!(new_cart(&app, Some("198.51.100.2")).await.status(), 201);
    // What the client wrote left of the last hop is not believed.
    let forged = new_cart(&app, Some("203.0.113.50, 198.51.100.1")).await;
    assert_eq!(forged.status(), 429);
}

#[tokio::test]
async fn without_trusted_proxies_forwarded_for_is_ignored() {
    let app = spawn_limited(|s| {
        s.rate_limits.ip_writes_per_sec = SLOW;
        s.rate_limits.ip_write_burst = 1;
    })
    .await;
    assert_eq!(new_cart(&app, Some("198.51.100.3")).await.status(), 201);
    // Another forwarded address, the same peer: the same bucket.
    let res = new_cart(&app, Some("198.51.100.4")).await;
    assert_limited(res, "ip-write", "q=1;w=100").await;
}

#[tokio::test]
async fn each_verified_customer_has_a_bucket_of_its_own() {
    let app = spawn_with_tokens(|s| {
        s.rate_limits.customer_writes_per_sec = SLOW;
        s.rate_limits.customer_write_burst = 2;
    })
    .await;
    let counted = limited_total(&app, "customer").await;
    let (alice, bob) = (token("alice", 600), token("bob", 600));
    let cart = |token: String| {
        let request = app
            .request(Method::POST, "/v1/carts")
            .bearer_auth(token)
            .json(&json!({}));
        async move { request.send().await.unwrap() }
    };
    for _ in 0..2 {
        assert_eq!(cart(alice.clone()).await.status(), 201);
    }
    assert_limited(cart(alice.clone()).await, "customer-write", "q=2;w=200").await;
    assert_eq!(cart(bob).await.status(), 201);
    assert!(limited_total(&app, "customer").await > counted);
}
