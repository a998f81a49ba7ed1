//! The order of the line: a lottery for those who joined before the start,
//! first come first served after it, one ticket per customer, and the same
//! order after a restart.

use super::{buy, id, in_app_time, join, join_many, open_room, statuses, ticket, token};
use crate::helpers::{assert_problem, eventually, spawn_app, TestApp};
use serde_json::{json, Value};
use std::time::Duration;

/// Each ticket's position, in the order of `ids`.
async fn positions(app: &TestApp, ids: &[String]) -> Vec<u64> {
    let mut out = Vec::new();
    for id in ids {
        out.push(
            ticket(app, id).await["position"]
                .as_u64()
                .expect("position"),
        );
    }
    out
}

/// The tickets of `ids` that read `admitted`.
async fn admitted(app: &TestApp, ids: &[String]) -> Vec<String> {
    let now = statuses(app, ids).await;
    ids.iter()
        .zip(now)
        .filter(|(_, status)| status == "admitted")
        .map(|(id, _)| id.clone())
        .collect()
}

/// `ids` sorted by the positions they hold.
fn by_place(ids: &[String], places: &[u64]) -> Vec<String> {
    let mut ranked: Vec<(u64, String)> = places.iter().copied().zip(ids.iter().cloned()).collect();
    ranked.sort();
    ranked.into_iter().map(|(_, id)| id).collect()
}

#[tokio::test]
async fn tickets_taken_before_the_start_are_served_by_lottery_not_by_arrival_also_after_a_restart()
{
    let app = spawn_app().await;
    let start = Duration::from_secs(3_600);
    // 5 units: 5 admitted at a time, the next 5 once their admissions lapse.
    open_room(&app, "LOT-1", 5, json!(in_app_time(&app, start)), 1_000).await;
    let ids = join_many(&app, "LOT-1", 20).await;
    let drawn = positions(&app, &ids).await;
    let mut places = drawn.clone();
    places.sort_unstable();
    assert_eq!(places, (1..=20).collect::<Vec<u64>>(), "{drawn:?}");
    assert_ne!(drawn, places, "the lottery kept the arrival order");
    let app = app.restart().await;
    assert_eq!(
        positions(&app, &ids).await,
        drawn,
        "the draw changed on restart"
    );

    let by_draw = by_place(&ids, &drawn);
    app.advance(start);
    eventually(|| admitted(&app, &ids), |a| a.len() == 5).await;
    assert_eq!(admitted(&app, &by_draw).await, by_draw[..5]);
    app.advance(Duration::from_secs(121));
    eventually(|| admitted(&app, &ids), |a| a.len() == 10).await;
    assert_eq!(admitted(&app, &by_draw).await, by_draw[..10]);
}

#[tokio::test]
async fn after_the_start_tickets_are_served_in_arrival_order() {
    let app = spawn_app().await;
    // One unit: one admitted at a time, the next once its admission lapses.
    open_room(&app, "FIFO-1", 1, Value::Null, 100).await;
    let ids = join_many(&app, "FIFO-1", 6).await;
    for turn in 0..2 {
        eventually(|| admitted(&app, &ids), |a| a.len() == turn + 1).await;
        assert_eq!(admitted(&app, &ids).await, ids[..=turn]);
        let waiting = positions(&app, &ids[turn + 1..]).await;
        assert_eq!(waiting, (1..=(5 - turn) as u64).collect::<Vec<u64>>());
        let last = ticket(&app, ids.last().unwrap()).await;
        assert_eq!(last["ahead"], 4 - turn as u64, "{last}");
        assert_eq!(
            last["eta_secs"],
            1,
            "{} ahead at 100 a second: {last}",
            4 - turn
        );
        app.advance(Duration::from_secs(121));
    }
}

#[tokio::test]
async fn a_second_join_returns_the_first_ticket() {
    let app = spawn_app().await;
    let start = json!(in_app_time(&app, Duration::from_secs(60)));
    open_room(&app, "ONE-1", 10, start, 10).await;
    let first = join(&app, "ONE-1", "alice").await;
    assert_eq!(first["status"], "waiting");
    assert!(first["admission"].is_null(), "{first}");
    let again = join(&app, "ONE-1", "alice").await;
    assert_eq!(again["ticket"], first["ticket"]);
    let other = join(&app, "ONE-1", "bob").await;
    assert_ne!(other["ticket"], first["ticket"]);
    let read = ticket(&app, &id(&first)).await;
    assert_eq!(read["ticket"], first["ticket"]);
    assert!(read["eta_secs"].as_u64().unwrap() >= 59, "{read}");
}

#[tokio::test]
async fn a_restart_mid_queue_keeps_every_ticket_its_place_and_its_admission() {
    let app = spawn_app().await;
    open_room(&app, "MID-1", 2, Value::Null, 100).await;
    let ids = join_many(&app, "MID-1", 5).await;
    let admitted = |s: &Vec<String>| s.iter().filter(|s| *s == "admitted").count() == 2;
    eventually(|| statuses(&app, &ids), admitted).await;
    let mut before = Vec::new();
    for id in &ids {
        before.push(ticket(&app, id).await);
    }
    let app = app.restart().await;
    for (id, was) in ids.iter().zip(&before) {
        assert_eq!(&ticket(&app, id).await, was, "changed by the restart");
    }
    let bought = buy(&app, "MID-1", "k0", "c00", Some(&token(&before[0]))).await;
    assert_eq!(bought.status(), 201);
    let app = app.restart().await;
    let used = buy(&app, "MID-1", "k1", "c00", Some(&token(&before[0]))).await;
    assert_eq!(assert_problem(used, 403).await["reason"], "used");
}
