//! `GET /v1/events/stream`: Server-Sent Events of public stock changes, so a
//! storefront shows live availability without polling. Each client reads
//! the shared broadcast feed of published availability; one that falls a
//! whole feed buffer behind is dropped (and reconnects), so a slow client
//! never grows memory. The number of clients is bounded, and every stream
//! ends when the server starts shutting down.

use crate::domain::{FieldError, Sku};
use crate::http::problem::{ApiError, Problem};
use crate::http::AppState;
use crate::inventory::StockUpdate;
use actix_web::{web, HttpResponse};
use bytes::Bytes;
use serde::Deserialize;
use std::collections::{HashSet, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch, OwnedSemaphorePermit, Semaphore};
use utoipa::IntoParams;

/// Most SKUs one stream may filter on.
pub(crate) const FILTER_SKUS_MAX: usize = 100;

/// The streams' shared limits and their shutdown signal.
pub struct Streams {
    /// One permit per open stream, given back when it is dropped.
    clients: Arc<Semaphore>,
    keepalive: Duration,
    closing: watch::Sender<bool>,
}

impl Streams {
    pub fn new(clients_max: usize, keepalive_secs: u64) -> Self {
        Self {
            clients: Arc::new(Semaphore::new(clients_max)),
            keepalive: Duration::from_secs(keepalive_secs),
            closing: watch::Sender::new(false),
        }
    }

    /// The timer of a stream's keep-alive comments (its first tick is at
    /// once, which starts the response on a stream with nothing to say).
    pub(crate) fn keepalive_timer(&self) -> tokio::time::Interval {
        let mut timer = tokio::time::interval(self.keepalive);
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        timer
    }

    /// Turns true when every stream must end (shutdown).
    pub(crate) fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Ends every open stream and refuses new ones (at shutdown).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// A place for one more client; 503 at the limit or when closing.
    pub(crate) fn slot(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        let full = || {
            ApiError::unavailable(
                "too-many-streams",
                "the live stream is at its client limit",
                5,
            )
        };
        if *self.closing.borrow() {
            return Err(full());
        }
        self.clients.clone().try_acquire_owned().map_err(|_| full())
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    /// Comma-separated SKUs to follow (at most 100); every SKU when omitted.
    /// The stream starts with the current availability of each.
    pub skus: Option<String>,
}

/// What one client's stream holds between events.
struct Client {
    feed: broadcast::Receiver<StockUpdate>,
    only: Option<HashSet<Sku>>,
    /// Frames to send before the live ones (the filtered SKUs' current state).
    first: VecDeque<Bytes>,
    keepalive: tokio::time::Interval,
    closing: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
}

#[utoipa::path(get, path = "/v1/events/stream", tag = "catalog", params(StreamQuery),
    responses((status = 200, content_type = "text/event-stream",
        description = "`event: stock` frames with `{\"sku\",\"available\",\"sold_out\"}` data"),
        (status = 400, body = Problem), (status = 503, body = Problem, description = "too many streams")))]
pub async fn stream(
    state: web::Data<AppState>,
    query: web::Query<StreamQuery>,
) -> Result<HttpResponse, ApiError> {
    let only = match &query.skus {
        None => None,
        Some(raw) => Some(parse_skus(raw)?),
    };
    let slot = state.streams.slot()?;
    // Subscribe before reading the current values, so no change between the
    // two is missed (a duplicate is harmless: frames carry absolute counts).
    let feed = state.inventory.availability().subscribe();
    let first = only
        .iter()
        .flatten()
        .filter_map(|sku| {
            let available = state.inventory.availability().get(sku)?;
            Some(frame(&StockUpdate {
                sku: sku.clone(),
                available,
                sold_out: available == 0,
                previous: None,
            }))
        })
        .collect();
    let client = Client {
        feed,
        only,
        first,
        keepalive: state.streams.keepalive_timer(),
        closing: state.streams.closing(),
        _slot: slot,
    };
    Ok(event_stream(futures_util::stream::unfold(client, next)))
}

/// A `text/event-stream` response of `frames`, never cached or buffered
/// by a proxy on the way.
pub(crate) fn event_stream<S>(frames: S) -> HttpResponse
where
    S: futures_util::Stream<Item = Result<Bytes, Infallible>> + 'static,
{
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(frames)
}

/// What woke a waiting stream.
enum Wake {
    Feed(Result<StockUpdate, broadcast::error::RecvError>),
    KeepAlive,
    Closing,
}

/// The next frame of a stream, or its end.
async fn next(mut c: Client) -> Option<(Result<Bytes, Infallible>, Client)> {
    if let Some(frame) = c.first.pop_front() {
        return Some((Ok(frame), c));
    }
    loop {
        let wake = tokio::select! {
            got = c.feed.recv() => Wake::Feed(got),
            _ = c.keepalive.tick() => Wake::KeepAlive,
            _ = c.closing.wait_for(|closing| *closing) => Wake::Closing,
        };
        match wake {
            Wake::Feed(Ok(update)) => {
                if c.only.as_ref().is_none_or(|o| o.contains(&update.sku)) {
                    return Some((Ok(frame(&update)), c));
                }
            }
            Wake::Feed(Err(broadcast::error::RecvError::Lagged(missed))) => {
                metrics::counter!("surge_event_stream_dropped_total").increment(1);
                tracing::debug!(missed, "dropping a slow event-stream client");
                return None;
            }
            Wake::KeepAlive => return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), c)),
            Wake::Feed(Err(broadcast::error::RecvError::Closed)) | Wake::Closing => return None,
        }
    }
}

fn frame(update: &StockUpdate) -> Bytes {
    let data = serde_json::to_string(update).unwrap_or_default();
    Bytes::from(format!("event: stock\ndata: {data}\n\n"))
}

fn parse_skus(raw: &str) -> Result<HashSet<Sku>, ApiError> {
    // The list is bounded as sent (repeats count), so that the limit can be
    // stated in the API document's pattern.
    if raw.split(',').count() > FILTER_SKUS_MAX {
        return Err(ApiError::invalid(vec![FieldError::new(
            "skus",
            format!("at most {FILTER_SKUS_MAX} SKUs"),
        )]));
    }
    let mut skus = HashSet::new();
    for (i, part) in raw.split(',').map(str::trim).enumerate() {
        let sku = Sku::parse(part)
            .map_err(|e| ApiError::invalid(vec![FieldError::new(format!("skus[{i}]"), e.0)]))?;
        skus.insert(sku);
    }
    Ok(skus)
}
