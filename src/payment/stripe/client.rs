//! Stripe's HTTP API as the gateway calls it: form-encoded `POST`s with an
//! `Idempotency-Key`, `GET`s, JSON answers. Connections (TLS to Stripe,
//! plain to a local fake) are kept between calls, a few at most. Transport
//! trouble is a transient [`PaymentError::Failed`]: the caller retries with
//! the same key, which Stripe answers from its first result.

use crate::config::Secret;
use crate::payment::PaymentError;
use crate::tls::{Connection, Tls};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use parking_lot::Mutex;

/// The Stripe API version the answers are parsed as.
pub const API_VERSION: &str = "2024-06-20";
/// Largest answer read; Stripe's objects are a few KiB.
const ANSWER_BYTES_MAX: usize = 1024 * 1024;
/// Idle connections kept for the next calls.
const IDLE_MAX: usize = 8;

pub(super) struct Client {
    /// `scheme://host[:port]`, no trailing slash.
    base: String,
    key: Secret,
    tls: Tls,
    idle: Mutex<Vec<Connection>>,
}

/// Stripe's answer: its status and JSON body (`Null` when not JSON).
pub(super) struct Answer {
    pub status: u16,
    pub body: serde_json::Value,
}

impl Client {
    pub fn new(base: &str, key: Secret, tls: Tls) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            key,
            tls,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// `POST {path}` with `form` url-encoded, under `idempotency_key`.
    pub async fn post(
        &self,
        path: &str,
        form: &[(&str, String)],
        idempotency_key: &str,
    ) -> Result<Answer, PaymentError> {
        let body = serde_urlencoded::to_string(form)
            .map_err(|e| PaymentError::Invalid(format!("encoding the request: {e}")))?;
        let request = self
            .request(hyper::Method::POST, path)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Idempotency-Key", idempotency_key)
            .body(Full::new(Bytes::from(body)));
        self.send(request).await
    }

    /// `GET {path}`.
    pub async fn get(&self, path: &str) -> Result<Answer, PaymentError> {
        let request = self
            .request(hyper::Method::GET, path)
            .body(Full::new(Bytes::new()));
        self.send(request).await
    }

    fn request(&self, method: hyper::Method, path: &str) -> hyper::http::request::Builder {
        let authority = self
            .base
            .split_once("://")
            .map_or(self.base.as_str(), |(_, rest)| rest);
        hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("Host", authority)
            .header("Authorization", format!("Bearer {}", self.key.expose()))
            .header("Stripe-Version", API_VERSION)
            .header("User-Agent", concat!("surge/", env!("CARGO_PKG_VERSION")))
    }

    async fn send(
        &self,
        request: Result<hyper::Request<Full<Bytes>>, hyper::http::Error>,
    ) -> Result<Answer, PaymentError> {
        let request = request.map_err(|e| PaymentError::Invalid(format!("request: {e}")))?;
        let mut connection = self.connection().await?;
        let response = connection
            .send_request(request)
            .await
            .map_err(|e| PaymentError::Failed(format!("stripe: sending: {e}")))?;
        let status = response.status().as_u16();
        let bytes = Limited::new(response.into_body(), ANSWER_BYTES_MAX)
            .collect()
            .await
            .map_err(|e| PaymentError::Failed(format!("stripe: reading the answer: {e}")))?
            .to_bytes();
        self.put_back(connection);
        let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        Ok(Answer { status, body })
    }

    /// An idle connection that is still open, or a new one.
    async fn connection(&self) -> Result<Connection, PaymentError> {
        loop {
            let Some(mut idle) = self.idle.lock().pop() else {
                break;
            };
            if idle.ready().await.is_ok() {
                return Ok(idle);
            }
        }
        let uri: hyper::Uri = self
            .base
            .parse()
            .map_err(|e| PaymentError::Invalid(format!("stripe_api_base: {e}")))?;
        self.tls
            .connect(&uri)
            .await
            .map_err(|e| PaymentError::Failed(format!("stripe: {e}")))
    }

    fn put_back(&self, connection: Connection) {
        let mut idle = self.idle.lock();
        if !connection.is_closed() && idle.len() < IDLE_MAX {
            idle.push(connection);
        }
    }
}
