//! Crash safety: the real `surge` binary is killed with SIGKILL in the middle
//! of a sale and restarted on the same store. Every acknowledged order must
//! be there, the conservation law must hold, and acknowledged keys replay.

use crate::process::Running;
use reqwest::Client;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Mutex;

/// Buys with `connections` concurrent buyers until `acks` purchases were
/// acknowledged, then kills the server while the buyers keep going.
/// Returns every acknowledged key with its order id.
async fn buy_then_kill(
    server: Running,
    sku: &str,
    cycle: usize,
    connections: usize,
    acks: usize,
) -> HashMap<String, String> {
    let acked = Arc::new(Mutex::new(HashMap::new()));
    let base = server.base.clone();
    let buyers: Vec<_> = (0..connections)
        .map(|b| {
            let (acked, base, sku) = (acked.clone(), base.clone(), sku.to_owned());
            tokio::spawn(async move {
                let client = Client::new();
                for n in 0.. {
                    let key = format!("c{cycle}-b{b}-n{n}");
                    let res = client
                        .post(format!("{base}/v1/skus/{sku}/purchase"))
                        .header("Idempotency-Key", &key)
                        .json(&json!({"customer_id": format!("cust-{b}"), "quantity": 1}))
                        .send()
                        .await;
                    let Ok(res) = res else { return };
                    if res.status() == 201 {
                        let Ok(body) = res.json::<Value>().await else {
                            return;
                        };
                        let id = body["order_id"].as_str().unwrap_or_default().to_owned();
                        acked.lock().await.insert(key, id);
                    }
                }
            })
        })
        .collect();
    server.kill9_after(&acked, acks, buyers).await
}

/// Every acknowledged order exists and replays; stock is conserved.
async fn check_after_restart(server: &Running, sku: &str, acked: &HashMap<String, String>) {
    let client = Client::new();
    let inv = server.inventory(&client, sku).await;
    let n = |k: &str| inv[k].as_u64().unwrap();
    assert_eq!(
        n("available") + n("reserved") + n("sold"),
        n("stocked"),
        "{inv}"
    );
    assert!(
        n("reserved") as usize >= acked.len(),
        "an acknowledged hold was lost: {inv}"
    );
    for (key, id) in acked {
        let res = client
            .get(format!("{}/v1/orders/{id}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            200,
            "acknowledged order {id} is missing after the crash"
        );
        let customer = key
            .split('-')
            .nth(1)
            .map(|b| format!("cust-{}", &b[1..]))
            .unwrap();
        let replay = client
            .post(format!("{}/v1/skus/{sku}/purchase", server.base))
            .header("Idempotency-Key", key)
            .json(&json!({"customer_id": customer, "quantity": 1}))
            .send()
            .await
            .unwrap();
        assert_eq!(replay.status(), 201, "replay of {key}");
        assert_eq!(replay.headers()["Idempotent-Replayed"], "true");
        assert_eq!(
            replay.json::<Value>().await.unwrap()["order_id"],
            id.as_str()
        );
    }
}

/// The store's journal in cycle `cycle`: `first` in even cycles, the other
/// way in odd ones, so a store killed with writes in its journal is also
/// opened without it (which indexes them first), and the reverse.
fn journal_env(first: bool, cycle: usize) -> [(&'static str, &'static str); 1] {
    let on = first == (cycle % 2 == 0);
    [("SURGE_STORE__JOURNAL", if on { "true" } else { "false" })]
}

async fn crash_cycles(cycles: usize, stock: u64, journal_first: bool) {
    let dir = tempfile::tempdir().unwrap();
    let server = Running::start_with_env(dir.path(), &journal_env(journal_first, 0)).await;
    let product = json!({"id": "crash", "title": "Crash", "category": "test",
        "variants": [{"sku": "CRASH-1", "title": "One", "price": {"amount": 100, "currency": "EUR"}, "stock": stock}]});
    server.create_product(&product).await;
    let mut server = server;
    let mut acked = HashMap::new();
    for cycle in 0..cycles {
        acked.extend(buy_then_kill(server, "CRASH-1", cycle, 32, 40).await);
        crate::check::assert_clean(dir.path());
        server = Running::start_with_env(dir.path(), &journal_env(journal_first, cycle + 1)).await;
        check_after_restart(&server, "CRASH-1", &acked).await;
    }
    server.kill9();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_purchases_survive_kill_9_mid_sale() {
    crash_cycles(1, 100_000, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_purchases_survive_kill_9_mid_sale_with_the_store_journal() {
    crash_cycles(2, 100_000, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: many kill -9 cycles; run with --ignored"]
async fn acknowledged_purchases_survive_many_kill_9_cycles() {
    crash_cycles(15, 1_000_000, true).await;
}
