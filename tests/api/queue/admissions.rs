//! Who is admitted when: never more outstanding admissions than units
//! available, an unused admission expires and frees its place, and with
//! nothing left every waiting ticket turns sold_out at once.

use super::{buy, id, join, join_many, open_room, statuses, ticket, token, try_join};
use crate::helpers::{
    assert_problem, eventually, json_body, spawn_app, spawn_with, stays, test_settings, ADMIN_TOKEN,
};
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

fn count(statuses: &[String], status: &str) -> usize {
    statuses.iter().filter(|s| *s == status).count()
}

#[tokio::test]
async fn outstanding_admissions_never_exceed_the_units_available() {
    let app = spawn_app().await;
    open_room(&app, "FEW-1", 3, Value::Null, 1_000).await;
    let ids = join_many(&app, "FEW-1", 10).await;
    eventually(|| statuses(&app, &ids), |s| count(s, "admitted") == 3).await;
    stays(|| statuses(&app, &ids), |s| count(s, "admitted") == 3).await;
    // One buys: 2 units left, 2 admissions outstanding, nobody more.
    let first = ticket(&app, &ids[0]).await;
    let res = buy(&app, "FEW-1", "k0", "c00", Some(&token(&first))).await;
    let order = json_body(res, 201).await;
    stays(|| statuses(&app, &ids), |s| count(s, "admitted") == 3).await;
    // Its unpaid order is cancelled: the unit is back, the next is let in.
    let path = format!("/v1/orders/{}/cancel", order["order_id"].as_str().unwrap());
    let res = app.request(Method::POST, &path).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let now = eventually(|| statuses(&app, &ids), |s| count(s, "admitted") == 4).await;
    assert_eq!(now[3], "admitted", "the next in line: {now:?}");
}

#[tokio::test]
async fn at_most_admit_per_sec_are_admitted_in_a_second() {
    let app = spawn_app().await;
    let start = Duration::from_secs(60);
    open_room(
        &app,
        "RATE-1",
        100,
        json!(super::in_app_time(&app, start)),
        2,
    )
    .await;
    let ids = join_many(&app, "RATE-1", 12).await;
    let opened = std::time::Instant::now();
    app.advance(start);
    eventually(|| statuses(&app, &ids), |s| count(s, "admitted") >= 2).await;
    let admitted = count(&statuses(&app, &ids).await, "admitted");
    // The clock keeps flowing: 2 in the first second, 2 more each second after.
    let seconds = opened.elapsed().as_secs() as usize + 1;
    assert!(
        admitted <= 2 * seconds,
        "{admitted} admitted in {seconds} s"
    );
    app.advance(Duration::from_secs(1));
    eventually(
        || statuses(&app, &ids),
        |s| count(s, "admitted") >= admitted + 2,
    )
    .await;
}

#[tokio::test]
async fn an_unused_admission_that_expires_frees_its_place_for_the_next_in_line() {
    let app = spawn_app().await;
    open_room(&app, "TTL-1", 1, Value::Null, 100).await;
    let (first, second) = (
        join(&app, "TTL-1", "ann").await,
        join(&app, "TTL-1", "ben").await,
    );
    let ids = [id(&first), id(&second)];
    let first = eventually(|| ticket(&app, &ids[0]), |t| t["status"] == "admitted").await;
    assert_eq!(ticket(&app, &ids[1]).await["position"], 1);
    // The default admission_ttl_secs is 120.
    app.advance(Duration::from_secs(121));
    let second = eventually(|| ticket(&app, &ids[1]), |t| t["status"] == "admitted").await;
    let late = buy(&app, "TTL-1", "k-ann", "ann", Some(&token(&first))).await;
    assert_eq!(assert_problem(late, 403).await["reason"], "expired");
    let res = buy(&app, "TTL-1", "k-ben", "ben", Some(&token(&second))).await;
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn with_no_unit_left_and_no_admission_outstanding_every_waiting_ticket_turns_sold_out() {
    let app = spawn_app().await;
    open_room(&app, "LAST-1", 1, Value::Null, 100).await;
    let ids = join_many(&app, "LAST-1", 4).await;
    let first = eventually(|| ticket(&app, &ids[0]), |t| t["status"] == "admitted").await;
    assert_eq!(statuses(&app, &ids[1..]).await, ["waiting"; 3]);
    let res = buy(&app, "LAST-1", "k0", "c00", Some(&token(&first))).await;
    assert_eq!(res.status(), 201);
    eventually(|| statuses(&app, &ids[1..]), |s| count(s, "sold_out") == 3).await;
    let late = join(&app, "LAST-1", "late").await;
    assert_eq!(late["status"], "sold_out");
    assert_eq!(
        (late["position"].clone(), late["eta_secs"].clone()),
        (json!(0), json!(0))
    );
    // A restock brings units back: the room opens again, in the same order.
    let restock = app
        .admin(Method::POST, "/v1/admin/skus/LAST-1/restock")
        .json(&json!({"quantity": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(restock.status(), 200);
    let now = eventually(|| statuses(&app, &ids[1..]), |s| s[0] == "admitted").await;
    assert_eq!(now[1..], ["waiting", "waiting"]);
}

#[tokio::test]
async fn tickets_per_sku_are_bounded_and_holders_keep_theirs() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut settings = test_settings(dir.path());
    settings.queue.tickets_per_sku_max = 3;
    let app = spawn_with(settings, dir, Some(ADMIN_TOKEN)).await;
    open_room(&app, "BOUND-1", 10, json!("2999-01-01T00:00:00Z"), 10).await;
    let first = join_many(&app, "BOUND-1", 3).await;
    let full = assert_problem(try_join(&app, "BOUND-1", "c3").await, 409).await;
    assert!(
        full["type"].as_str().unwrap().ends_with("/queue-full"),
        "{full}"
    );
    assert_eq!(full["max"], 3);
    assert_eq!(
        join(&app, "BOUND-1", "c01").await["ticket"],
        first[1].as_str()
    );
}
