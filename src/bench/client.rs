//! A lean HTTP/1.1 client for load: one keep-alive connection per task, built
//! on hyper's connection API so no pool, no TLS and no redirects sit on the
//! measured path.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::{IpAddr, SocketAddr};
use tokio::net::TcpStream;

pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    host: String,
}

/// One request to send: method, path, optional Idempotency-Key, JSON body.
#[derive(Default)]
pub struct Call {
    pub method: Method,
    pub path: String,
    pub key: Option<String>,
    pub body: Option<Bytes>,
    pub bearer: Option<String>,
    /// Sent as `X-Forwarded-For`: the client a trusted proxy would name
    /// (the drop gives each of its simulated clients its own address).
    pub forwarded_for: Option<IpAddr>,
}

/// What came back: the status, how long the server asked to wait (a
/// `Retry-After` in seconds), and the body.
pub struct Answer {
    pub status: StatusCode,
    pub retry_after_secs: Option<u64>,
    pub body: Bytes,
}

impl Call {
    pub fn get(path: impl Into<String>) -> Self {
        Self {
            method: Method::GET,
            path: path.into(),
            ..Self::default()
        }
    }
}

impl Connection {
    pub async fn open(addr: SocketAddr) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            // Ends when the peer closes or the sender is dropped.
            let _ = conn.await;
        });
        Ok(Self {
            sender,
            host: addr.to_string(),
        })
    }

    /// Sends `call` and reads the whole response; returns status and body.
    pub async fn send(&mut self, call: &Call) -> anyhow::Result<(StatusCode, Bytes)> {
        let answer = self.exchange(call).await?;
        Ok((answer.status, answer.body))
    }

    /// Sends `call` and reads the whole response, `Retry-After` included.
    pub async fn exchange(&mut self, call: &Call) -> anyhow::Result<Answer> {
        let mut req = Request::builder()
            .method(call.method.clone())
            .uri(&call.path)
            .header(hyper::header::HOST, &self.host);
        if let Some(key) = &call.key {
            req = req.header("Idempotency-Key", key);
        }
        if let Some(token) = &call.bearer {
            req = req.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(ip) = call.forwarded_for {
            req = req.header("X-Forwarded-For", ip.to_string());
        }
        let body = match &call.body {
            Some(body) => {
                req = req.header(hyper::header::CONTENT_TYPE, "application/json");
                body.clone()
            }
            None => Bytes::new(),
        };
        self.sender.ready().await?;
        let res = self.sender.send_request(req.body(Full::new(body))?).await?;
        let status = res.status();
        // Delay-seconds only: surge never sends an HTTP date here.
        let retry_after_secs = res
            .headers()
            .get(hyper::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let body = res.into_body().collect().await?.to_bytes();
        Ok(Answer {
            status,
            retry_after_secs,
            body,
        })
    }
}
