//! The waiting room of a drop, through HTTP: who is served in which order,
//! how many are admitted, what a purchase needs, what survives a restart.
//! The admitter runs on the app's clock, so tests move time instead of
//! waiting for it (see `TestApp::advance`).

mod admissions;
mod lineup;
mod purchases;
mod stream;
mod verified;

use crate::helpers::{json_body, TestApp};
use crate::inventory::create_sku;
use reqwest::{Method, Response};
use serde_json::{json, Value};
use std::time::Duration;
use surge::clock::{rfc3339, Clock};

/// The app's time `ahead` from now, as RFC 3339.
pub fn in_app_time(app: &TestApp, ahead: Duration) -> String {
    rfc3339(app.clock.now_ms() + ahead.as_millis() as u64)
}

/// Sets `sku`'s sale: starting at `starts_at` (JSON null: open), with its
/// waiting room admitting `rate` a second (`None`: no waiting room).
pub async fn set_sale(app: &TestApp, sku: &str, starts_at: Value, rate: Option<u32>) -> Value {
    let queue = rate.map(|rate| json!({"enabled": true, "admit_per_sec": rate}));
    let body = json!({"per_customer_limit": null, "starts_at": starts_at, "ends_at": null, "queue": queue});
    let res = app
        .admin(Method::PUT, &format!("/v1/admin/skus/{sku}/sale"))
        .json(&body)
        .send()
        .await
        .expect("request");
    json_body(res, 200).await
}

/// A new SKU with `stock` units whose sale (starting at `starts_at`) has
/// its waiting room on, admitting `rate` a second.
pub async fn open_room(app: &TestApp, sku: &str, stock: u64, starts_at: Value, rate: u32) {
    create_sku(app, sku, stock).await;
    set_sale(app, sku, starts_at, Some(rate)).await;
}

pub async fn try_join(app: &TestApp, sku: &str, customer: &str) -> Response {
    app.request(Method::POST, &format!("/v1/skus/{sku}/queue"))
        .json(&json!({"customer_id": customer}))
        .send()
        .await
        .expect("request")
}

/// `customer` joins `sku`'s waiting room; its ticket (asserting 201).
pub async fn join(app: &TestApp, sku: &str, customer: &str) -> Value {
    json_body(try_join(app, sku, customer).await, 201).await
}

/// Customers `c00`, `c01`, … (`n` of them) join `sku`'s waiting room one
/// after another; their ticket ids, in that order.
pub async fn join_many(app: &TestApp, sku: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for k in 0..n {
        ids.push(id(&join(app, sku, &format!("c{k:02}")).await));
    }
    ids
}

/// Ticket `id` as `GET /v1/queue/{id}` answers it (asserting 200).
pub async fn ticket(app: &TestApp, id: &str) -> Value {
    json_body(app.get(&format!("/v1/queue/{id}")).await, 200).await
}

pub fn id(ticket: &Value) -> String {
    ticket["ticket"].as_str().expect("ticket id").to_owned()
}

/// The admission token of an admitted ticket.
pub fn token(ticket: &Value) -> String {
    ticket["admission"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("not admitted: {ticket}"))
        .to_owned()
}

/// Each ticket's status, in the order of `ids`.
pub async fn statuses(app: &TestApp, ids: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for id in ids {
        out.push(
            ticket(app, id).await["status"]
                .as_str()
                .unwrap_or("?")
                .to_owned(),
        );
    }
    out
}

/// A purchase of one unit, with `admission` in the body when given.
pub async fn buy(
    app: &TestApp,
    sku: &str,
    key: &str,
    customer: &str,
    admission: Option<&str>,
) -> Response {
    let mut body = json!({"customer_id": customer, "quantity": 1});
    if let Some(token) = admission {
        body["admission"] = json!(token);
    }
    app.request(Method::POST, &format!("/v1/skus/{sku}/purchase"))
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .expect("request")
}
