//! HTTP micro-benchmarks against the real server in this process:
//! - `http/purchase_round_trip`: one flash-sale purchase over a keep-alive
//!   connection, strict durability, nothing else in flight: the latency floor
//!   a buyer sees (HTTP + idempotency + SKU actor + group commit + flush).
//! - `http/sku_read_round_trip`: `GET /v1/skus/{sku}`, served from the
//!   snapshot and the published count.

use criterion::{criterion_group, criterion_main, Criterion};
use std::sync::Arc;
use surge::clock::SystemClock;
use surge::config::Settings;
use surge::secrets::Secrets;
use surge::startup::Application;

fn start() -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::default();
    settings.server.bind = "127.0.0.1:0".into();
    settings.store.data_dir = dir.path().to_path_buf();
    settings.catalog.seed_file = Default::default();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let secrets = Secrets {
                admin_token: Some("bench".into()),
            };
            let app = Application::build(settings, secrets, Arc::new(SystemClock))
                .await
                .expect("start")
                .with_signals(false);
            tx.send(app.port()).expect("port");
            app.run_until_stopped().await
        })
    });
    let port = rx.recv().expect("server started");
    (format!("http://127.0.0.1:{port}"), dir)
}

fn http(c: &mut Criterion) {
    let (base, _dir) = start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let client = reqwest::Client::new();
    let product = serde_json::json!({"id": "bench", "title": "Bench", "category": "bench",
        "variants": [{"sku": "BENCH-1", "title": "One", "price": {"amount": 100, "currency": "EUR"}, "stock": 1_000_000_000u64}]});
    runtime.block_on(async {
        let res = client
            .post(format!("{base}/v1/admin/products"))
            .bearer_auth("bench")
            .json(&product)
            .send()
            .await;
        assert_eq!(res.expect("create").status(), 201);
    });
    let mut n = 0u64;
    let mut group = c.benchmark_group("http");
    group.sample_size(30);
    group.bench_function("purchase_round_trip", |b| {
        b.iter(|| {
            n += 1;
            runtime.block_on(async {
                let res = client
                    .post(format!("{base}/v1/skus/BENCH-1/purchase"))
                    .header("Idempotency-Key", format!("k{n}"))
                    .json(&serde_json::json!({"customer_id": format!("c{n}"), "quantity": 1}))
                    .send()
                    .await
                    .expect("purchase");
                assert_eq!(res.status(), 201);
            })
        })
    });
    group.bench_function("sku_read_round_trip", |b| {
        b.iter(|| {
            runtime.block_on(async {
                client
                    .get(format!("{base}/v1/skus/BENCH-1"))
                    .send()
                    .await
                    .expect("read")
                    .status()
            })
        })
    });
    group.finish();
}

criterion_group!(benches, http);
criterion_main!(benches);
