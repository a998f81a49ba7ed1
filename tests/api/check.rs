//! `surge check` on real stores, through the real binary: a store after a
//! mixed load is clean (exit 0, a summary) and not written to; a flipped
//! byte and an inconsistent stock record are named (exit 1); the store of
//! a running server is refused (exit 2).

use crate::checkout::filled_cart;
use crate::helpers::{json_body, spawn_app, TestApp};
use crate::inventory::{create_sku, purchase};
use crate::orders::{admin_step, paid_order, pay, refund};
use crate::receiver::Receiver;
use reqwest::Method;
use serde_json::json;
use std::path::Path;
use std::process::{Command, Output};
use surge::inventory::SkuRecord;
use surge::store::codec;

/// Runs `surge check --data-dir dir`.
pub fn check(dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_surge"))
        .args(["check", "--data-dir"])
        .arg(dir)
        .output()
        .expect("run surge check")
}

/// Asserts that `surge check` finds the store in `dir` sound.
pub fn assert_clean(dir: &Path) {
    let out = check(dir);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "surge check:\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A store with a bit of everything: unpaid, paid, fulfilled, cancelled
/// and refunded orders, a checkout, an open cart holding stock, keyed
/// receipts, a webhook whose deliveries fail.
async fn loaded() -> TestApp {
    let app = spawn_app().await;
    create_sku(&app, "CHK-1", 20).await;
    create_sku(&app, "CHK-2", 20).await;
    let receiver = Receiver::start(usize::MAX).await;
    let hook = json!({"url": receiver.url, "secret": "whsec_check"});
    let res = app
        .admin(Method::POST, "/v1/admin/webhooks")
        .json(&hook)
        .send()
        .await;
    json_body(res.expect("register"), 201).await;

    json_body(purchase(&app, "CHK-1", "chk-unpaid", "alice", 2).await, 201).await;
    let mut paid = Vec::new();
    for key in ["chk-a", "chk-b", "chk-c"] {
        let order = json_body(purchase(&app, "CHK-1", key, "bob", 1).await, 201).await;
        let id = order["order_id"].as_str().expect("id").to_owned();
        json_body(pay(&app, &id, "tok_ok").await, 200).await;
        paid.push(id);
    }
    json_body(admin_step(&app, &paid[0], "fulfil").await, 200).await;
    json_body(admin_step(&app, &paid[1], "cancel").await, 200).await;
    json_body(refund(&app, &paid[2], None).await, 200).await;
    paid_order(&app, "CHK-2", 2, "chk-checkout").await;
    filled_cart(&app, "CHK-2", 3).await;
    let restock = app
        .admin(Method::POST, "/v1/admin/skus/CHK-2/restock")
        .header("Idempotency-Key", "chk-restock")
        .json(&json!({"quantity": 5}));
    json_body(restock.send().await.expect("restock"), 200).await;
    app
}

/// Every file under `dir` with its bytes, to show that nothing changed.
fn files(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push((path.clone(), std::fs::read(&path).expect("read file")));
        }
    }
    out.sort();
    out
}

/// Replaces the value at `key` in the stopped store in `dir`.
fn overwrite(dir: &Path, key: &[u8], change: impl FnOnce(Vec<u8>) -> Vec<u8>) {
    let db = sled::open(dir.join("sled")).expect("open the stopped store");
    let value = db
        .get(key)
        .expect("read")
        .expect("the record exists")
        .to_vec();
    db.insert(key, change(value)).expect("write");
    db.flush().expect("flush");
}

#[tokio::test]
async fn a_store_after_a_mixed_load_is_clean_and_the_check_writes_nothing() {
    let app = loaded().await;
    let running = check(app.dir.path());
    assert_eq!(running.status.code(), Some(2), "{}", stdout(&running));
    let said = String::from_utf8_lossy(&running.stderr);
    assert!(said.contains("in use"), "{said}");

    let (_, dir) = app.stop().await;
    let before = files(dir.path());
    let out = check(dir.path());
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    for line in [
        "skus checked: 2",
        "orders awaiting payment: 1",
        "ok: every record decodes",
    ] {
        assert!(text.contains(line), "no '{line}' in:\n{text}");
    }
    assert_eq!(
        files(dir.path()),
        before,
        "the check changed the store's files"
    );
}

#[tokio::test]
async fn a_flipped_byte_in_a_record_is_named_and_exits_1() {
    let app = loaded().await;
    let (_, dir) = app.stop().await;
    overwrite(dir.path(), b"inv/CHK-1", |mut bytes| {
        let last = bytes.len() - 1;
        bytes[last] ^= 0x01;
        bytes
    });
    let out = check(dir.path());
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("problem: inv/CHK-1: does not decode"),
        "{text}"
    );
}

#[tokio::test]
async fn stock_that_does_not_add_up_is_named_by_its_sku() {
    let app = loaded().await;
    let (_, dir) = app.stop().await;
    overwrite(dir.path(), b"inv/CHK-2", |bytes| {
        let mut record: SkuRecord = codec::decode(b"inv/CHK-2", &bytes).expect("a SKU record");
        record.levels.stocked += 1;
        codec::encode(&record).expect("encode")
    });
    let out = check(dir.path());
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("problem: inv/CHK-2: available"), "{text}");
    assert!(text.contains("!= stocked"), "{text}");
}

#[tokio::test]
async fn a_directory_without_a_store_cannot_be_checked() {
    let empty = tempfile::tempdir().expect("temp dir");
    let out = check(empty.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds no surge store"));
}
