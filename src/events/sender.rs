//! Sending one event to one webhook: the signed JSON request over a
//! keep-alive HTTP/1.1 connection (TLS for an `https://` endpoint). Idle connections are kept between rounds,
//! so a busy endpoint costs one request, not one TCP handshake, per
//! delivery.

use super::signature::{self, EVENT_ID_HEADER, EVENT_TYPE_HEADER, TIMESTAMP_HEADER};
use super::{Event, Webhook};
use crate::clock::{rfc3339, Millis};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use std::collections::HashMap;
use std::time::Duration;

pub use crate::tls::Connection;
use crate::tls::Tls;

/// Largest answer body read (and thrown away) to keep a connection; a
/// larger one closes it.
const ANSWER_BYTES_MAX: usize = 64 * 1024;

/// Idle connections by webhook id, at most the in-flight limit in all: a
/// round uses no more connections than it sends deliveries, so that many
/// can all be reused (a cap of 8 per webhook would open 56 new connections
/// to a busy one per round of 64), and however many webhooks are registered
/// they hold no more descriptors than one round's worth.
pub struct Connections {
    idle: HashMap<String, Vec<Connection>>,
    max: usize,
    /// How new connections to `https://` endpoints are made.
    tls: Tls,
}

impl Connections {
    pub fn new(in_flight_max: usize, tls: Tls) -> Self {
        Self {
            idle: HashMap::new(),
            max: in_flight_max,
            tls,
        }
    }

    pub fn tls(&self) -> &Tls {
        &self.tls
    }

    fn idle_count(&self) -> usize {
        self.idle.values().map(Vec::len).sum()
    }

    /// Drops the connections of removed webhooks and those the endpoint
    /// closed while they were idle.
    pub fn prune(&mut self, registered: impl Fn(&str) -> bool) {
        self.idle.retain(|webhook, idle| {
            idle.retain(|c| !c.is_closed());
            registered(webhook) && !idle.is_empty()
        });
    }

    pub fn take(&mut self, webhook: &str) -> Option<Connection> {
        self.idle.get_mut(webhook)?.pop()
    }

    /// Keeps `connection` for the next delivery to `webhook`, if it is open
    /// and the pool has room.
    pub fn put_back(&mut self, webhook: &str, connection: Connection) {
        if connection.is_closed() || self.idle_count() >= self.max {
            return;
        }
        self.idle
            .entry(webhook.to_owned())
            .or_default()
            .push(connection);
    }

    /// Drops the connections of a removed webhook.
    pub fn forget(&mut self, webhook: &str) {
        self.idle.remove(webhook);
    }
}

/// One try: POST the signed event, over `open` if it is still usable.
/// `Ok` only on a 2xx within `timeout`; the connection comes back when it
/// can carry another request.
pub async fn send(
    tls: &Tls,
    hook: &Webhook,
    event: &Event,
    now: Millis,
    timeout: Duration,
    open: Option<Connection>,
) -> (Result<(), String>, Option<Connection>) {
    let exchange = async {
        let reusable = match open {
            Some(mut c) => c.ready().await.is_ok().then_some(c),
            None => None,
        };
        let (connection, res) = match reusable {
            Some(mut c) => match c.try_send_request(request(hook, event, now)?).await {
                Ok(res) => (c, res),
                // The idle connection closed before the request was written:
                // nothing was sent, so try once more on a new one. An error
                // after writing fails the try (the endpoint may have acted).
                Err(mut e) => match e.take_message() {
                    Some(_) => fresh(tls, hook, event, now).await?,
                    None => return Err(format!("sending: {}", e.into_error())),
                },
            },
            None => fresh(tls, hook, event, now).await?,
        };
        let status = res.status();
        // The answer must be read whole before the connection can be reused.
        let drained = Limited::new(res.into_body(), ANSWER_BYTES_MAX)
            .collect()
            .await
            .is_ok();
        Ok((status, drained.then_some(connection)))
    };
    match tokio::time::timeout(timeout, exchange).await {
        // A refusal is the endpoint's answer; its connection is still good.
        Ok(Ok((status, kept))) if status.is_success() => (Ok(()), kept),
        Ok(Ok((status, kept))) => (Err(format!("answered {}", status.as_u16())), kept),
        Ok(Err(why)) => (Err(why), None),
        Err(_) => (
            Err(format!("no answer within {} ms", timeout.as_millis())),
            None,
        ),
    }
}

/// Sends on a new connection.
async fn fresh(
    tls: &Tls,
    hook: &Webhook,
    event: &Event,
    now: Millis,
) -> Result<(Connection, hyper::Response<hyper::body::Incoming>), String> {
    let uri: hyper::Uri = hook.url.parse().map_err(|e| format!("bad url: {e}"))?;
    let mut connection = tls.connect(&uri).await?;
    let res = connection
        .send_request(request(hook, event, now)?)
        .await
        .map_err(|e| format!("sending: {e}"))?;
    Ok((connection, res))
}

/// The signed request for `event`.
fn request(
    hook: &Webhook,
    event: &Event,
    now: Millis,
) -> Result<hyper::Request<Full<Bytes>>, String> {
    let body = payload(event);
    let timestamp = now / 1000;
    let signature = signature::sign(&hook.secret, timestamp, &body);
    let uri: hyper::Uri = hook.url.parse().map_err(|e| format!("bad url: {e}"))?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let authority = uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .ok_or("the url has no host")?;
    hyper::Request::post(path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(hyper::header::USER_AGENT, "surge-webhooks/1")
        .header(EVENT_ID_HEADER, &event.id)
        .header(EVENT_TYPE_HEADER, event.kind.as_str())
        .header(TIMESTAMP_HEADER, timestamp.to_string())
        .header(signature::SIGNATURE_HEADER, signature)
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("building the request: {e}"))
}

/// The JSON body of an event as a webhook receives it.
fn payload(event: &Event) -> Vec<u8> {
    let data: serde_json::Value =
        serde_json::from_str(&event.data).unwrap_or(serde_json::Value::Null);
    let body = serde_json::json!({
        "id": event.id,
        "type": event.kind.as_str(),
        "sequence": event.seq,
        "created_at": rfc3339(event.at),
        "data": data,
    });
    serde_json::to_vec(&body).unwrap_or_default()
}
