//! `surge bench`: the load generator runs its scenarios against an
//! in-process server or a running one, and reports the invariants it read
//! back.

use crate::helpers::spawn_app;
use serde_json::Value;
use std::process::Command;

/// Runs `surge bench <args>` (split on whitespace) with a JSON and an HTML
/// report; returns whether it succeeded, its stdout and the JSON report.
fn bench(args: &str) -> (bool, String, Value) {
    run_bench(args, true)
}

/// `bench`, with the HTML report only when `html` (a drop has none).
fn run_bench(args: &str, html: bool) -> (bool, String, Value) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let html = html.then(|| dir.path().join("report.html"));
    let mut command = Command::new(env!("CARGO_BIN_EXE_surge"));
    command
        .arg("bench")
        .args(args.split_whitespace())
        .arg("--json")
        .arg(&json)
        .env_remove("SURGE_ADMIN_TOKEN")
        .env_remove("SURGE_CUSTOMERS__TOKEN_SECRET");
    if let Some(html) = &html {
        command.arg("--html").arg(html);
    }
    let out = command.output().expect("run surge bench");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let report = std::fs::read(&json)
        .map(|b| serde_json::from_slice(&b).expect("json report"))
        .unwrap_or(Value::Null);
    // The page shows every target the JSON report checked.
    let page = html
        .and_then(|html| std::fs::read_to_string(html).ok())
        .unwrap_or_default();
    for target in report["targets"].as_array().into_iter().flatten() {
        let name = target["name"].as_str().unwrap_or_default();
        assert!(page.contains(&format!("target: {name}")), "{page}");
    }
    (out.status.success(), stdout, report)
}

/// Runs `surge bench <args>` off the async runtime, expecting it to fail;
/// its stderr.
async fn bench_fails(args: String) -> String {
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_surge"))
            .arg("bench")
            .args(args.split_whitespace())
            .env_remove("SURGE_CUSTOMERS__TOKEN_SECRET")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_flash_sale_sells_exactly_the_stock_and_the_invariants_hold() {
    let (ok, stdout, report) = bench("flash-sale --stock 40 --connections 8");
    assert!(ok, "{stdout}");
    assert_eq!(report["statuses"]["201"], 40, "{report}");
    assert!(
        report["statuses"]["409"].as_u64().unwrap_or(0) > 0,
        "it kept going after selling out"
    );
    let inv = &report["invariants"];
    assert_eq!(
        (inv["orders"].as_u64(), inv["reserved"].as_u64()),
        (Some(40), Some(40))
    );
    assert_eq!(inv["violations"], Value::Array(vec![]));
    for field in ["p50", "p90", "p99", "p99_9", "max"] {
        assert!(
            report["latency_ms"][field]
                .as_f64()
                .is_some_and(|v| v > 0.0),
            "{field}"
        );
    }
    assert!(stdout.contains("all hold"), "{stdout}");
}

#[test]
fn the_mixed_storefront_adds_to_carts_checks_out_and_pays() {
    // A mix heavy on carts so a short run exercises every step.
    let (ok, stdout, report) = bench("mixed --skus 40 --stock 1000 --requests 1200 --connections 8 --mix browse=20,product=10,cart=40,checkout=20,pay=10");
    assert!(ok, "{stdout}");
    // Every request of the budget was sent: answered, or (on a machine so
    // loaded that a kept-alive connection timed out) a transport error.
    let answered = report["requests"].as_u64().unwrap();
    assert_eq!(
        answered + report["errors"].as_u64().unwrap(),
        1200,
        "{report}"
    );
    let statuses = &report["statuses"];
    // 201s are carts, checkouts and flash-sale purchases; 200s include
    // lines added and orders paid.
    assert!(statuses["201"].as_u64().unwrap_or(0) > 50, "{report}");
    assert!(statuses["200"].as_u64().unwrap_or(0) > 300, "{report}");
    let inv = &report["invariants"];
    assert_eq!(inv["violations"], Value::Array(vec![]));
    assert!(
        inv["sold"].as_u64().unwrap_or(0) > 0,
        "nothing was sold: {report}"
    );
    assert_eq!(
        inv["orders"].as_u64(),
        Some(inv["reserved"].as_u64().unwrap() + inv["sold"].as_u64().unwrap())
    );
}

#[test]
fn spread_and_browse_run_for_a_request_budget() {
    let (ok, stdout, report) = bench("spread --skus 150 --requests 300 --connections 6");
    assert!(ok, "{stdout}");
    assert_eq!(report["requests"], 300);
    assert_eq!(report["invariants"]["skus_checked"], 150);
    assert_eq!(report["invariants"]["orders"], 300);
    let (ok, stdout, report) = bench("browse --skus 20 --requests 200 --connections 4");
    assert!(ok, "{stdout}");
    assert_eq!(report["statuses"]["200"], 200, "{report}");
}

#[test]
fn an_open_loop_paces_requests_at_the_given_rate() {
    let (ok, stdout, report) = bench("spread --skus 10 --rate 200 --duration 2s --connections 4");
    assert!(ok, "{stdout}");
    let requests = report["requests"].as_u64().unwrap();
    // Never faster than asked (a closed loop would send thousands); on a
    // busy machine it may fall behind, so the lower bound only says it ran.
    assert!(
        (40..=420).contains(&requests),
        "at most about 400 requests in 2 s at 200/s, got {requests}"
    );
    assert!(report["mode"].as_str().unwrap().starts_with("open loop"));
}

#[test]
fn warm_up_load_is_not_measured_but_its_purchases_are_checked() {
    let (ok, stdout, report) =
        bench("spread --skus 10 --rate 200 --warmup 1s --duration 1s --connections 4");
    assert!(ok, "{stdout}");
    let measured = report["requests"].as_u64().unwrap();
    let orders = report["invariants"]["orders"].as_u64().unwrap();
    // Paced, so at most about 200 in the measured second (fewer, even none,
    // on a machine too busy to keep the pace: no lower bound, as no test
    // fails on a timing); the warm-up's purchases are counted by the check,
    // not the measurement. Each of the 4 connections' first request is
    // due within the first 20 ms, so in the warm-up whatever the pace.
    assert!(
        measured <= 230,
        "at most about 200 measured requests in the 1 s after warm-up, got {measured}"
    );
    assert!(
        orders >= measured + 4,
        "the warm-up's purchases ({orders} orders in all, {measured} measured) are checked too"
    );
    assert_eq!(report["invariants"]["violations"], serde_json::json!([]));
    assert!(report["mode"].as_str().unwrap().contains("unmeasured"));
}

#[tokio::test]
async fn a_running_server_is_measured_with_its_admin_token() {
    let app = spawn_app().await;
    let (url, token) = (app.address.clone(), app.admin_token.clone());
    let run = tokio::task::spawn_blocking(move || {
        bench(&format!(
            "flash-sale --url {url} --admin-token {token} --stock 10 --connections 4"
        ))
    });
    let (ok, stdout, report) = run.await.unwrap();
    assert!(ok, "{stdout}");
    assert_eq!(report["statuses"]["201"], 10);
    let target = report["target"].as_str().unwrap();
    assert!(target.ends_with("strict durability"), "{target}");
    let (ok, _, _) = tokio::task::spawn_blocking({
        let url = app.address.clone();
        move || {
            bench(&format!(
                "flash-sale --url {url} --admin-token wrong --stock 10"
            ))
        }
    })
    .await
    .unwrap();
    assert!(!ok, "a refused admin token fails the run");
}

#[tokio::test]
async fn browse_with_a_baseline_reports_its_share_of_the_baselines_rate() {
    // The baseline is another server's health check: any fast GET will do.
    let app = spawn_app().await;
    let baseline = format!("{}/healthz", app.address);
    let run = tokio::task::spawn_blocking(move || {
        bench(&format!(
            "browse --skus 20 --requests 300 --connections 4 --baseline {baseline}"
        ))
    });
    let (ok, stdout, report) = run.await.unwrap();
    assert!(ok, "{stdout}");
    let measured = &report["baseline"];
    assert_eq!(measured["statuses"]["200"], 300, "{report}");
    assert!(measured["throughput_per_sec"].as_f64().unwrap() > 0.0);
    let targets = report["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 1, "{report}");
    assert_eq!(targets[0]["name"], "browse");
    let share = 100.0 * report["throughput_per_sec"].as_f64().unwrap()
        / measured["throughput_per_sec"].as_f64().unwrap();
    assert_eq!(targets[0]["measured"], format!("{share:.0} %"));
    assert_eq!(targets[0]["met"], share >= 80.0);
    assert!(stdout.contains("  baseline    "), "{stdout}");
    assert!(stdout.contains("  target      browse: "), "{stdout}");
}

#[tokio::test]
async fn a_baseline_that_answers_errors_fails_the_run() {
    let app = spawn_app().await;
    let baseline = format!("{}/no-such-page", app.address);
    let stderr = bench_fails(format!(
        "browse --skus 4 --requests 50 --connections 2 --baseline {baseline}"
    ))
    .await;
    assert!(
        stderr.contains("answered 50 requests with a non-2xx status"),
        "{stderr}"
    );
}

#[test]
fn a_run_under_a_targets_conditions_is_checked_against_it() {
    // 256 connections, closed loop, strict, stock left at the end: the
    // conditions of the hot SKU's committer target, read from the server.
    let (ok, stdout, report) =
        bench("flash-sale --stock 100000000 --duration 1s --connections 256");
    assert!(ok, "{stdout}");
    let us = report["committer_cpu_us"].as_f64().expect("committer CPU");
    assert!(us > 0.0, "{report}");
    assert!(
        stdout.contains(&format!("  committer   {us:.1} µs")),
        "{stdout}"
    );
    let targets = report["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 1, "{report}");
    assert_eq!(targets[0]["name"], "committer CPU, hot SKU");
    assert_eq!(targets[0]["measured"], format!("{us:.1} µs"));
    assert_eq!(targets[0]["met"], us <= 2.0);
    assert!(
        stdout.contains("  target      committer CPU, hot SKU: "),
        "{stdout}"
    );
    // Outside them (selling out, or 8 connections) no target is claimed.
    for args in [
        "flash-sale --stock 300 --connections 256",
        "flash-sale --stock 100000000 --duration 1s --connections 8",
    ] {
        let (ok, _, report) = bench(args);
        assert!(ok);
        assert_eq!(report["targets"], serde_json::json!([]), "{args}");
    }
}

#[test]
fn a_drop_gives_bots_without_a_valid_token_nothing_and_the_invariants_hold() {
    let (ok, stdout, report) = run_bench(
        "drop --stock 50 --humans 100 --bot-ratio 10 --arrive-over 2s --connections 16",
        false,
    );
    assert!(ok, "{stdout}");
    assert_eq!(
        report["invariants"]["violations"],
        serde_json::json!([]),
        "{stdout}"
    );
    let units = &report["units"];
    let sold: u64 = units
        .as_object()
        .unwrap()
        .values()
        .filter_map(Value::as_u64)
        .sum();
    assert_eq!(sold, 50, "more humans than units: it sold out; {stdout}");
    // Rules all on: without a valid token nothing gets through the door.
    for bot in ["no-token", "forged"] {
        assert_eq!(units[bot].as_u64().unwrap_or(0), 0, "{stdout}");
        let statuses = report["requests"][bot]["statuses"].as_object().unwrap();
        assert!(
            statuses.keys().all(|s| s == "401" || s == "429"),
            "{bot}: {statuses:?}"
        );
        assert!(statuses["401"].as_u64().unwrap() > 0);
    }
    // Sock puppets share one address: most of what they send is refused.
    let puppets = &report["requests"]["sock-puppets"]["statuses"];
    assert!(puppets["429"].as_u64().unwrap() > puppets["201"].as_u64().unwrap_or(0));
    let humans = &report["humans"];
    assert_eq!(humans["bought"], units["humans"], "{stdout}");
    assert_eq!(
        humans["bought"].as_u64().unwrap() + humans["sold_out"].as_u64().unwrap(),
        100,
        "every human bought or was told sold out: {stdout}"
    );
    // Bots are paced to the ratio (a busy machine may keep them below it).
    let ratio = report["bot_ratio"].as_f64().unwrap();
    assert!((1.0..=11.0).contains(&ratio), "{ratio}");
    // The waiting room admits in the promised order, exactly.
    let admitted = &report["queue_order"]["admitted_in_order"];
    assert!(admitted["pairs"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(admitted["share"], 1.0, "{report}");
    assert!(stdout.contains("bots' share"), "{stdout}");
    assert!(stdout.contains("all hold"), "{stdout}");
}

#[tokio::test]
async fn a_drop_against_a_running_server_needs_its_customer_token_secret() {
    let app = spawn_app().await;
    let (url, token) = (&app.address, &app.admin_token);
    let stderr = bench_fails(format!("drop --url {url} --admin-token {token}")).await;
    assert!(stderr.contains("customer token secret"), "{stderr}");
    // A flag of the closed-loop scenarios is refused, not ignored.
    let stderr = bench_fails("drop --humans 10 --rate 100".into()).await;
    assert!(
        stderr.contains("--rate does not apply to a drop"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_drop_runs_against_a_server_that_trusts_the_bench_as_its_proxy() {
    let app = crate::customers::spawn_with_tokens(|s| {
        s.server.trusted_proxies = vec!["127.0.0.1/32".into()];
        s.rate_limits.ip_writes_per_sec = 1.0;
        s.rate_limits.ip_write_burst = 5;
    })
    .await;
    let (url, token) = (app.address.clone(), app.admin_token.clone());
    let secret = crate::customers::SECRET;
    let (ok, stdout, report) = tokio::task::spawn_blocking(move || {
        run_bench(
            &format!(
                "drop --url {url} --admin-token {token} --customer-token-secret {secret} \
                 --stock 10 --humans 20 --arrive-over 1s --connections 8"
            ),
            false,
        )
    })
    .await
    .unwrap();
    assert!(ok, "{stdout}");
    let units = &report["units"];
    assert!(units["humans"].as_u64().unwrap_or(0) > 0, "{stdout}");
    for bot in ["no-token", "forged"] {
        assert_eq!(units[bot].as_u64().unwrap_or(0), 0, "{stdout}");
    }
    assert!(report["target"].as_str().unwrap().starts_with("server at"));
}
