//! The real `surge` binary as a child process: started on a free port with
//! its store in a directory, stopped by a signal or killed with SIGKILL.

use reqwest::Client;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

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
        let port = free_port();
        let child = command(dir, port)
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
    /// Creates a product through the admin API; asserts 201, returns the body.
    pub async fn create_product(&self, product: &serde_json::Value) -> String {
        let res = Client::new()
            .post(format!("{}/v1/admin/products", self.base))
            .bearer_auth(TOKEN)
            .json(product)
            .send()
            .await
            .expect("create product");
        assert_eq!(res.status(), 201);
        res.text().await.expect("body")
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
