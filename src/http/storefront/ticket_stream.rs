//! `GET /v1/queue/{ticket}/stream`: a ticket as Server-Sent Events, so a
//! waiting page moves without polling. Each `ticket` event carries the
//! same JSON as `GET /v1/queue/{ticket}`; one is sent at once, then again
//! whenever the ticket reads differently. The stream looks when the
//! ticket's room changes (at most every [`LOOK_INTERVAL`], so a rush of
//! lottery joins costs each client a few looks a second, not one per join)
//! and at each keep-alive (an estimate counts down with time). Streams
//! share the live event stream's client limit and end at shutdown, or
//! when the ticket is gone (its room switched off).

use super::queue::{parse_ticket, TicketView};
use super::stream::event_stream;
use crate::http::problem::{ApiError, Problem};
use crate::http::AppState;
use crate::queue::TicketWatch;
use actix_web::{web, HttpResponse};
use bytes::Bytes;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::{watch, OwnedSemaphorePermit};

/// Shortest time between two looks at a ticket after room changes.
const LOOK_INTERVAL: Duration = Duration::from_millis(250);

/// What one follower's stream holds between events.
struct Follower {
    watch: TicketWatch,
    /// The last ticket sent, so that an unchanged one is not sent again.
    last: Option<TicketView>,
    keepalive: tokio::time::Interval,
    keepalive_due: bool,
    closing: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
}

#[utoipa::path(get, path = "/v1/queue/{ticket}/stream", tag = "flash sale", operation_id = "ticket_stream",
    params(("ticket" = String, Path, description = "ticket id", pattern = "^tkt_[0-9a-f]{32}$")),
    responses((status = 200, content_type = "text/event-stream",
        description = "`event: ticket` frames whose data is the ticket as `GET /v1/queue/{ticket}` answers it: one at once, then one per change"),
        (status = 400, body = Problem), (status = 404, body = Problem, description = "ticket-not-found"),
        (status = 503, body = Problem, description = "too many streams")))]
pub async fn stream(
    state: web::Data<AppState>,
    ticket: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_ticket(&ticket)?;
    // The ticket must exist before a client slot is taken.
    state.queues.ticket(&id)?;
    let follower = Follower {
        _slot: state.streams.slot()?,
        watch: state.queues.watch(&id)?,
        last: None,
        keepalive: state.streams.keepalive_timer(),
        keepalive_due: false,
        closing: state.streams.closing(),
    };
    Ok(event_stream(futures_util::stream::unfold(follower, next)))
}

/// What woke a waiting stream.
enum Wake {
    Changed,
    KeepAlive,
    Closing,
}

/// The next frame of a stream, or its end.
async fn next(mut f: Follower) -> Option<(Result<Bytes, Infallible>, Follower)> {
    loop {
        let view = TicketView::new(&f.watch.current()?);
        if f.last.as_ref() != Some(&view) {
            let frame = frame(&view);
            f.last = Some(view);
            f.keepalive_due = false;
            return Some((Ok(frame), f));
        }
        if std::mem::take(&mut f.keepalive_due) {
            return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), f));
        }
        let wake = tokio::select! {
            () = f.watch.changed() => Wake::Changed,
            _ = f.keepalive.tick() => Wake::KeepAlive,
            _ = f.closing.wait_for(|closing| *closing) => Wake::Closing,
        };
        match wake {
            Wake::Changed => tokio::time::sleep(LOOK_INTERVAL).await,
            Wake::KeepAlive => f.keepalive_due = true,
            Wake::Closing => return None,
        }
    }
}

fn frame(view: &TicketView) -> Bytes {
    let data = serde_json::to_string(view).unwrap_or_default();
    Bytes::from(format!("event: ticket\ndata: {data}\n\n"))
}
