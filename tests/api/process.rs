//! The real `surge` binary as a child process: started on a free port with
//! its store in a directory, stopped by a signal or killed with SIGKILL.

use reqwest::{Client, Method, RequestBuilder};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

/// The admin token every child process is started with.
pub const TOKEN: &str = "x";

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// `surge serve` on a free port with its store in `dir`, no seed, token "x".
pub fn command(dir: &Path, port: u16) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_surge"));
    cmd.args([
        "serve",
        "--bind",
        &format!("127.0.0.1:{port}"),
        "--data-dir",
    ])
    .arg(dir)
    .env("SURGE_CATALOG__SEED_FILE", "")
    .env("SURGE_BACKUP__DIR", dir.join("backups"))
    .env("SURGE_ADMIN_TOKEN", TOKEN)
    .env("SURGE_LOG__FILTER", "warn")
    .env_remove("RUST_LOG");
    cmd
}

/// A running binary; killed if the test fails before it is stopped.
pub struct Running {
    child: Option<Child>,
    pub base: String,
}

impl Running {
    pub async fn start(dir: &Path) -> Running {
        Running::start_with_env(dir, &[]).await
    }

    /// Like [`Running::start`], with extra environment (`SURGE_*__*` settings).
    pub async fn start_with_env(dir: &Path, env: &[(&str, &str)]) -> Running {
        let port = free_port();
        let child = command(dir, port)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start surge");
        let running = Running {
            child: Some(child),
            base: format!("http://127.0.0.1:{port}"),
        };
        running.wait_ready().await;
        running
    }

    async fn wait_ready(&self) {
        let client = Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let res = client.get(format!("{}/readyz", self.base)).send().await;
            if res.is_ok_and(|r| r.status() == 200) {
                return;
            }
            assert!(Instant::now() < deadline, "surge did not become ready");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Sends `signal` with kill(1) and waits up to 10 s for the exit.
    pub async fn stop_with(self, signal: &str) -> ExitStatus {
        self.signal(signal).wait_exit(signal).await
    }

    pub fn signal(self, signal: &str) -> Self {
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -{signal} failed");
        self
    }

    pub async fn wait_exit(mut self, signal: &str) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("surge did not exit within 10 s of SIG{signal}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Running {
    /// A request to `path` on this server with the admin token.
    pub fn admin(&self, client: &Client, method: Method, path: &str) -> RequestBuilder {
        let url = format!("{}{path}", self.base);
        client.request(method, url).bearer_auth(TOKEN)
    }

    /// Creates a product through the admin API; asserts 201, returns the body.
    pub async fn create_product(&self, product: &serde_json::Value) -> String {
        let req = self.admin(&Client::new(), Method::POST, "/v1/admin/products");
        let res = req.json(product).send().await.expect("create product");
        assert_eq!(res.status(), 201);
        res.text().await.expect("body")
    }

    /// A new cart of `customer`; returns its id.
    pub async fn new_cart(&self, client: &Client, customer: &str) -> String {
        let res = client
            .post(format!("{}/v1/carts", self.base))
            .json(&serde_json::json!({"customer_id": customer}))
            .send()
            .await
            .expect("cart");
        let cart: Value = res.json().await.expect("cart json");
        cart["id"].as_str().expect("cart id").to_owned()
    }

    /// GET of an admin `path`; asserts 200, returns the JSON body.
    pub async fn admin_get(&self, client: &Client, path: &str) -> Value {
        let res = self.admin(client, Method::GET, path).send().await;
        let res = res.unwrap_or_else(|e| panic!("GET {path}: {e}"));
        assert_eq!(res.status(), 200, "GET {path}");
        res.json().await.expect("JSON body")
    }

    /// The admin inventory of `sku`: available, reserved, sold, stocked.
    pub async fn inventory(&self, client: &Client, sku: &str) -> Value {
        let path = format!("/v1/admin/skus/{sku}/inventory");
        self.admin_get(client, &path).await
    }

    /// Lets `workers` run until `acked` holds `acks` entries (30 s at most),
    /// then kills the server with SIGKILL while they are still going, waits
    /// for them to stop, and returns everything that was acknowledged.
    pub async fn kill9_after<T: Clone>(
        self,
        acked: &Mutex<HashMap<String, T>>,
        acks: usize,
        workers: Vec<JoinHandle<()>>,
    ) -> HashMap<String, T> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while acked.lock().await.len() < acks && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.kill9();
        for worker in workers {
            let _ = worker.await;
        }
        let acked = acked.lock().await.clone();
        assert!(
            acked.len() >= acks,
            "only {} writes were acknowledged before the kill",
            acked.len()
        );
        acked
    }

    /// SIGKILL: no shutdown, no flush; what was acknowledged must survive.
    pub fn kill9(mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL");
            child.wait().expect("reap");
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
