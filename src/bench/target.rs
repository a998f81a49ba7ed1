//! The server under load: started in this process on a free port with a
//! temporary store (the default), or a running one given by `--url`.

use super::client::{Call, Connection};
use crate::clock::SystemClock;
use crate::config::Settings;
use crate::secrets::Secrets;
use crate::startup::{Application, Shutdown};
use bytes::Bytes;
use hyper::{Method, StatusCode};
use std::net::{SocketAddr, ToSocketAddrs};
use std::thread::JoinHandle;

pub struct Target {
    pub addr: SocketAddr,
    pub admin_token: String,
    /// What is measured, for the report ("in-process, strict durability", …).
    pub description: String,
    /// The server's durability mode (`strict`, `relaxed`, or `unknown`).
    pub durability: String,
    server: Option<(Shutdown, JoinHandle<anyhow::Result<()>>, tempfile::TempDir)>,
}

impl Target {
    /// Starts surge in this process on a temporary store.
    pub fn in_process(mut settings: Settings) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        settings.server.bind = "127.0.0.1:0".into();
        settings.store.data_dir = dir.path().to_path_buf();
        settings.catalog.seed_file = Default::default();
        let durability = format!("{:?}", settings.store.durability).to_lowercase();
        let mut token = [0u8; 16];
        getrandom::fill(&mut token).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        let admin_token = hex::encode(token);
        let secrets = Secrets {
            admin_token: Some(admin_token.clone()),
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let clock = std::sync::Arc::new(SystemClock);
                let app = Application::build(settings, secrets, clock)
                    .await?
                    .with_signals(false);
                let _ = tx.send((app.port(), app.shutdown_handle()));
                app.run_until_stopped().await
            })
        });
        let Ok((port, shutdown)) = rx.recv() else {
            let error = thread
                .join()
                .map_err(|_| anyhow::anyhow!("the server panicked"))?;
            return Err(error
                .err()
                .unwrap_or_else(|| anyhow::anyhow!("the server did not start")));
        };
        Ok(Self {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            admin_token,
            description: format!("in-process server, {durability} durability"),
            durability,
            server: Some((shutdown, thread, dir)),
        })
    }

    /// A running server at `url` (`http://host:port`), which must be ready.
    pub async fn remote(url: &str, admin_token: String) -> anyhow::Result<Self> {
        let (addr, _) = resolve(url)?;
        let (status, body) = Connection::open(addr)
            .await?
            .send(&Call::get("/readyz"))
            .await?;
        if !status.is_success() {
            anyhow::bail!("{url} is not ready ({status})");
        }
        let ready: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let durability = ready["durability"].as_str().unwrap_or("unknown").to_owned();
        Ok(Self {
            addr,
            admin_token,
            description: format!("server at {url}, {durability} durability"),
            durability,
            server: None,
        })
    }

    /// An admin call; the body of a 2xx, else an error naming the status.
    pub async fn admin(
        &self,
        method: Method,
        path: String,
        body: Option<Bytes>,
    ) -> anyhow::Result<Bytes> {
        let mut conn = Connection::open(self.addr).await?;
        let call = Call {
            method,
            path: path.clone(),
            body,
            bearer: Some(self.admin_token.clone()),
            ..Call::default()
        };
        let (status, body) = conn.send(&call).await?;
        if status == StatusCode::UNAUTHORIZED {
            anyhow::bail!("the admin token was refused (pass --admin-token)");
        }
        if !status.is_success() {
            anyhow::bail!("{path}: {status}: {}", String::from_utf8_lossy(&body));
        }
        Ok(body)
    }

    /// Stops an in-process server gracefully.
    pub fn stop(mut self) -> anyhow::Result<()> {
        if let Some((shutdown, thread, _dir)) = self.server.take() {
            shutdown.trigger();
            thread
                .join()
                .map_err(|_| anyhow::anyhow!("the server panicked"))??;
        }
        Ok(())
    }
}

/// The address and path of `http://host:port[/path]` (path `/` if none).
pub fn resolve(url: &str) -> anyhow::Result<(SocketAddr, String)> {
    if url.starts_with("https://") {
        anyhow::bail!("{url}: the load generator speaks plain http:// only");
    }
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let (hostport, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, "/"),
    };
    let addr = hostport
        .to_socket_addrs()
        .map_err(|e| anyhow::anyhow!("{url}: {e}"))?
        .next()
        .ok_or_else(|| anyhow::anyhow!("{url} does not resolve"))?;
    Ok((addr, path.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_resolve_to_an_address_and_a_path() {
        let local = SocketAddr::from(([127, 0, 0, 1], 8081));
        assert_eq!(
            resolve("http://127.0.0.1:8081").unwrap(),
            (local, "/".into())
        );
        assert_eq!(
            resolve("http://127.0.0.1:8081/").unwrap(),
            (local, "/".into())
        );
        assert_eq!(
            resolve("127.0.0.1:8081/static/ok?x=1").unwrap(),
            (local, "/static/ok?x=1".into())
        );
        assert!(resolve("http://127.0.0.1").is_err(), "no port");
        assert!(resolve("https://127.0.0.1:8081").is_err(), "no TLS");
    }
}
