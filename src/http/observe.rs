//! Per-request telemetry: a tracing span and Prometheus counters/histograms
//! labelled by route pattern (never the raw path, which would make label
//! cardinality unbounded).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::Error;
use std::time::Instant;
use tracing::Instrument;

pub async fn record_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let span = tracing::debug_span!("request", method = %method, path = %req.path());
    let res = next.call(req).instrument(span).await?;
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = res.status().as_u16();
    let elapsed = started.elapsed().as_secs_f64();
    let labels = [("method", method.to_string()), ("route", route)];
    metrics::counter!("surge_http_requests_total", &labels).increment(1);
    metrics::counter!("surge_http_responses_total", "status" => status.to_string()).increment(1);
    metrics::histogram!("surge_http_request_duration_seconds", &labels).record(elapsed);
    tracing::debug!(status, elapsed_us = (elapsed * 1e6) as u64, "request done");
    Ok(res)
}
