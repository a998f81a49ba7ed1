//! The live event stream: Server-Sent Events of stock changes.

use crate::helpers::{
    assert_problem, header, spawn_with, test_settings, Events, TestApp, ADMIN_TOKEN,
};
use crate::inventory::create_sku;
use std::sync::Arc;
use std::time::Duration;

/// Reads `stock` events from an open stream until one says sold out;
/// returns the available counts seen, in order.
async fn read_until_sold_out(res: reqwest::Response) -> Vec<u64> {
    let mut events = Events::new(res);
    let mut seen = Vec::new();
    loop {
        let (event, update) = events.next().await;
        assert_eq!(event, "stock");
        assert_eq!(update["sku"], "LIVE-1");
        let available = update["available"].as_u64().expect("available");
        assert_eq!(update["sold_out"], available == 0);
        seen.push(available);
        if available == 0 {
            return seen;
        }
    }
}

async fn small_app(clients_max: usize) -> TestApp {
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let mut settings = test_settings(dir.path());
    settings.events.stream_clients_max = clients_max;
    // A gone client is noticed at the next write: keep-alives come often.
    settings.events.stream_keepalive_secs = 1;
    spawn_with(settings, dir, Some(ADMIN_TOKEN)).await
}

#[tokio::test]
async fn a_stream_client_sees_stock_fall_to_zero() {
    let app = small_app(10).await;
    create_sku(&app, "LIVE-1", 3).await;
    create_sku(&app, "OTHER-1", 3).await;
    let res = app.get("/v1/events/stream?skus=LIVE-1").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        header(&res, "content-type").as_deref(),
        Some("text/event-stream")
    );
    let buyer = {
        let app_url = app.address.clone();
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            for n in 0..4 {
                // The other SKU's changes must not reach a filtered stream.
                for sku in ["OTHER-1", "LIVE-1"] {
                    let _ = client
                        .post(format!("{app_url}/v1/skus/{sku}/purchase"))
                        .header("Idempotency-Key", format!("{sku}-{n}"))
                        .json(&serde_json::json!({"customer_id": format!("c{n}"), "quantity": 1}))
                        .send()
                        .await;
                }
            }
        })
    };
    let seen = read_until_sold_out(res).await;
    buyer.await.expect("buyer");
    // The current count first, then every change down to zero.
    assert_eq!(seen, [3, 2, 1, 0]);
}

#[tokio::test]
async fn streams_are_limited_and_filters_validated() {
    let app = small_app(1).await;
    create_sku(&app, "LIVE-1", 1).await;
    let first = app.get("/v1/events/stream").await;
    assert_eq!(first.status(), 200);
    let second = app.get("/v1/events/stream").await;
    assert_eq!(header(&second, "retry-after").as_deref(), Some("5"));
    assert_problem(second, 503).await;
    drop(first);
    // The slot is given back once the server notices the client is gone
    // (at its next keep-alive).
    let mut admitted = false;
    for _ in 0..200 {
        let res = app.get("/v1/events/stream?skus=LIVE-1").await;
        if res.status() == 200 {
            admitted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(admitted, "a closed stream must free its slot");
    let problem = assert_problem(app.get("/v1/events/stream?skus=LIVE-1,a%20b").await, 400).await;
    assert_eq!(problem["errors"][0]["field"], "skus[1]");
}
