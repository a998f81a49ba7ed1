//! A waiting room survives kill -9: the real binary is killed while
//! customers join, and after a restart every acknowledged ticket is there,
//! a customer's new join returns it, and the line keeps its order.

use crate::process::Running;
use reqwest::{Client, Method};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::Mutex;

const SKU: &str = "QUEUE-1";

async fn join(client: &Client, base: &str, customer: &str) -> Option<String> {
    let res = client
        .post(format!("{base}/v1/skus/{SKU}/queue"))
        .json(&json!({"customer_id": customer}))
        .send()
        .await
        .ok()?;
    if res.status() != 201 {
        return None;
    }
    let body: Value = res.json().await.ok()?;
    body["ticket"].as_str().map(str::to_owned)
}

async fn position(client: &Client, base: &str, ticket: &str) -> u64 {
    let res = client
        .get(format!("{base}/v1/queue/{ticket}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "ticket {ticket} is gone");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "waiting", "{body}");
    body["position"].as_u64().unwrap()
}

/// Joins with `workers` concurrent customers until `acks` joins were
/// acknowledged, then kills the server while they keep going; every
/// acknowledged customer with its ticket.
async fn join_then_kill(server: Running, workers: usize, acks: usize) -> HashMap<String, String> {
    let acked = Arc::new(Mutex::new(HashMap::new()));
    let next = Arc::new(AtomicUsize::new(0));
    let tasks = (0..workers)
        .map(|_| {
            let (acked, next, base) = (acked.clone(), next.clone(), server.base.clone());
            tokio::spawn(async move {
                let client = Client::new();
                loop {
                    let customer = format!("rush-{}", next.fetch_add(1, Ordering::Relaxed));
                    let Some(ticket) = join(&client, &base, &customer).await else {
                        return;
                    };
                    acked.lock().await.insert(customer, ticket);
                }
            })
        })
        .collect();
    server.kill9_after(&acked, acks, tasks).await
}

/// A drop of `SKU` whose sale starts in 2999: every joiner is in the lottery.
async fn open_drop(server: &Running, client: &Client) {
    let product = json!({"id": "drop", "title": "Drop", "variants": [{"sku": SKU, "title": "One",
        "price": {"amount": 100, "currency": "EUR"}, "stock": 100}]});
    server.create_product(&product).await;
    let sale = json!({"per_customer_limit": null, "starts_at": "2999-01-01T00:00:00Z", "ends_at": null,
        "queue": {"enabled": true, "admit_per_sec": 10}});
    let path = format!("/v1/admin/skus/{SKU}/sale");
    let res = server
        .admin(client, Method::PUT, &path)
        .json(&sale)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// The indexes of `places` from the first place to the last.
fn ranking(places: &[u64]) -> Vec<usize> {
    let mut ranked: Vec<usize> = (0..places.len()).collect();
    ranked.sort_by_key(|&i| places[i]);
    ranked
}

async fn positions(client: &Client, base: &str, tickets: &[(String, String)]) -> Vec<u64> {
    let mut out = Vec::new();
    for (_, ticket) in tickets {
        out.push(position(client, base, ticket).await);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_tickets_survive_kill_9_with_their_order() {
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new();
    let server = Running::start(dir.path()).await;
    open_drop(&server, &client).await;
    let mut early = Vec::new();
    for n in 0..40 {
        let customer = format!("early-{n}");
        let ticket = join(&client, &server.base, &customer)
            .await
            .expect("joined");
        early.push((customer, ticket));
    }
    let before = positions(&client, &server.base, &early).await;

    let acked = join_then_kill(server, 16, 200).await;
    let server = Running::start(dir.path()).await;
    let mut places = std::collections::HashSet::new();
    for (customer, ticket) in early.iter().cloned().chain(acked) {
        let place = position(&client, &server.base, &ticket).await;
        assert!(places.insert(place), "two tickets share place {place}");
        let again = join(&client, &server.base, &customer).await;
        assert_eq!(
            again.as_deref(),
            Some(ticket.as_str()),
            "{customer} got a new ticket"
        );
    }
    let after = positions(&client, &server.base, &early).await;
    assert_eq!(
        ranking(&after),
        ranking(&before),
        "the early tickets changed places"
    );
    server.kill9();
}
