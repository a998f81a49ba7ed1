//! Payments through Stripe, against a local fake of Stripe's API
//! ([`fake`]): a paid checkout, declines, 3-D Secure completed by the
//! webhook or by a later `pay`, forged and stale webhooks, duplicated
//! events, refunds sent once, retries after 5xx, 429 and timeouts that
//! charge once, and a kill -9 between Stripe making a PaymentIntent and
//! surge hearing of it ([`crash`]).

mod crash;
pub mod fake;

use crate::carts::get_cart;
use crate::checkout::{checkout, filled_cart};
use crate::helpers::{assert_problem, json_body, spawn_with, test_settings, TestApp, ADMIN_TOKEN};
use crate::inventory::{assert_conserved, create_sku, inventory, purchase};
use crate::orders::{kind, pay_keyed, refund_keyed};
use fake::FakeStripe;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use surge::config::{Secret, Settings};
use surge::payment::stripe::signature;
use surge::payment::PaymentProvider;

const WEBHOOK_SECRET: &str = "whsec_test_surge";

/// An app paying through `fake`, patient enough for a loaded machine but
/// quick to retry.
async fn stripe_app(fake: &FakeStripe, tune: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut s = test_settings(dir.path());
    s.payment.provider = PaymentProvider::Stripe;
    s.payment.stripe_secret_key = Secret::new(fake::SECRET_KEY);
    s.payment.stripe_api_base = fake.base.clone();
    s.payment.stripe_webhook_secret = Secret::new(WEBHOOK_SECRET);
    s.payment.timeout_ms = 3000;
    s.payment.retries = 3;
    s.payment.backoff_base_ms = 5;
    s.payment.backoff_max_ms = 20;
    tune(&mut s);
    spawn_with(s, dir, Some(ADMIN_TOKEN)).await
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn event(id: &str, kind: &str, object: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"id": id, "object": "event", "type": kind,
        "data": {"object": object}}))
    .unwrap()
}

/// POSTs `payload` to the Stripe webhook route with `signature`.
async fn deliver(app: &TestApp, payload: &[u8], signature: Option<String>) -> reqwest::Response {
    let mut req = app
        .request(Method::POST, "/v1/webhooks/stripe")
        .header("Content-Type", "application/json")
        .body(payload.to_vec());
    if let Some(signature) = signature {
        req = req.header("Stripe-Signature", signature);
    }
    req.send().await.unwrap()
}

/// Delivers `payload` signed as Stripe would, now.
async fn deliver_signed(app: &TestApp, payload: &[u8]) -> reqwest::Response {
    deliver(
        app,
        payload,
        Some(signature::sign(payload, WEBHOOK_SECRET, now_secs())),
    )
    .await
}

async fn order(app: &TestApp, id: &str) -> Value {
    json_body(app.get(&format!("/v1/orders/{id}")).await, 200).await
}

/// The PaymentIntents the fake created, and the Idempotency-Keys used to
/// create them.
fn creations(fake: &FakeStripe) -> (usize, Vec<String>) {
    let log = fake.log();
    let posts: Vec<_> = log
        .iter()
        .filter(|l| l.method == "POST" && l.path == "/v1/payment_intents")
        .collect();
    let executed = posts.iter().filter(|l| l.executed).count();
    (
        executed,
        posts
            .iter()
            .map(|l| l.idempotency_key.clone().unwrap_or_default())
            .collect(),
    )
}

#[tokio::test]
async fn a_checkout_creates_confirms_and_captures_one_payment_intent() {
    let fake = FakeStripe::start();
    let app = stripe_app(&fake, |_| {}).await;
    create_sku(&app, "ST-1", 5).await;
    let cart = filled_cart(&app, "ST-1", 2).await;
    let paid = json_body(checkout(&app, &cart, "st-key-1", "pm_card_visa").await, 201).await;
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["payment"]["gateway"], "stripe");
    assert_eq!(paid["payment"]["captured"], true);
    let intent_id = paid["payment"]["authorization_id"].as_str().unwrap();
    let intent = fake.intent(intent_id);
    assert_eq!(intent["status"], "succeeded");
    assert_eq!(
        (intent["amount"].as_i64(), intent["currency"].as_str()),
        (Some(5000), Some("eur"))
    );
    assert_eq!(intent["amount_received"], 5000);
    assert_eq!(intent["metadata"]["order_id"], paid["order_id"]);
    let created = &fake.executed("POST", "/v1/payment_intents")[0];
    assert_eq!(created.form["payment_method"], "pm_card_visa");
    assert_eq!(created.form["confirm"], "true");
    assert!(created
        .idempotency_key
        .as_deref()
        .is_some_and(|k| k.starts_with("surge:checkout:ord_")));

    // A retry of the checkout is answered from the order: nothing new at Stripe.
    let again = json_body(checkout(&app, &cart, "st-key-1", "pm_card_visa").await, 201).await;
    assert_eq!(again["order_id"], paid["order_id"]);
    assert_eq!(creations(&fake).0, 1);
    assert_eq!(
        fake.executed("POST", &format!("/v1/payment_intents/{intent_id}/capture"))
            .len(),
        1
    );
    let inv = inventory(&app, "ST-1").await;
    assert_eq!(inv["sold"], 2);
    assert_conserved(&inv);
}

#[tokio::test]
async fn a_declined_card_is_402_with_its_decline_code_and_sells_nothing() {
    let fake = FakeStripe::start();
    let app = stripe_app(&fake, |_| {}).await;
    create_sku(&app, "ST-2", 5).await;
    let cart = filled_cart(&app, "ST-2", 1).await;
    let res = checkout(
        &app,
        &cart,
        "st-decline",
        "pm_card_visa_chargeDeclinedInsufficientFunds",
    )
    .await;
    let problem = assert_problem(res, 402).await;
    assert_eq!(kind(&problem), "payment-declined");
    assert_eq!(problem["decline_code"], "insufficient_funds");
    assert_eq!(get_cart(&app, &cart).await["status"], "open");
    let inv = inventory(&app, "ST-2").await;
    assert_eq!(
        (inv["sold"].as_u64(), inv["reserved"].as_u64()),
        (Some(0), Some(1))
    );
    // The cart's hold is released when its TTL passes, as after any decline.
    app.advance(Duration::from_secs(
        app.settings.cart.reservation_ttl_secs + 1,
    ));
    let released =
        crate::helpers::eventually(|| inventory(&app, "ST-2"), |inv| inv["available"] == 5).await;
    assert_conserved(&released);
    // Declines are answers, never retried: one request reached Stripe.
    assert_eq!(creations(&fake).1.len(), 1);

    // Another card, another key: a new PaymentIntent, paid.
    let cart = filled_cart(&app, "ST-2", 1).await;
    json_body(
        checkout(&app, &cart, "st-decline-2", "pm_card_visa").await,
        201,
    )
    .await;
}

/// A checkout answered 202 for 3-D Secure: (order id, PaymentIntent id).
async fn three_d_secure_checkout(app: &TestApp, cart: &str, key: &str) -> (String, String) {
    let res = checkout(app, cart, key, "pm_card_threeDSecure2Required").await;
    assert!(crate::helpers::header(&res, "location").is_some_and(|l| l.starts_with("/v1/orders/")));
    let pending = json_body(res, 202).await;
    assert_eq!(pending["status"], "awaiting_payment");
    assert_eq!(pending["next_action"]["type"], "use_stripe_sdk");
    let intent = pending["payment"]["authorization_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(pending["client_secret"], format!("{intent}_secret_fake"));
    (pending["order_id"].as_str().unwrap().to_owned(), intent)
}

#[tokio::test]
async fn three_d_secure_answers_202_and_the_webhook_completes_the_checkout_once() {
    let fake = FakeStripe::start();
    let app = stripe_app(&fake, |_| {}).await;
    create_sku(&app, "ST-3", 5).await;
    let cart = filled_cart(&app, "ST-3", 2).await;
    let (order_id, intent) = three_d_secure_checkout(&app, &cart, "st-3ds").await;
    assert_eq!(order(&app, &order_id).await["status"], "awaiting_payment");
    assert_eq!(get_cart(&app, &cart).await["status"], "checking_out");
    let held = inventory(&app, "ST-3").await;
    assert_eq!(
        (held["reserved"].as_u64(), held["sold"].as_u64()),
        (Some(2), Some(0))
    );
    // A retry of the checkout before the customer acted: the same action.
    let (again, same_intent) = three_d_secure_checkout(&app, &cart, "st-3ds").await;
    assert_eq!(
        (again, same_intent.as_str()),
        (order_id.clone(), intent.as_str())
    );

    fake.authenticate(&intent);
    let object = json!({"id": intent, "object": "payment_intent", "status": "requires_capture",
        "metadata": {"order_id": order_id}});
    let payload = event(
        "evt_3ds_1",
        "payment_intent.amount_capturable_updated",
        object,
    );
    let taken = json_body(deliver_signed(&app, &payload).await, 200).await;
    assert_eq!(
        (taken["outcome"].as_str(), taken["order_id"].as_str()),
        (Some("applied"), Some(order_id.as_str()))
    );
    let paid = order(&app, &order_id).await;
    assert_eq!(
        (
            paid["status"].as_str(),
            paid["payment"]["captured"].as_bool()
        ),
        (Some("paid"), Some(true))
    );
    assert_eq!(get_cart(&app, &cart).await["status"], "checked_out");
    let sold = inventory(&app, "ST-3").await;
    assert_eq!(
        (sold["sold"].as_u64(), sold["reserved"].as_u64()),
        (Some(2), Some(0))
    );

    // Stripe delivers the same event again: acknowledged, applied once.
    let twice = json_body(deliver_signed(&app, &payload).await, 200).await;
    assert_eq!(twice["outcome"], "duplicate");
    assert_eq!(
        fake.executed("POST", &format!("/v1/payment_intents/{intent}/capture"))
            .len(),
        1
    );
    assert_eq!(creations(&fake).0, 1);
    // The checkout's retry now answers the paid order.
    assert_eq!(
        json_body(
            checkout(&app, &cart, "st-3ds", "pm_card_threeDSecure2Required").await,
            201
        )
        .await["status"],
        "paid"
    );
}

#[tokio::test]
async fn a_failed_authentication_reopens_the_cart_and_cancels_the_payment_intent() {
    let fake = FakeStripe::start();
    let app = stripe_app(&fake, |_| {}).await;
    create_sku(&app, "ST-4", 5).await;
    let cart = filled_cart(&app, "ST-4", 1).await;
    let (order_id, intent) = three_d_secure_checkout(&app, &cart, "st-3ds-fail").await;
    fake.fail_authentication(&intent);
    let object = json!({"id": intent, "object": "payment_intent", "status": "requires_payment_method",
        "metadata": {"order_id": order_id}});
    let payload = event("evt_3ds_fail", "payment_intent.payment_failed", object);
    json_body(deliver_signed(&app, &payload).await, 200).await;
    assert_eq!(get_cart(&app, &cart).await["status"], "open");
    assert_eq!(fake.intent(&intent)["status"], "canceled");
    assert_problem(app.get(&format!("/v1/orders/{order_id}")).await, 404).await;
    assert_eq!(inventory(&app, "ST-4").await["sold"], 0);
}

#[tokio::test]
async fn forged_stale_and_unsigned_webhooks_are_refused_and_change_nothing() {
    let fake = FakeStripe::start();
    let app = stripe_app(&fake, |_| {}).await;
    create_sku(&app, "ST-5", 5).await;
    let cart = filled_cart(&app, "ST-5", 1).await;
    let (order_id, intent) = three_d_secure_checkout(&app, &cart, "st-forged").await;
    fake.authenticate(&intent);
    let object =
        json!({"id": intent, "status": "requires_capture", "metadata": {"order_id": order_id}});
    let payload = event("evt_forged", "payment_intent.succeeded", object);
    let forged = signature::sign(&payload, "whsec_attacker", now_secs());
    let stale = signature::sign(&payload, WEBHOOK_SECRET, now_secs() - 301);
    let tampered = {
        let mut other = payload.clone();
        other.extend_from_slice(b" ");
        signature::sign(&other, WEBHOOK_SECRET, now_secs())
    };
    for signature in [
        Some(forged),
        Some(stale),
        Some(tampered),
        Some("t=1,v1=zz".into()),
        None,
    ] {
        let problem = assert_problem(deliver(&app, &payload, signature).await, 400).await;
        assert_eq!(kind(&problem), "stripe-signature-invalid");
    }
    assert_eq!(order(&app, &order_id).await["status"], "awaiting_payment");
    // The genuine event still applies (a refused one was not recorded as seen).
    json_body(deliver_signed(&app, &payload).await, 200).await;
    assert_eq!(order(&app, &order_id).await["status"], "paid");
}

#[tokio::test]
async fn a_later_pay_completes_a_three_d_secure_purchase() {
    let fake = FakeStripe::start();
    let app = stripe_app(&fake, |_| {}).await;
    create_sku(&app, "ST-6", 5).await;
    let order_id = json_body(purchase(&app, "ST-6", "st-buy-6", "alice", 1).await, 201).await
        ["order_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let first = json_body(
        pay_keyed(&app, &order_id, "pm_card_threeDSecure2Required", "pay-6").await,
        202,
    )
    .await;
    assert_eq!(first["status"], "awaiting_payment");
    assert_eq!(first["next_action"]["type"], "use_stripe_sdk");
    // Retried before the customer acted: the same PaymentIntent, still waiting.
    let again = json_body(
        pay_keyed(&app, &order_id, "pm_card_threeDSecure2Required", "pay-6").await,
        202,
    )
    .await;
    assert_eq!(
        again["payment"]["authorization_id"],
        first["payment"]["authorization_id"]
    );
    fake.authenticate(first["payment"]["authorization_id"].as_str().unwrap());
    let paid = json_body(
        pay_keyed(&app, &order_id, "pm_card_threeDSecure2Required", "pay-6").await,
        200,
    )
    .await;
    assert_eq!(
        (
            paid["status"].as_str(),
            paid["payment"]["captured"].as_bool()
        ),
        (Some("paid"), Some(true))
    );
    assert_eq!(creations(&fake).0, 1);
    let inv = inventory(&app, "ST-6").await;
    assert_eq!(inv["sold"], 1);
    assert_conserved(&inv);
}

#[tokio::test]
async fn a_retried_refund_is_sent_to_stripe_once_and_a_dashboard_refund_is_recorded() {
    let fake = FakeStripe::start();
    let app = stripe_app(&fake, |_| {}).await;
    create_sku(&app, "ST-7", 5).await;
    let cart = filled_cart(&app, "ST-7", 2).await;
    let paid = json_body(
        checkout(&app, &cart, "st-refund", "pm_card_visa").await,
        201,
    )
    .await;
    let (id, intent) = (
        paid["order_id"].as_str().unwrap(),
        paid["payment"]["authorization_id"].as_str().unwrap(),
    );
    let part = Some(json!({"amount": {"amount": 1000, "currency": "EUR"}}));
    // Stripe fails the first try: retried with the same key, done once.
    fake.fail_next(&[503]);
    let first = json_body(refund_keyed(&app, id, part.clone(), "refund-1").await, 200).await;
    assert_eq!(first["payment"]["refunded"]["amount"], 1000);
    let replay = refund_keyed(&app, id, part, "refund-1").await;
    assert_eq!(
        crate::helpers::header(&replay, "idempotent-replayed").as_deref(),
        Some("true")
    );
    let refunds: Vec<_> = fake
        .log()
        .into_iter()
        .filter(|l| l.path == "/v1/refunds")
        .collect();
    assert_eq!(refunds.len(), 2, "the 503 and its retry");
    assert!(refunds
        .iter()
        .all(|l| l.idempotency_key == refunds[0].idempotency_key));
    assert_eq!(refunds.iter().filter(|l| l.executed).count(), 1);
    assert_eq!(fake.refunded(intent), 1000);

    // 1,500 more paid back in Stripe's dashboard: charge.refunded says so.
    fake.refund_in_dashboard(intent, 1500);
    let charge = json!({"id": "ch_1", "object": "charge", "payment_intent": intent, "amount_refunded": 2500});
    let taken = json_body(
        deliver_signed(&app, &event("evt_refund", "charge.refunded", charge)).await,
        200,
    )
    .await;
    assert_eq!(taken["outcome"], "applied");
    let after = order(&app, id).await;
    assert_eq!(after["payment"]["refunded"]["amount"], 2500);
    assert_eq!(
        after["status"], "paid",
        "half of 5,000 refunded: still paid"
    );
}

#[tokio::test]
async fn errors_and_timeouts_are_retried_with_the_same_idempotency_key_and_charge_once() {
    let fake = FakeStripe::start();
    let app = stripe_app(&fake, |s| s.payment.timeout_ms = 400).await;
    create_sku(&app, "ST-8", 5).await;
    let cart = filled_cart(&app, "ST-8", 1).await;
    fake.fail_next(&[500, 429]);
    json_body(checkout(&app, &cart, "st-retry", "pm_card_visa").await, 201).await;
    let (executed, keys) = creations(&fake);
    assert_eq!(
        (executed, keys.len()),
        (1, 3),
        "two refused tries, then done once"
    );
    assert!(keys.iter().all(|k| *k == keys[0]));

    // Done at Stripe but answered after our timeout: the retry is answered
    // from Stripe's first result, so one PaymentIntent, one charge.
    let cart = filled_cart(&app, "ST-8", 1).await;
    fake.answer_late(Duration::from_millis(1500));
    let paid = json_body(checkout(&app, &cart, "st-late", "pm_card_visa").await, 201).await;
    let (executed, keys) = creations(&fake);
    assert_eq!((executed, keys.len()), (2, 5));
    assert_eq!(
        keys[3], keys[4],
        "the timed-out try and its retry share their key"
    );
    assert_eq!(fake.intents().len(), 2);
    let intent = fake.intent(paid["payment"]["authorization_id"].as_str().unwrap());
    assert_eq!(intent["status"], "succeeded");
}

#[tokio::test]
async fn without_stripe_the_webhook_route_is_404() {
    let app = crate::helpers::spawn_app().await;
    let problem = assert_problem(deliver_signed(&app, b"{}").await, 404).await;
    assert_eq!(kind(&problem), "stripe-not-configured");
    let unsigned = assert_problem(deliver(&app, b"{}", None).await, 400).await;
    assert_eq!(kind(&unsigned), "stripe-signature-invalid");
}

#[tokio::test]
async fn the_stripe_secret_key_is_required_to_start_with_stripe() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut s = test_settings(dir.path());
    s.payment.provider = PaymentProvider::Stripe;
    s.payment.stripe_webhook_secret = Secret::new(WEBHOOK_SECRET);
    let err = crate::helpers::try_spawn_with(s, dir, Some(ADMIN_TOKEN))
        .await
        .err()
        .unwrap();
    assert!(err.contains("SURGE_PAYMENT__STRIPE_SECRET_KEY"), "{err}");
}

#[tokio::test]
async fn the_webhook_needs_no_customer_token_when_tokens_are_on() {
    let fake = FakeStripe::start();
    let app = stripe_app(&fake, |s| {
        s.customers.token_secret = Secret::new("s".repeat(surge::config::TOKEN_SECRET_MIN_BYTES));
    })
    .await;
    let payload = event("evt_other", "customer.created", json!({"id": "cus_1"}));
    let taken = json_body(deliver_signed(&app, &payload).await, 200).await;
    assert_eq!(taken["outcome"], "ignored");
    let problem = assert_problem(deliver(&app, &payload, None).await, 400).await;
    assert_eq!(kind(&problem), "stripe-signature-invalid");
}

#[tokio::test]
async fn a_checkout_waiting_for_the_customer_survives_a_restart_and_a_later_pay_completes_it() {
    let fake = FakeStripe::start();
    let app = stripe_app(&fake, |_| {}).await;
    create_sku(&app, "ST-9", 5).await;
    let cart = filled_cart(&app, "ST-9", 1).await;
    let (order_id, intent) = three_d_secure_checkout(&app, &cart, "st-restart").await;
    let app = app.restart().await;
    assert_eq!(get_cart(&app, &cart).await["status"], "checking_out");
    assert_eq!(order(&app, &order_id).await["status"], "awaiting_payment");
    // Still waiting: pay answers the same action.
    let waiting = pay_keyed(&app, &order_id, "pm_card_threeDSecure2Required", "pay-9").await;
    assert_eq!(
        json_body(waiting, 202).await["payment"]["authorization_id"],
        intent.as_str()
    );
    fake.authenticate(&intent);
    let paid = json_body(
        pay_keyed(&app, &order_id, "pm_card_threeDSecure2Required", "pay-9b").await,
        200,
    )
    .await;
    assert_eq!(paid["status"], "paid");
    assert_eq!(get_cart(&app, &cart).await["status"], "checked_out");
    let inv = inventory(&app, "ST-9").await;
    assert_eq!(inv["sold"], 1);
    assert_conserved(&inv);
}

#[tokio::test]
async fn an_abandoned_three_d_secure_is_given_up_when_the_cart_is_used_after_its_holds_lapse() {
    let fake = FakeStripe::start();
    let app = stripe_app(&fake, |_| {}).await;
    create_sku(&app, "ST-10", 5).await;
    let cart = filled_cart(&app, "ST-10", 1).await;
    let (order_id, intent) = three_d_secure_checkout(&app, &cart, "st-abandon").await;
    // Before the holds lapse the cart stays frozen.
    let busy = crate::carts::add_line(&app, &cart, "ST-10", 1).await;
    assert_eq!(
        kind(&assert_problem(busy, 409).await),
        "checkout-in-progress"
    );
    app.advance(Duration::from_secs(
        app.settings.cart.checkout_hold_secs + 1,
    ));
    json_body(crate::carts::add_line(&app, &cart, "ST-10", 1).await, 200).await;
    assert_eq!(get_cart(&app, &cart).await["status"], "open");
    assert_eq!(fake.intent(&intent)["status"], "canceled");
    assert_problem(app.get(&format!("/v1/orders/{order_id}")).await, 404).await;
}
