//! `spawn_app()`: the real application on port 0 with a temporary store and
//! tiny limits, in its own thread and actix system, plus typed HTTP helpers.
//!
//! Each app runs on a [`ShiftedClock`]: the wall clock plus what the test
//! [advanced](TestApp::advance). Tests jump over a reservation TTL or a
//! payment window instead of sleeping through it, while what runs on real
//! time (webhook back-off, passivation, timeouts) keeps running.

use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::{json, Value};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use surge::clock::ShiftedClock;
use surge::config::Settings;
use surge::secrets::Secrets;
use surge::startup::{Application, Shutdown};
use tempfile::TempDir;

pub const ADMIN_TOKEN: &str = "test-admin-token";

/// A running server. Dropping it stops the server (and deletes its store
/// unless another `TestApp` on the same store still holds the directory).
pub struct TestApp {
    pub address: String,
    pub client: Client,
    pub admin_token: String,
    pub settings: Settings,
    pub dir: Arc<TempDir>,
    /// The app's clock; kept across [`TestApp::restart`].
    pub clock: ShiftedClock,
    shutdown: Shutdown,
    thread: Option<JoinHandle<anyhow::Result<()>>>,
}

/// Settings for a test server: free port, store in `dir`, no seed, small limits.
pub fn test_settings(dir: &Path) -> Settings {
    let mut s = Settings::default();
    s.server.bind = "127.0.0.1:0".into();
    s.server.workers = 2;
    s.server.body_limit_bytes = 16 * 1024;
    s.server.shutdown_timeout_secs = 5;
    s.store.data_dir = dir.to_path_buf();
    // Not the default (beside the data directory): the test's own.
    s.backup.dir = dir.join("backups");
    s.catalog.seed_file = PathBuf::new();
    s
}

pub async fn spawn_app() -> TestApp {
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let settings = test_settings(dir.path());
    spawn_with(settings, dir, Some(ADMIN_TOKEN)).await
}

/// Starts the application with `settings` on the store in `dir`.
pub async fn spawn_with(settings: Settings, dir: Arc<TempDir>, token: Option<&str>) -> TestApp {
    spawn_on(settings, dir, token, ShiftedClock::default()).await
}

/// Starts the application on `clock` (one an earlier app ran on, so time
/// does not go back across a restart).
pub async fn spawn_on(
    settings: Settings,
    dir: Arc<TempDir>,
    token: Option<&str>,
    clock: ShiftedClock,
) -> TestApp {
    match try_spawn_on(settings, dir, token, clock).await {
        Ok(app) => app,
        Err(e) => panic!("app failed to start: {e}"),
    }
}

/// Starts the application once; the start-up error as text if it fails.
pub async fn try_spawn_with(
    settings: Settings,
    dir: Arc<TempDir>,
    token: Option<&str>,
) -> Result<TestApp, String> {
    try_spawn_on(settings, dir, token, ShiftedClock::default()).await
}

async fn try_spawn_on(
    settings: Settings,
    dir: Arc<TempDir>,
    token: Option<&str>,
    clock: ShiftedClock,
) -> Result<TestApp, String> {
    let secrets = Secrets {
        admin_token: token.map(str::to_owned),
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let thread_settings = settings.clone();
    let app_clock = Arc::new(clock.clone());
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let app = match Application::build(thread_settings, secrets, app_clock).await {
                Ok(app) => app.with_signals(false),
                Err(e) => {
                    let _ = tx.send(Err(format!("{e:#}")));
                    return Err(e);
                }
            };
            let _ = tx.send(Ok((app.port(), app.shutdown_handle())));
            app.run_until_stopped().await
        })
    });
    let started = rx.await.expect("app thread");
    let (port, shutdown) = match started {
        Ok(started) => started,
        Err(e) => {
            let _ = thread.join();
            return Err(e);
        }
    };
    let admin_token = match token {
        Some(t) => t.to_owned(),
        None => std::fs::read_to_string(dir.path().join("admin_token")).expect("token file"),
    };
    Ok(TestApp {
        address: format!("http://127.0.0.1:{port}"),
        client: Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .expect("client"),
        admin_token,
        settings,
        dir,
        clock,
        shutdown,
        thread: Some(thread),
    })
}

impl TestApp {
    /// Stops the server gracefully and waits until its store is closed.
    pub async fn stop(mut self) -> (Settings, Arc<TempDir>) {
        self.stop_now().await;
        (self.settings.clone(), self.dir.clone())
    }

    async fn stop_now(&mut self) {
        self.shutdown.trigger();
        if let Some(thread) = self.thread.take() {
            let result = tokio::task::spawn_blocking(move || thread.join())
                .await
                .expect("join");
            result
                .expect("app thread panicked")
                .expect("app stopped with an error");
        }
    }

    /// Stops and starts the server again on the same store and clock.
    pub async fn restart(self) -> TestApp {
        let (token, clock) = (self.admin_token.clone(), self.clock.clone());
        let (settings, dir) = self.stop().await;
        spawn_on(settings, dir, Some(&token), clock).await
    }

    /// Moves the app's clock forward by `by` at once: holds, payment
    /// windows and sale windows see the time jump. What follows from it in
    /// an actor (an expiry) happens shortly after: see [`eventually`].
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    pub fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.request(method, path).bearer_auth(&self.admin_token)
    }

    /// An admin GET of `path`, asserting 200; the JSON body.
    pub async fn admin_json(&self, path: &str) -> Value {
        let res = self.admin(Method::GET, path).send().await.expect("request");
        json_body(res, 200).await
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path)
            .send()
            .await
            .expect("request")
    }

    /// Creates a product, asserting 201; returns the created product.
    pub async fn created(&self, body: &Value) -> Value {
        json_body(self.create_product(body).await, 201).await
    }

    pub async fn create_product(&self, body: &Value) -> Response {
        self.admin(Method::POST, "/v1/admin/products")
            .json(body)
            .send()
            .await
            .expect("request")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.trigger();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Probes until `done` accepts the answer (something the app does by itself
/// shortly, e.g. expire holds once the clock passed them), for at most 5 s
/// of real time; the accepted answer.
pub async fn eventually<T, F>(mut probe: impl FnMut() -> F, done: impl Fn(&T) -> bool) -> T
where
    T: std::fmt::Debug,
    F: Future<Output = T>,
{
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let answer = probe().await;
        if done(&answer) {
            return answer;
        }
        assert!(
            Instant::now() < deadline,
            "never happened; last: {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Probes a few times over 100 ms of real time, asserting `ok` each time:
/// that something the app might do by itself (expire a hold the clock has
/// not passed) does not happen.
pub async fn stays<T, F>(mut probe: impl FnMut() -> F, ok: impl Fn(&T) -> bool)
where
    T: std::fmt::Debug,
    F: Future<Output = T>,
{
    for _ in 0..5 {
        let answer = probe().await;
        assert!(ok(&answer), "changed: {answer:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A valid product definition with one variant per SKU given.
pub fn product_body(id: &str, skus: &[&str]) -> Value {
    json!({
        "id": id,
        "title": format!("Product {id}"),
        "description": "A fine thing.",
        "category": "things",
        "attributes": {"brand": "Acme"},
        "variants": skus.iter().map(|sku| json!({
            "sku": sku, "title": format!("Variant {sku}"),
            "price": {"amount": 1999, "currency": "EUR"}, "stock": 10
        })).collect::<Vec<_>>()
    })
}

/// A money value of `amount` euro cents, as the API renders it.
pub fn eur(amount: i64) -> Value {
    json!({"amount": amount, "currency": "EUR"})
}

/// Asserts a problem+json response with `status` and returns its body.
pub async fn assert_problem(res: Response, status: u16) -> Value {
    assert_eq!(res.status().as_u16(), status, "unexpected status");
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/problem+json"),
        "content-type {content_type}"
    );
    let body: Value = res.json().await.expect("problem body");
    assert_eq!(body["status"], status);
    assert!(
        body["type"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    body
}

/// The value of a response header, if present and text.
pub fn header(res: &Response, name: &str) -> Option<String> {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Asserts `status` and returns the JSON body (the body text is shown on failure).
pub async fn json_body(res: Response, status: u16) -> Value {
    let got = res.status().as_u16();
    let text = res.text().await.expect("body");
    assert_eq!(got, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Every listed product, following `next_cursor` with pages of `limit`.
/// `filter` is appended to the query (e.g. `"&category=books"`). Checks that
/// no page is larger than `limit` and that the cursors end.
pub async fn list_all(app: &TestApp, limit: usize, filter: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10_000 {
        let mut path = format!("/v1/products?limit={limit}{filter}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = json_body(app.get(&path).await, 200).await;
        let batch = page["items"].as_array().expect("items array");
        assert!(batch.len() <= limit, "page larger than {limit}: {page}");
        items.extend(batch.iter().cloned());
        match &page["next_cursor"] {
            Value::Null => return items,
            Value::String(next) => cursor = Some(next.clone()),
            other => panic!("next_cursor must be a string or null, got {other}"),
        }
    }
    panic!("the listing never ended");
}

/// What a client can see of the catalog: every listed product, plus the
/// status and body of each product id and SKU in `probe`. Compare two of
/// these to check that a request changed nothing.
pub async fn catalog_state(app: &TestApp, probe: &[&str]) -> Value {
    let mut probes = serde_json::Map::new();
    for path in probe {
        let res = app.get(path).await;
        let status = res.status().as_u16();
        let body = res.text().await.expect("body");
        probes.insert((*path).to_owned(), json!({"status": status, "body": body}));
    }
    json!({"listed": list_all(app, 100, "").await, "probes": probes})
}

/// Server-Sent Events read from an open response.
pub struct Events {
    res: Response,
    text: String,
}

impl Events {
    pub fn new(res: Response) -> Self {
        Self {
            res,
            text: String::new(),
        }
    }

    /// The next event's name and JSON data (keep-alive comments skipped);
    /// fails if none comes within 10 s or the stream ends.
    pub async fn next(&mut self) -> (String, Value) {
        loop {
            while let Some(end) = self.text.find("\n\n") {
                let frame: String = self.text.drain(..end + 2).collect();
                let field = |name: &str| frame.lines().find_map(|l| l.strip_prefix(name));
                let (Some(event), Some(data)) = (field("event: "), field("data: ")) else {
                    continue; // a keep-alive comment
                };
                let data = serde_json::from_str(data).expect("JSON data");
                return (event.to_owned(), data);
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.res.chunk())
                .await
                .expect("an event within 10 s")
                .expect("the stream stays readable")
                .expect("the stream stays open");
            self.text.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}
