//! `GET /v1/queue/{ticket}/stream`: the ticket as Server-Sent Events.

use super::{buy, id, join, open_room, ticket, token};
use crate::helpers::{eventually, header, spawn_app, Events};
use reqwest::Method;
use serde_json::{json, Value};

/// The next event of a ticket stream: its ticket.
async fn next_ticket(events: &mut Events) -> Value {
    let (event, ticket) = events.next().await;
    assert_eq!(event, "ticket");
    ticket
}

#[tokio::test]
async fn a_ticket_stream_sends_the_ticket_at_once_and_again_as_it_changes() {
    let app = spawn_app().await;
    open_room(&app, "SSE-1", 1, Value::Null, 100).await;
    let first = id(&join(&app, "SSE-1", "ann").await);
    let first = eventually(|| ticket(&app, &first), |t| t["status"] == "admitted").await;
    let second = join(&app, "SSE-1", "ben").await;
    let res = app.get(&format!("/v1/queue/{}/stream", id(&second))).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        header(&res, "content-type").as_deref(),
        Some("text/event-stream")
    );
    let mut events = Events::new(res);
    let now = next_ticket(&mut events).await;
    assert_eq!(
        now,
        ticket(&app, &id(&second)).await,
        "the same shape as a GET"
    );
    assert_eq!(
        (now["status"].clone(), now["position"].clone()),
        (json!("waiting"), json!(1))
    );

    // The last unit is bought: nothing left, the waiting ticket is sold out.
    assert_eq!(
        buy(&app, "SSE-1", "k-ann", "ann", Some(&token(&first)))
            .await
            .status(),
        201
    );
    assert_eq!(next_ticket(&mut events).await["status"], "sold_out");
    // A unit comes back: the ticket is admitted.
    let restock = app.admin(Method::POST, "/v1/admin/skus/SSE-1/restock");
    let restock = restock.json(&json!({"quantity": 1})).send().await.unwrap();
    assert_eq!(restock.status(), 200);
    let mut seen = next_ticket(&mut events).await;
    if seen["status"] == "waiting" {
        seen = next_ticket(&mut events).await;
    }
    assert_eq!(seen["status"], "admitted", "{seen}");
    assert!(seen["admission"]["token"].is_string(), "{seen}");
}
