//! Admission control: past `server.writes_in_flight_max` storefront writes,
//! more get an immediate 503 with Retry-After and change nothing; reads and
//! admin calls still go through.

use crate::checkout::{checkout, filled_cart};
use crate::helpers::{assert_problem, header, json_body, spawn_with, test_settings, ADMIN_TOKEN};
use crate::inventory::{assert_conserved, create_sku, inventory, purchase};
use reqwest::Method;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::test]
async fn writes_past_the_in_flight_limit_get_a_fast_503_and_change_nothing() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut settings = test_settings(dir.path());
    settings.server.writes_in_flight_max = 1;
    // A slow gateway keeps one checkout in flight for a while.
    settings.payment.simulated.latency_ms_min = 800;
    settings.payment.simulated.latency_ms_max = 800;
    let app = Arc::new(spawn_with(settings, dir, Some(ADMIN_TOKEN)).await);
    create_sku(&app, "ADMIT-1", 10).await;
    let cart = filled_cart(&app, "ADMIT-1", 2).await;
    let before = inventory(&app, "ADMIT-1").await;

    let slow = {
        let (app, cart) = (app.clone(), cart.clone());
        tokio::spawn(async move { checkout(&app, &cart, "slow-1", "tok_ok").await.status() })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let shed = purchase(&app, "ADMIT-1", "shed-1", "bob", 1).await;
    let waited = started.elapsed();
    assert_eq!(header(&shed, "retry-after").as_deref(), Some("1"));
    let problem = assert_problem(shed, 503).await;
    assert!(problem["type"].as_str().unwrap().ends_with("/overloaded"));
    assert!(
        waited < Duration::from_millis(500),
        "shed at once, took {waited:?}"
    );
    // Reads and admin calls are not shed.
    assert_eq!(app.get("/v1/skus/ADMIT-1").await.status(), 200);
    assert_eq!(
        inventory(&app, "ADMIT-1").await,
        before,
        "the shed purchase changed nothing"
    );

    assert_eq!(slow.await.unwrap(), 201);
    // With the slot free again, the same key is a fresh purchase.
    json_body(purchase(&app, "ADMIT-1", "shed-1", "bob", 1).await, 201).await;
    let after = inventory(&app, "ADMIT-1").await;
    assert_conserved(&after);
    assert_eq!(after["sold"], json!(2));
    assert_eq!(after["reserved"], json!(1));
    let restock = app
        .admin(Method::POST, "/v1/admin/skus/ADMIT-1/restock")
        .json(&json!({"quantity": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(restock.status(), 200);
}
