//! A webhook receiver for tests: an HTTP/1.1 keep-alive listener on a free
//! port (plain, or TLS with a certificate of the test's CA) that records
//! every request, answers 500 to the first `fail_first` ones (or to all
//! while `failing`), then 200.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Mutex;
use tokio_rustls::TlsAcceptor;

/// One request as received; `accepted` is whether it was answered 200.
#[derive(Debug, Clone)]
pub struct Received {
    /// Which connection it came on (numbered in accept order).
    pub connection: usize,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    pub accepted: bool,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map_or("", String::as_str)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    fail_first: Arc<AtomicUsize>,
    failing: Arc<AtomicBool>,
    requests: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    /// Starts listening; the first `fail_first` requests get 500.
    pub async fn start(fail_first: usize) -> Receiver {
        Self::listen(fail_first, None).await
    }

    /// Starts listening over TLS at `https://localhost:<port>`, with the
    /// certificate `acceptor` presents.
    pub async fn start_tls(fail_first: usize, acceptor: TlsAcceptor) -> Receiver {
        Self::listen(fail_first, Some(acceptor)).await
    }

    async fn listen(fail_first: usize, tls: Option<TlsAcceptor>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let url = match tls {
            Some(_) => format!("https://localhost:{port}/hooks/surge"),
            None => format!("http://127.0.0.1:{port}/hooks/surge"),
        };
        let receiver = Receiver {
            url,
            fail_first: Arc::new(AtomicUsize::new(fail_first)),
            failing: Arc::new(AtomicBool::new(false)),
            requests: Arc::default(),
        };
        let serving = receiver.clone();
        tokio::spawn(async move {
            let mut accepted = 0;
            while let Ok((stream, _)) = listener.accept().await {
                accepted += 1;
                let serving = serving.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        // A failed handshake is recorded by nothing: the
                        // sender sees it as a failed try.
                        Some(tls) => {
                            if let Ok(stream) = tls.accept(stream).await {
                                serving.answer(stream, accepted).await;
                            }
                        }
                        None => serving.answer(stream, accepted).await,
                    }
                });
            }
        });
        receiver
    }

    /// While on, every request gets 500.
    pub fn set_failing(&self, on: bool) {
        self.failing.store(on, Ordering::SeqCst);
    }

    pub async fn requests(&self) -> Vec<Received> {
        self.requests.lock().await.clone()
    }

    /// The accepted requests, once `done` holds for them (within 20 s).
    pub async fn wait_for(&self, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let accepted: Vec<Received> = self
                .requests()
                .await
                .into_iter()
                .filter(|r| r.accepted)
                .collect();
            if done(&accepted) {
                return accepted;
            }
            assert!(
                Instant::now() < deadline,
                "the receiver waited 20 s; it has {} accepted of {} requests",
                accepted.len(),
                self.requests().await.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Answers requests on one keep-alive connection until the peer closes.
    async fn answer<S: AsyncRead + AsyncWrite + Unpin>(&self, mut stream: S, connection: usize) {
        let mut buf = Vec::new();
        while let Some((headers, body)) = read_request(&mut stream, &mut buf).await {
            if !self.reply(&mut stream, connection, headers, body).await {
                return;
            }
        }
    }

    /// Records one request and answers it; false if the answer failed.
    async fn reply<S: AsyncWrite + Unpin>(
        &self,
        stream: &mut S,
        connection: usize,
        headers: HashMap<String, String>,
        body: Vec<u8>,
    ) -> bool {
        let fail = self.failing.load(Ordering::SeqCst)
            || self
                .fail_first
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
        self.requests.lock().await.push(Received {
            connection,
            headers,
            body,
            accepted: !fail,
        });
        let status = if fail {
            "500 Internal Server Error"
        } else {
            "200 OK"
        };
        let reply = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n");
        stream.write_all(reply.as_bytes()).await.is_ok() && stream.flush().await.is_ok()
    }
}

/// Reads one request: lower-cased headers and a `content-length` body.
/// `buf` carries bytes already read past the previous request.
async fn read_request<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
) -> Option<(HashMap<String, String>, Vec<u8>)> {
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = stream.read(&mut chunk).await.ok().filter(|&n| n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let headers: HashMap<String, String> = head
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers.get("content-length")?.parse().ok()?;
    while buf.len() < head_end + 4 + length {
        let n = stream.read(&mut chunk).await.ok().filter(|&n| n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[head_end + 4..head_end + 4 + length].to_vec();
    buf.drain(..head_end + 4 + length);
    Some((headers, body))
}
