//! The real `surge` binary: a graceful stop on SIGTERM/SIGINT (exit 0, the
//! store flushed), a refusal to start on an unknown config key, and
//! transparent huge pages off.

use crate::process::{command, free_port, Running, TOKEN};
use reqwest::Client;
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

#[tokio::test]
async fn sigterm_stops_the_binary_with_exit_0_and_its_writes_survive() {
    let dir = tempfile::tempdir().unwrap();
    let server = Running::start(dir.path()).await;
    let client = Client::new();
    let product = json!({"id": "durable", "title": "Durable", "category": "test",
        "variants": [{"sku": "DUR-1", "title": "One", "price": {"amount": 100, "currency": "EUR"}}]});
    let body = server.create_product(&product).await;

    let status = server.stop_with("TERM").await;
    assert!(status.success(), "exit status after SIGTERM: {status}");

    let server = Running::start(dir.path()).await;
    let res = client
        .get(format!("{}/v1/products/durable", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), body);
    let status = server.stop_with("INT").await;
    assert!(status.success(), "exit status after SIGINT: {status}");
}

#[tokio::test]
async fn sigterm_lets_an_in_flight_request_finish_before_the_exit() {
    let dir = tempfile::tempdir().unwrap();
    let server = Running::start(dir.path()).await;
    let addr = server.base.trim_start_matches("http://").to_owned();
    let body = json!({"id": "late", "title": "Late", "category": "test",
        "variants": [{"sku": "LATE-1", "title": "One", "price": {"amount": 100, "currency": "EUR"}}]})
    .to_string();
    let head = format!(
        "POST /v1/admin/products HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let (first, rest) = body.split_at(body.len() / 2);
    let mut stream = TcpStream::connect(&addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(first.as_bytes()).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    // The request is in flight (half its body sent) when the signal arrives.
    let server = server.signal("TERM");
    tokio::time::sleep(Duration::from_millis(200)).await;
    stream.write_all(rest.as_bytes()).unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    assert!(
        response.starts_with("HTTP/1.1 201"),
        "the in-flight request did not finish: {response:?}"
    );
    let status = server.wait_exit("TERM").await;
    assert!(status.success(), "exit status after SIGTERM: {status}");

    let server = Running::start(dir.path()).await;
    let res = Client::new()
        .get(format!("{}/v1/products/late", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the acknowledged create was lost");
}

fn run_to_exit(mut cmd: Command) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start surge");
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("surge kept running despite a bad configuration");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

#[test]
fn an_unknown_config_key_in_the_environment_stops_the_binary_with_a_message_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command(dir.path(), free_port());
    cmd.env("SURGE_SERVER__NOPE", "1");
    let out = run_to_exit(cmd);
    assert!(!out.status.success(), "started with an unknown key");
    let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(stderr.contains("nope"), "the key is not named: {stderr}");
}

#[test]
fn an_unknown_key_in_the_config_file_stops_the_binary_with_a_message_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("surge.toml");
    std::fs::write(&config, "[server]\nbnd = \"127.0.0.1:0\"\n").unwrap();
    let mut cmd = command(&dir.path().join("store"), free_port());
    cmd.arg("--config").arg(&config);
    let out = run_to_exit(cmd);
    assert!(!out.status.success(), "started with an unknown key");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bnd"), "the key is not named: {stderr}");
}

#[test]
fn a_missing_config_file_stops_the_binary_with_a_message_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command(dir.path(), free_port());
    cmd.arg("--config").arg(dir.path().join("absent.toml"));
    let out = run_to_exit(cmd);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("absent.toml"), "{stderr}");
}

/// The `THP_enabled` line of the process's status (Linux 6.0 and later).
fn transparent_huge_pages(pid: u32) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("THP_enabled:"))?;
    Some(line.split_whitespace().nth(1)?.to_owned())
}

#[tokio::test]
async fn the_server_turns_transparent_huge_pages_off_unless_told_to_keep_them() {
    let dir = tempfile::tempdir().unwrap();
    let server = Running::start(dir.path()).await;
    assert_eq!(transparent_huge_pages(server.pid()).as_deref(), Some("0"));
    server.kill9();
    let kept = Running::start_with_env(dir.path(), &[("MIMALLOC_ALLOW_THP", "1")]).await;
    assert_eq!(transparent_huge_pages(kept.pid()).as_deref(), Some("1"));
}
