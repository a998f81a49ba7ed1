//! The dashboard's backups page over plain HTTP: it needs a session; a
//! backup taken through its form is the API's backup and a file in the
//! backup directory; a double submit makes one; a form without the CSRF
//! token is 403 and makes none; a failed backup, or one asked for while
//! another is taken, is a message on the page.

use super::web_session::{client, form_body, hidden, location, WebSession};
use crate::helpers::{eventually, json_body, spawn_with, test_settings, TestApp, ADMIN_TOKEN};
use reqwest::Method;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;

async fn listed(app: &TestApp) -> Vec<Value> {
    let list = app.admin_json("/v1/admin/backups").await;
    list["items"].as_array().expect("items").clone()
}

/// The `.backup` files in `dir`.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "backup"))
                .collect()
        })
        .unwrap_or_default()
}

/// The page's "take a backup now" form key.
async fn form_key(s: &WebSession) -> String {
    let res = s.get("/admin/backups").await;
    assert_eq!(res.status(), 200);
    hidden(&res.text().await.expect("html"), "idem").expect("idem field")
}

/// Submits the "take a backup now" form, which must be refused; returns
/// the page it leads back to, with its message.
async fn refused_form(s: &WebSession, key: &str) -> String {
    let res = s
        .post("/admin/backups", &[("csrf", &s.csrf), ("idem", key)])
        .await;
    assert_eq!(res.status(), 303);
    let back = location(&res);
    assert!(back.starts_with("/admin/backups?error="), "{back}");
    let page = s.get(&back).await;
    assert_eq!(page.status(), 200);
    page.text().await.expect("html")
}

#[tokio::test]
async fn the_backups_page_needs_a_session_and_a_form_without_one_makes_no_backup() {
    let dir = Arc::new(tempfile::tempdir().expect("dir"));
    let app = spawn_with(test_settings(dir.path()), dir.clone(), Some(ADMIN_TOKEN)).await;
    let c = client();
    let res = c.get(app.url("/admin/backups")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/admin/sign-in?next=%2Fadmin%2Fbackups");
    let res = c
        .post(app.url("/admin/backups"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&[("idem", "ui-anon")]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(listed(&app).await.is_empty());
    assert!(files_in(&dir.path().join("backups")).is_empty());
}

#[tokio::test]
async fn a_backup_taken_through_the_form_is_listed_once_even_when_submitted_twice() {
    let dir = Arc::new(tempfile::tempdir().expect("dir"));
    let mut settings = test_settings(dir.path());
    settings.backup.every_secs = 3600;
    settings.backup.keep = 3;
    let app = spawn_with(settings, dir.clone(), Some(ADMIN_TOKEN)).await;
    let s = WebSession::sign_in(&app, ADMIN_TOKEN)
        .await
        .expect("signed in");
    let before = s.get("/admin/backups").await.text().await.unwrap();
    assert!(before.contains("No backup yet."), "{before}");
    assert!(before.contains("every 1 h"), "the schedule: {before}");
    assert!(before.contains("the newest 3"), "kept: {before}");
    assert!(before.contains("surge restore "), "{before}");

    // Without the CSRF token: 403, and no backup.
    let key = form_key(&s).await;
    let res = s.post("/admin/backups", &[("idem", &key)]).await;
    assert_eq!(res.status(), 403);
    assert!(listed(&app).await.is_empty());
    assert!(files_in(&dir.path().join("backups")).is_empty());

    // The same form twice (a double click): one backup.
    let form = [("csrf", s.csrf.as_str()), ("idem", key.as_str())];
    let first = s.post("/admin/backups", &form).await;
    assert_eq!(first.status(), 303);
    let again = s.post("/admin/backups", &form).await;
    assert_eq!(again.status(), 303);
    let items = listed(&app).await;
    assert_eq!(items.len(), 1, "one backup for one form: {items:?}");
    let id = items[0]["id"].as_str().expect("id");
    let notice = format!("/admin/backups?notice=Backup%20{id}%20taken");
    assert_eq!(location(&first), notice);
    assert_eq!(
        location(&again),
        notice,
        "the retry answers the same backup"
    );
    let files = files_in(&dir.path().join("backups"));
    assert_eq!(files, vec![dir.path().join(format!("backups/{id}.backup"))]);

    let page = s.get("/admin/backups").await.text().await.unwrap();
    assert!(page.contains(id), "{page}");
    assert!(page.contains("the recovery point"), "{page}");
    assert!(
        page.contains(&format!("surge restore {}", files[0].display())),
        "the restore command names the newest: {page}"
    );
    assert!(page.contains(&items[0]["last_commit_seq"].to_string()));
}

#[tokio::test]
async fn a_backup_that_cannot_be_written_is_a_message_on_the_page() {
    let dir = Arc::new(tempfile::tempdir().expect("dir"));
    let mut settings = test_settings(dir.path());
    // A file where the backup directory should be: the backup cannot be made.
    let blocked = dir.path().join("not-a-dir");
    std::fs::write(&blocked, b"x").expect("file");
    settings.backup.dir = blocked.join("backups");
    let app = spawn_with(settings, dir.clone(), Some(ADMIN_TOKEN)).await;
    let s = WebSession::sign_in(&app, ADMIN_TOKEN)
        .await
        .expect("signed in");
    let res = s.get("/admin/backups").await;
    assert_eq!(res.status(), 200, "the page shows what it can");
    let html = res.text().await.unwrap();
    assert!(
        html.contains("The backup directory could not be read"),
        "{html}"
    );
    let key = hidden(&html, "idem").expect("idem field");
    let html = refused_form(&s, &key).await;
    assert!(
        html.contains("role=\"alert\">the backup could not be written; the cause is logged<"),
        "{html}"
    );
}

/// Whether a backup is being written in `dir` (its temporary file exists).
fn being_written(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().ends_with(".backup.tmp"))
    })
}

#[tokio::test]
async fn a_backup_asked_for_while_one_is_taken_is_refused_on_the_page_and_the_api() {
    let dir = Arc::new(tempfile::tempdir().expect("dir"));
    let app = spawn_with(test_settings(dir.path()), dir.clone(), Some(ADMIN_TOKEN)).await;
    // Over a megabyte of records: a backup paces itself block by block.
    for p in 0..100 {
        let variants: Vec<Value> = (0..50)
            .map(|v| {
                json!({"sku": format!("BIG-{p}-{v}"), "title": "x".repeat(150),
                "price": {"amount": 100, "currency": "EUR"}, "stock": 1})
            })
            .collect();
        app.created(&json!({"title": format!("Big {p}"), "variants": variants}))
            .await;
    }
    let first = app.admin(Method::POST, "/v1/admin/backups").send().await;
    let size = json_body(first.expect("backup"), 201).await["size_bytes"]
        .as_u64()
        .expect("size");
    // From now on a backup of this store is paced to take about two seconds.
    let (mut settings, dir) = app.stop().await;
    settings.backup.write_bytes_per_sec_max = (size / 2).max(1);
    let app = spawn_with(settings, dir.clone(), Some(ADMIN_TOKEN)).await;
    let s = WebSession::sign_in(&app, ADMIN_TOKEN)
        .await
        .expect("signed in");
    let key = form_key(&s).await;

    let slow = tokio::spawn(app.admin(Method::POST, "/v1/admin/backups").send());
    let backups = dir.path().join("backups");
    eventually(|| async { being_written(&backups) }, |&started| started).await;
    let html = refused_form(&s, &key).await;
    assert!(
        html.contains("role=\"alert\">a backup is being taken; retry when it is done<"),
        "{html}"
    );
    let api = app.admin(Method::POST, "/v1/admin/backups").send().await;
    let problem = json_body(api.expect("refused"), 409).await;
    assert_eq!(
        problem["type"],
        "https://surge.dev/problems/backup-in-progress"
    );

    let taken = slow.await.expect("task").expect("backup");
    json_body(taken, 201).await;
    assert_eq!(listed(&app).await.len(), 2, "the refused ones made none");
    assert_eq!(files_in(&backups).len(), 2);
}
