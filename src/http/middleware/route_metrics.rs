//! Per-request telemetry: a tracing span and Prometheus counters/histograms
//! labelled by route pattern (never the raw path, which would make label
//! cardinality unbounded).

use actix_web::http::Method;
use dashmap::DashMap;
use metrics::{Counter, Histogram};
use std::sync::OnceLock;
use std::time::Duration;

/// Metric handles by (method, route pattern) and by status. Looking a
/// labelled metric up in the registry builds and hashes its key every time,
/// a visible share of a cheap read; a handle is an atomic to bump.
struct Handles {
    routes: DashMap<(&'static str, String), (Counter, Histogram)>,
    statuses: DashMap<u16, Counter>,
}

fn handles() -> &'static Handles {
    static HANDLES: OnceLock<Handles> = OnceLock::new();
    HANDLES.get_or_init(|| Handles {
        routes: DashMap::new(),
        statuses: DashMap::new(),
    })
}

/// The method as a label: any method outside the standard ones is `OTHER`,
/// so a client inventing methods cannot grow the label set.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Counts a finished request and its duration under its route pattern and
/// status.
pub fn record(method: &'static str, route: Option<String>, status: u16, elapsed: Duration) {
    let route = route.unwrap_or_else(|| "unmatched".to_owned());
    let elapsed = elapsed.as_secs_f64();
    let handles = handles();
    let key = (method, route);
    match handles.routes.get(&key) {
        Some(route) => {
            route.0.increment(1);
            route.1.record(elapsed);
        }
        None => {
            let labels = [("method", key.0.to_owned()), ("route", key.1.clone())];
            let requests = metrics::counter!("surge_http_requests_total", &labels);
            let duration = metrics::histogram!("surge_http_request_duration_seconds", &labels);
            requests.increment(1);
            duration.record(elapsed);
            handles.routes.insert(key, (requests, duration));
        }
    }
    // A read lock on the hot path; the write lock only for a new status.
    match handles.statuses.get(&status) {
        Some(counter) => counter.increment(1),
        None => handles
            .statuses
            .entry(status)
            .or_insert_with(
                || metrics::counter!("surge_http_responses_total", "status" => status.to_string()),
            )
            .increment(1),
    }
    tracing::debug!(status, elapsed_us = (elapsed * 1e6) as u64, "request done");
}
