//! A real browser for the dashboard tests: Debian's chromium, driven over
//! WebDriver by fantoccini through Debian's chromedriver on loopback (plain
//! HTTP, so no TLS stack is built). `scripts/install-browser.sh` installs
//! both; without them the browser tests fail, saying so, rather than pass
//! without having run.

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian puts them; `SURGE_CHROMEDRIVER` / `SURGE_CHROMIUM` override.
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

fn path_of(env: &str, default: &str) -> PathBuf {
    std::env::var_os(env).map_or_else(|| PathBuf::from(default), PathBuf::from)
}

/// A headless chromium session; its chromedriver ends with it.
pub struct Browser {
    pub client: Client,
    driver: Child,
    /// The driver's port and the WebDriver session, to end the session from
    /// `Drop` when a test panicked before [`Browser::close`].
    port: u16,
    session: Option<String>,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a fresh headless chromium of `width` x `height`.
    pub async fn start(width: u32, height: u32) -> Browser {
        let driver_path = path_of("SURGE_CHROMEDRIVER", CHROMEDRIVER);
        let chromium = path_of("SURGE_CHROMIUM", CHROMIUM);
        for (what, path) in [("chromedriver", &driver_path), ("chromium", &chromium)] {
            assert!(
                path.is_file(),
                "{what} not found at {}: the dashboard's browser tests need Debian's chromium and \
                 chromium-driver; run scripts/install-browser.sh (or scripts/test, which runs it)",
                path.display()
            );
        }
        let port = free_port();
        let mut driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", driver_path.display()));
        let profile = tempfile::tempdir().expect("profile dir");
        let url = format!("http://127.0.0.1:{port}");
        let client = match connect(&url, &chromium, &profile, width, height).await {
            Ok(client) => client,
            Err(e) => {
                let _ = driver.kill();
                let _ = driver.wait();
                panic!("no WebDriver session from {}: {e}", driver_path.display());
            }
        };
        let session = client.session_id().await.ok().flatten();
        Browser {
            client,
            driver,
            port,
            session,
            _profile: profile,
        }
    }

    /// Closes the browser and its driver.
    pub async fn close(mut self) {
        if self.client.clone().close().await.is_ok() {
            self.session = None;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Killing chromedriver would leave its chromium running (it is
        // re-parented, not killed), so a session still open (the test
        // panicked) is ended first, by a plain blocking DELETE.
        if let Some(session) = self.session.take() {
            end_session(self.port, &session);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// `DELETE /session/{id}`: chromedriver quits the browser before answering.
fn end_session(port: u16, session: &str) {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let request = format!(
        "DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_ok() {
        let _ = stream.read_to_end(&mut Vec::new());
    }
}

async fn connect(
    url: &str,
    chromium: &std::path::Path,
    profile: &tempfile::TempDir,
    width: u32,
    height: u32,
) -> Result<Client, String> {
    // The flags keep a headless chromium off the (closed) network: without
    // them it waits on lookups for updates, sync and the like.
    let args = vec![
        "--headless".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-quic".to_owned(),
        "--no-first-run".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--hide-scrollbars".to_owned(),
        format!("--window-size={width},{height}"),
        format!("--user-data-dir={}", profile.path().display()),
    ];
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".to_owned(),
        serde_json::json!({"binary": chromium.display().to_string(), "args": args}),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let attempt = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps.clone())
            .connect(url)
            .await;
        match attempt {
            Ok(client) => return Ok(client),
            Err(e) if Instant::now() > deadline => return Err(e.to_string()),
            // The driver is still starting.
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
