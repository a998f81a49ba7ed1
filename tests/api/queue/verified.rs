//! The waiting room with customer tokens on: a ticket is the token's
//! customer's, and its admission buys only for that customer.

use super::{id, open_room, token as admission};
use crate::customers::{spawn_with_tokens, token};
use crate::helpers::{assert_problem, json_body, TestApp};
use reqwest::{Method, Response};
use serde_json::{json, Value};

async fn join_as(app: &TestApp, bearer: Option<&str>, body: Value) -> Response {
    let req = app.request(Method::POST, "/v1/skus/VQ-1/queue").json(&body);
    let req = match bearer {
        Some(bearer) => req.bearer_auth(bearer),
        None => req,
    };
    req.send().await.expect("request")
}

#[tokio::test]
async fn a_join_is_for_the_customer_of_the_token() {
    let app = spawn_with_tokens(|_| {}).await;
    open_room(&app, "VQ-1", 5, Value::Null, 100).await;
    let alice = token("alice", 600);

    assert_problem(
        join_as(&app, None, json!({"customer_id": "alice"})).await,
        401,
    )
    .await;
    let mismatch = join_as(&app, Some(&alice), json!({"customer_id": "mallory"})).await;
    let problem = assert_problem(mismatch, 403).await;
    assert!(problem["type"]
        .as_str()
        .unwrap()
        .ends_with("/customer-mismatch"));

    // No customer_id needed: the token names her; a second join is hers too.
    let first = json_body(join_as(&app, Some(&alice), json!({})).await, 201).await;
    let again = json_body(
        join_as(&app, Some(&alice), json!({"customer_id": "alice"})).await,
        201,
    )
    .await;
    assert_eq!(id(&first), id(&again));

    // Once admitted, her admission buys for her and for nobody else.
    let ticket = crate::helpers::eventually(
        || async { super::ticket(&app, &id(&first)).await },
        |t| t["status"] == "admitted",
    )
    .await;
    let pass = admission(&ticket);
    let buy = |bearer: String, key: &'static str| {
        let pass = pass.clone();
        let app = &app;
        async move {
            app.request(Method::POST, "/v1/skus/VQ-1/purchase")
                .bearer_auth(bearer)
                .header("Idempotency-Key", key)
                .json(&json!({"quantity": 1, "admission": pass}))
                .send()
                .await
                .expect("request")
        }
    };
    assert_problem(buy(token("mallory", 600), "vq-m").await, 403).await;
    json_body(buy(alice.clone(), "vq-a").await, 201).await;
}
