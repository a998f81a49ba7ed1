//! A partial refund retried after its answer was lost refunds once, also
//! when the real `surge` binary was killed with SIGKILL between the refund's
//! commit and its answer: the refund and its receipt are one commit, so
//! after the restart the retry is answered from the receipt.

use crate::process::{Running, TOKEN};
use reqwest::Client;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use tokio::sync::Mutex;

const SKU: &str = "RFC-1";
/// Each order is 10 000 cents; each refund gives back 100 of them.
const PRICE: i64 = 10_000;
const STEP: i64 = 100;
/// Refunds per order at most (half of what was paid).
const STEPS_MAX: usize = 50;

fn refund_body() -> Value {
    json!({"amount": {"amount": STEP, "currency": "EUR"}})
}

/// `count` paid orders of one unit each, through carts and checkouts.
async fn paid_orders(server: &Running, client: &Client, count: usize) -> Vec<String> {
    let mut orders = Vec::new();
    for n in 0..count {
        let base = &server.base;
        let cart = &server.new_cart(client, &format!("c{n}")).await;
        let line = json!({"sku": SKU, "quantity": 1});
        let res = client
            .post(format!("{base}/v1/carts/{cart}/lines"))
            .json(&line)
            .send()
            .await
            .expect("line");
        assert_eq!(res.status(), 200);
        let order: Value = client
            .post(format!("{base}/v1/carts/{cart}/checkout"))
            .header("Idempotency-Key", format!("co-{n}"))
            .json(&json!({"email": "a@example.com", "payment_token": "tok_ok"}))
            .send()
            .await
            .expect("checkout")
            .json()
            .await
            .expect("order json");
        assert_eq!(order["status"], "paid", "{order}");
        orders.push(order["order_id"].as_str().expect("order id").to_owned());
    }
    orders
}

async fn refund(
    base: &str,
    client: &Client,
    order: &str,
    key: &str,
) -> reqwest::Result<reqwest::Response> {
    client
        .post(format!("{base}/v1/admin/orders/{order}/refund"))
        .bearer_auth(TOKEN)
        .header("Idempotency-Key", key)
        .json(&refund_body())
        .send()
        .await
}

async fn refunded(server: &Running, client: &Client, order: &str) -> i64 {
    let res = client
        .get(format!("{}/v1/orders/{order}", server.base))
        .send()
        .await
        .expect("get order");
    let order: Value = res.json().await.expect("order json");
    order["payment"]["refunded"]["amount"]
        .as_i64()
        .expect("refunded")
}

/// Sends a refund and hangs up without reading the answer: the answer is
/// lost, the refund (run to completion by the server) is not.
fn refund_and_hang_up(server: &Running, order: &str, key: &str) {
    let address = server.base.trim_start_matches("http://");
    let body = refund_body().to_string();
    let request = format!(
        "POST /v1/admin/orders/{order}/refund HTTP/1.1\r\nHost: {address}\r\n\
         Authorization: Bearer {token}\r\nIdempotency-Key: {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {len}\r\n\r\n{body}",
        token = TOKEN,
        len = body.len(),
    );
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream.write_all(request.as_bytes()).expect("send");
    drop(stream);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_whose_answer_was_lost_before_a_kill_9_is_replayed_once() {
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new();
    let server = Running::start(dir.path()).await;
    server.create_product(&product()).await;
    let orders = paid_orders(&server, &client, 2).await;
    let (lost, witness) = (&orders[0], &orders[1]);

    refund_and_hang_up(&server, lost, "lost-1");
    crate::helpers::eventually(|| refunded(&server, &client, lost), |r| *r == STEP).await;
    // Commits are flushed in order: once a later one is acknowledged, the
    // lost refund's commit is durable too.
    let res = refund(&server.base, &client, witness, "witness-1")
        .await
        .expect("witness");
    assert_eq!(res.status(), 200);
    server.kill9();

    let server = Running::start(dir.path()).await;
    let retry = refund(&server.base, &client, lost, "lost-1")
        .await
        .expect("retry");
    assert_eq!(retry.status(), 200);
    assert_eq!(retry.headers()["Idempotent-Replayed"], "true");
    let order: Value = retry.json().await.expect("json");
    assert_eq!(order["payment"]["refunded"]["amount"], STEP, "{order}");
    assert_eq!(
        refunded(&server, &client, lost).await,
        STEP,
        "refunded once"
    );
    server.kill9();
}

fn product() -> Value {
    json!({"id": "refund-crash", "title": "Refund crash", "variants": [
        {"sku": SKU, "title": SKU, "stock": 1000, "price": {"amount": PRICE, "currency": "EUR"}}
    ]})
}

/// What one order's refunds were: every key sent (in order), and the
/// answers received.
#[derive(Clone, Default)]
struct Sent {
    keys: Vec<String>,
    answers: HashMap<String, Value>,
}

/// Refunds each of `orders` step by step until the server is gone.
async fn refund_until_killed(
    base: String,
    orders: Vec<String>,
    sent: Arc<Mutex<HashMap<String, Sent>>>,
    acked: Arc<Mutex<HashMap<String, ()>>>,
) {
    let client = Client::new();
    for step in 0..STEPS_MAX {
        for order in &orders {
            let key = format!("rf-{order}-{step}");
            sent.lock()
                .await
                .entry(order.clone())
                .or_default()
                .keys
                .push(key.clone());
            let Ok(res) = refund(&base, &client, order, &key).await else {
                return;
            };
            assert_eq!(res.status(), 200, "{key}");
            let Ok(body) = res.json::<Value>().await else {
                return;
            };
            let mut sent = sent.lock().await;
            if let Some(s) = sent.get_mut(order) {
                s.answers.insert(key.clone(), body);
            }
            acked.lock().await.insert(key, ());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_refunds_under_load_refund_once_across_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new();
    let server = Running::start(dir.path()).await;
    server.create_product(&product()).await;
    let orders = paid_orders(&server, &client, 16).await;

    let sent = Arc::new(Mutex::new(HashMap::new()));
    let acked = Arc::new(Mutex::new(HashMap::new()));
    let workers = orders
        .chunks(2)
        .map(|mine| {
            let run = refund_until_killed(
                server.base.clone(),
                mine.to_vec(),
                sent.clone(),
                acked.clone(),
            );
            tokio::spawn(run)
        })
        .collect();
    server.kill9_after(&acked, 150, workers).await;

    let server = Running::start(dir.path()).await;
    let sent = sent.lock().await.clone();
    let (mut replayed, mut lost_then_replayed) = (0, 0);
    for order in &orders {
        let Some(record) = sent.get(order) else {
            continue;
        };
        for key in &record.keys {
            let res = refund(&server.base, &client, order, key)
                .await
                .expect("retry");
            assert_eq!(res.status(), 200, "retry of {key}");
            let again = res.headers().get("Idempotent-Replayed").is_some();
            let body: Value = res.json().await.expect("json");
            match record.answers.get(key) {
                Some(first) => {
                    assert!(again, "an acknowledged refund {key} ran again");
                    assert_eq!(&body, first, "the retry of {key} answered differently");
                    replayed += 1;
                }
                None if again => lost_then_replayed += 1,
                None => {}
            }
        }
        let expected = STEP * record.keys.len() as i64;
        assert_eq!(
            refunded(&server, &client, order).await,
            expected,
            "{order}: each key refunds exactly once"
        );
    }
    eprintln!(
        "refund crash: {replayed} acknowledged refunds replayed, {lost_then_replayed} \
         committed but unanswered at the kill replayed"
    );
    server.kill9();
}
