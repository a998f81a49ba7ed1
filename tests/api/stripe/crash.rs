//! A 3-D Secure checkout on the real binary, killed with SIGKILL after
//! Stripe made its PaymentIntent and before surge heard the answer: after
//! the restart the checkout's retry (same Idempotency-Key) lands on that
//! same PaymentIntent, and the webhook completes it once: one intent, one
//! capture, the units sold once.

use super::fake::{self, FakeStripe};
use super::{creations, event, now_secs, WEBHOOK_SECRET};
use crate::inventory::assert_conserved;
use crate::process::Running;
use reqwest::{Client, Response};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use surge::payment::stripe::signature;

const SKU: &str = "ST-K9";
const KEY: &str = "k9-3ds";
const THREE_D_SECURE: &str = "pm_card_threeDSecure2Required";

/// The settings that make the binary pay through `fake`.
fn stripe_env(fake: &FakeStripe) -> Vec<(&'static str, String)> {
    vec![
        ("SURGE_PAYMENT__PROVIDER", "stripe".to_owned()),
        (
            "SURGE_PAYMENT__STRIPE_SECRET_KEY",
            fake::SECRET_KEY.to_owned(),
        ),
        ("SURGE_PAYMENT__STRIPE_API_BASE", fake.base.clone()),
        (
            "SURGE_PAYMENT__STRIPE_WEBHOOK_SECRET",
            WEBHOOK_SECRET.to_owned(),
        ),
        // Stripe's late answer must not time out before the kill.
        ("SURGE_PAYMENT__TIMEOUT_MS", "30000".to_owned()),
    ]
}

async fn start(dir: &std::path::Path, env: &[(&'static str, String)]) -> Running {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Running::start_with_env(dir, &env).await
}

async fn checkout(client: &Client, base: &str, cart: &str) -> reqwest::Result<Response> {
    client
        .post(format!("{base}/v1/carts/{cart}/checkout"))
        .header("Idempotency-Key", KEY)
        .json(&json!({"email": "k9@example.com", "payment_token": THREE_D_SECURE}))
        .send()
        .await
}

/// A cart holding two units of `SKU`.
async fn filled_cart(client: &Client, server: &Running) -> String {
    let cart = server.new_cart(client, "k9-shopper").await;
    let line = client
        .post(format!("{}/v1/carts/{cart}/lines", server.base))
        .json(&json!({"sku": SKU, "quantity": 2}))
        .send()
        .await
        .expect("line");
    assert_eq!(line.status(), 200);
    cart
}

/// Waits (10 s at most) until the fake has made one PaymentIntent.
async fn intent_made(fake: &FakeStripe) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while creations(fake).0 == 0 {
        assert!(Instant::now() < deadline, "no PaymentIntent was made");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn json_of(res: Response, status: u16) -> Value {
    assert_eq!(res.status().as_u16(), status);
    res.json().await.expect("json")
}

#[tokio::test]
async fn a_three_d_secure_checkout_killed_before_stripe_answered_is_retried_onto_its_intent() {
    let fake = FakeStripe::start();
    let env = stripe_env(&fake);
    let dir = tempfile::tempdir().expect("dir");
    let server = start(dir.path(), &env).await;
    server
        .create_product(&json!({"id": "k9", "title": "K9", "variants": [{"sku": SKU,
            "title": "One", "stock": 5, "price": {"amount": 1500, "currency": "EUR"}}]}))
        .await;
    let client = Client::new();
    let cart = filled_cart(&client, &server).await;

    // Stripe makes the PaymentIntent (it needs the customer's action) and
    // answers late: surge is killed before it hears of it.
    fake.answer_late(Duration::from_secs(5));
    let (c, base, id) = (client.clone(), server.base.clone(), cart.clone());
    let lost = tokio::spawn(async move { checkout(&c, &base, &id).await });
    intent_made(&fake).await;
    server.kill9();
    assert!(lost.await.expect("task").is_err(), "the answer is lost");

    let server = start(dir.path(), &env).await;
    let res = checkout(&client, &server.base, &cart).await.expect("retry");
    let pending = json_of(res, 202).await;
    let intent = pending["payment"]["authorization_id"]
        .as_str()
        .expect("intent");
    let made: Vec<Value> = fake.intents();
    assert_eq!(made.len(), 1, "one PaymentIntent: {made:?}");
    assert_eq!(made[0]["id"], intent, "the retry found the first one");
    assert_eq!(creations(&fake).0, 1, "Stripe acted on one creation");

    fake.authenticate(intent);
    let order_id = pending["order_id"].as_str().expect("order id");
    let object = json!({"id": intent, "object": "payment_intent", "status": "requires_capture",
        "metadata": {"order_id": order_id}});
    let payload = event("evt_k9", "payment_intent.amount_capturable_updated", object);
    let signed = signature::sign(&payload, WEBHOOK_SECRET, now_secs());
    let res = client
        .post(format!("{}/v1/webhooks/stripe", server.base))
        .header("Content-Type", "application/json")
        .header("Stripe-Signature", signed)
        .body(payload)
        .send()
        .await
        .expect("webhook");
    assert_eq!(json_of(res, 200).await["outcome"], "applied");

    let order = client
        .get(format!("{}/v1/orders/{order_id}", server.base))
        .send()
        .await
        .expect("order");
    let order = json_of(order, 200).await;
    assert_eq!(
        (
            order["status"].as_str(),
            order["payment"]["captured"].as_bool()
        ),
        (Some("paid"), Some(true))
    );
    let captures = fake.executed("POST", &format!("/v1/payment_intents/{intent}/capture"));
    assert_eq!(captures.len(), 1);
    let inv = server.inventory(&client, SKU).await;
    assert_eq!(
        (inv["sold"].as_u64(), inv["reserved"].as_u64()),
        (Some(2), Some(0))
    );
    assert_conserved(&inv);
}
