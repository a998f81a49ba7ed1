//! Online backups through the real server and the real binary: a backup
//! taken under concurrent purchases restores (with `surge restore`) into a
//! store that `surge check` finds clean and that serves every order
//! acknowledged before the backup was asked for; kill -9 in the middle of
//! a backup leaves the older backups and the store intact; a flipped byte
//! makes restore and check refuse the file; restore refuses a non-empty
//! directory without --force; rotation keeps `keep`; a scheduled backup
//! follows the server's clock; bad requests are problems.

use crate::check::assert_clean;
use crate::helpers::{
    assert_problem, eventually, header, json_body, spawn_app, spawn_with, test_settings, TestApp,
};
use crate::inventory::{create_sku, purchase};
use crate::process::{Running, TOKEN};
use reqwest::{Client, Method};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

fn surge(args: &[&str], paths: &[&Path]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_surge"));
    cmd.args(args).args(paths);
    cmd.output().expect("run surge")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

async fn backup(app: &TestApp) -> Value {
    let res = app.admin(Method::POST, "/v1/admin/backups").send().await;
    json_body(res.expect("backup"), 201).await
}

async fn listed(app: &TestApp) -> Vec<Value> {
    let list = app.admin_json("/v1/admin/backups").await;
    list["items"].as_array().expect("items").clone()
}

/// `surge restore file --data-dir dir`, asserting exit 0.
fn restore(file: &Path, dir: &Path) {
    let out = surge(&["restore"], &[file, Path::new("--data-dir"), dir]);
    assert_eq!(out.status.code(), Some(0), "surge restore: {}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_under_purchases_restores_to_a_clean_store_serving_every_order_acknowledged_before_it(
) {
    let app = Arc::new(spawn_app().await);
    create_sku(&app, "BK-1", 100_000).await;
    create_sku(&app, "BK-2", 100_000).await;
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut buyers = Vec::new();
    for b in 0..16 {
        let (app, acked) = (app.clone(), acked.clone());
        buyers.push(tokio::spawn(async move {
            for n in 0..40 {
                let sku = ["BK-1", "BK-2"][n % 2];
                let key = format!("bk-{b}-{n}");
                let res = purchase(&app, sku, &key, &format!("buyer-{b}-{n}"), 1).await;
                if res.status() == 201 {
                    let order: Value = res.json().await.expect("order");
                    let id = order["order_id"].as_str().expect("id").to_owned();
                    acked.lock().await.push(id);
                }
            }
        }));
    }
    eventually(|| async { acked.lock().await.len() }, |n| *n >= 100).await;
    // Every order acknowledged before the request is in the backup.
    let before: Vec<String> = acked.lock().await.clone();
    let made = backup(&app).await;
    for buyer in buyers {
        buyer.await.expect("buyer");
    }
    assert!(made["last_commit_seq"].as_u64().expect("seq") > 0, "{made}");
    assert!(made["records"].as_u64().expect("records") > 0, "{made}");
    let file = PathBuf::from(made["file"].as_str().expect("file"));
    assert!(file.is_file(), "{made}");
    assert_eq!(listed(&app).await[0]["id"], made["id"]);

    let check = surge(&["check"], &[&file]);
    assert_eq!(
        check.status.code(),
        Some(0),
        "surge check: {}",
        text(&check)
    );
    let fresh = Arc::new(tempfile::tempdir().expect("dir"));
    restore(&file, fresh.path());
    assert_clean(fresh.path());
    let restored = spawn_with(test_settings(fresh.path()), fresh.clone(), Some("t")).await;
    for id in &before {
        let res = restored.get(&format!("/v1/orders/{id}")).await;
        assert_eq!(
            res.status(),
            200,
            "order {id} acknowledged before the backup"
        );
    }
    // A restored node sells on from the backup's stock.
    let sold = json_body(purchase(&restored, "BK-1", "after", "late", 1).await, 201).await;
    assert!(sold["order_id"].is_string());
}

#[tokio::test]
async fn a_retried_key_makes_no_second_backup_and_rotation_keeps_the_newest() {
    let dir = Arc::new(tempfile::tempdir().expect("dir"));
    let mut settings = test_settings(dir.path());
    settings.backup.keep = 2;
    let app = spawn_with(settings, dir, Some("t")).await;
    create_sku(&app, "ROT-1", 5).await;
    let keyed = || {
        app.admin(Method::POST, "/v1/admin/backups")
            .header("Idempotency-Key", "nightly-1")
    };
    let first = keyed().send().await.expect("backup");
    assert!(header(&first, "location").is_some());
    let first = json_body(first, 201).await;
    let again = keyed().send().await.expect("retry");
    assert_eq!(
        header(&again, "idempotent-replayed").as_deref(),
        Some("true")
    );
    assert_eq!(json_body(again, 201).await["id"], first["id"]);
    assert_eq!(
        listed(&app).await.len(),
        1,
        "the retry made no second backup"
    );

    let second = backup(&app).await;
    let third = backup(&app).await;
    let ids: Vec<Value> = listed(&app).await.iter().map(|b| b["id"].clone()).collect();
    assert_eq!(ids, vec![third["id"].clone(), second["id"].clone()]);
    let gone = app
        .admin(
            Method::GET,
            &format!("/v1/admin/backups/{}", first["id"].as_str().unwrap()),
        )
        .send()
        .await
        .expect("get");
    assert_problem(gone, 404).await;
    // The key's backup was rotated out: its replay is no 201 pointing at it.
    let replayed = keyed().send().await.expect("retry after rotation");
    let problem = assert_problem(replayed, 409).await;
    assert_eq!(
        problem["type"],
        "https://surge.dev/problems/backup-removed-since"
    );
    assert_eq!(problem["id"], first["id"]);
    let one = app
        .admin_json(&format!(
            "/v1/admin/backups/{}",
            third["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(one, third);
    let metrics = app.get("/metrics").await.text().await.expect("metrics");
    assert!(
        metrics.contains("surge_backup_newest_age_seconds"),
        "{metrics}"
    );
    assert!(
        metrics.contains("surge_backup_last_duration_seconds"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_scheduled_backup_follows_the_servers_clock() {
    let dir = Arc::new(tempfile::tempdir().expect("dir"));
    let mut settings = test_settings(dir.path());
    settings.backup.every_secs = 3600;
    let app = spawn_with(settings, dir, Some("t")).await;
    assert!(listed(&app).await.is_empty(), "none before an hour passed");
    app.advance(Duration::from_secs(3601));
    let found = eventually(|| listed(&app), |items| !items.is_empty()).await;
    assert_eq!(found.len(), 1);
}

#[tokio::test]
async fn bad_backup_requests_are_problems_and_change_nothing() {
    let app = spawn_app().await;
    let no_token = app.request(Method::POST, "/v1/admin/backups").send().await;
    assert_problem(no_token.expect("post"), 401).await;
    let bad_key = app
        .admin(Method::POST, "/v1/admin/backups")
        .header("Idempotency-Key", "x".repeat(300))
        .send()
        .await;
    assert_problem(bad_key.expect("post"), 400).await;
    for id in ["nope", "..%2F..%2Fetc", "a.backup"] {
        let res = app
            .admin(Method::GET, &format!("/v1/admin/backups/{id}"))
            .send()
            .await;
        assert_problem(res.expect("get"), 404).await;
    }
    assert!(listed(&app).await.is_empty());
}

#[tokio::test]
async fn a_flipped_byte_makes_restore_and_check_refuse_and_a_full_directory_needs_force() {
    let app = spawn_app().await;
    create_sku(&app, "FLIP-1", 50).await;
    json_body(purchase(&app, "FLIP-1", "f1", "ann", 1).await, 201).await;
    let made = backup(&app).await;
    let file = PathBuf::from(made["file"].as_str().expect("file"));

    let damaged_dir = tempfile::tempdir().expect("dir");
    let damaged = damaged_dir.path().join("damaged.backup");
    let mut bytes = std::fs::read(&file).expect("read");
    let at = bytes
        .windows(4)
        .position(|w| w == b"ord/")
        .expect("an order record");
    let flip = at + 30;
    bytes[flip] ^= 0x01;
    std::fs::write(&damaged, bytes).expect("write");
    let target = tempfile::tempdir().expect("dir");
    let out = surge(
        &["restore"],
        &[&damaged, Path::new("--data-dir"), target.path()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("checksum"), "{}", text(&out));
    assert!(
        text(&out).contains("nothing was restored"),
        "{}",
        text(&out)
    );
    assert_eq!(std::fs::read_dir(target.path()).expect("ls").count(), 0);
    let out = surge(&["check", "--backup"], &[&damaged]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("problem:"), "{}", text(&out));

    restore(&file, target.path());
    let refused = surge(
        &["restore"],
        &[&file, Path::new("--data-dir"), target.path()],
    );
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("is not empty"),
        "{}",
        text(&refused)
    );
    assert!(text(&refused).contains("--force"), "{}", text(&refused));
    let forced = surge(
        &["restore", "--force"],
        &[&file, Path::new("--data-dir"), target.path()],
    );
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced));
    assert_clean(target.path());
}

/// Products with long descriptions: a store of several MiB, for a backup
/// that takes a while at a capped write rate.
async fn fill(server: &Running, products: std::ops::Range<usize>) {
    let client = Client::new();
    let long = "x".repeat(2000);
    for p in products {
        let body = json!({
            "id": format!("big-{p}"), "title": format!("Big {p}"), "description": long,
            "variants": [{"sku": format!("BIG-{p}"), "title": "One",
                "price": {"amount": 100, "currency": "EUR"}, "stock": 5}]
        });
        let res = server
            .admin(&client, Method::POST, "/v1/admin/products")
            .json(&body)
            .send()
            .await
            .expect("create");
        assert_eq!(res.status(), 201);
    }
}

#[tokio::test]
async fn kill_9_during_a_backup_leaves_the_older_backups_and_the_store_intact() {
    let dir = tempfile::tempdir().expect("dir");
    let backups = dir.path().join("backups");
    // 64 KiB/s: after its first MiB the backup waits about 16 s.
    let slow = [("SURGE_BACKUP__WRITE_BYTES_PER_SEC_MAX", "65536")];
    let server = Running::start_with_env(dir.path(), &slow).await;
    fill(&server, 0..20).await;
    let client = Client::new();
    let older = server
        .admin(&client, Method::POST, "/v1/admin/backups")
        .send()
        .await
        .expect("older backup");
    let older = json_body(older, 201).await;
    let older_file = PathBuf::from(older["file"].as_str().expect("file"));
    fill(&server, 20..1500).await;
    let base = server.base.clone();
    let pending = tokio::spawn(async move {
        let url = format!("{base}/v1/admin/backups");
        Client::new().post(url).bearer_auth(TOKEN).send().await
    });
    let temp = eventually(
        || async { temp_files(&backups) },
        |temps: &Vec<PathBuf>| !temps.is_empty(),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.kill9();
    assert!(
        pending.await.expect("join").is_err(),
        "the backup never answered"
    );
    assert!(temp[0].exists(), "the half-written backup is a temp file");
    let complete: Vec<PathBuf> = std::fs::read_dir(&backups)
        .expect("ls")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "backup"))
        .collect();
    assert_eq!(
        complete,
        vec![older_file.clone()],
        "only the older backup is complete"
    );
    let out = surge(&["check"], &[&older_file]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_clean(dir.path());

    let server = Running::start(dir.path()).await;
    let product = server
        .admin_get(&client, "/v1/admin/skus/BIG-1499/inventory")
        .await;
    assert_eq!(product["stocked"], 5, "{product}");
    let fresh = server
        .admin(&client, Method::POST, "/v1/admin/backups")
        .send()
        .await
        .expect("backup after restart");
    json_body(fresh, 201).await;
    assert!(
        temp_files(&backups).is_empty(),
        "the stale temp file was removed"
    );
}

fn temp_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".backup.tmp"))
        .collect()
}
