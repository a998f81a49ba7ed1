//! The overview: a sale as it happens. Orders, order value and units per
//! minute, the purchase route's p50/p99, refusals, the commit batch size,
//! an orders-per-minute chart and the SKUs whose stock falls fastest, all
//! from [`Pulse`](super::super::pulse::Pulse); the page then follows
//! `/admin/live`, which sends the same figures every second.

use crate::catalog::SkuStatus;
use crate::http::dashboard::chart;
use crate::http::dashboard::layout::{group, money_of, page, Flash, Signed, UiError};
use crate::http::dashboard::pulse::PulseView;
use crate::http::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use maud::{html, Markup};
use serde::Serialize;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::{watch, OwnedSemaphorePermit};

const CHART_LABEL: &str = "Orders per minute";

/// The figures as text, by the name the page's elements carry.
fn figures(v: &PulseView) -> Vec<(&'static str, String)> {
    let value = if v.value_per_min.is_empty() {
        "—".to_owned()
    } else {
        let parts: Vec<String> = v
            .value_per_min
            .iter()
            .map(|(c, m)| money_of(*m, c))
            .collect();
        parts.join(" + ")
    };
    let latency = |s: Option<f64>| match s {
        None => "—".to_owned(),
        Some(s) if s.is_infinite() => "> 10 s".to_owned(),
        Some(s) if s < 0.001 => format!("≤ {:.0} µs", s * 1e6),
        Some(s) if s < 1.0 => format!("≤ {} ms", s * 1e3),
        Some(s) => format!("≤ {s} s"),
    };
    vec![
        ("orders_per_min", group(v.orders_per_min as i64)),
        ("value_per_min", value),
        ("units_per_min", group(v.units_per_min as i64)),
        (
            "units_total",
            format!("{} since start", group(v.units_total as i64)),
        ),
        ("p50", latency(v.purchase_p50)),
        ("p99", format!("p99 {}", latency(v.purchase_p99))),
        ("refused_per_min", group(v.refused_per_min as i64)),
        (
            "sold_out_per_min",
            format!("{} sold-out answers", group(v.sold_out_per_min as i64)),
        ),
        (
            "batch_mean",
            v.batch_mean.map_or("—".to_owned(), |m| format!("{m:.1}")),
        ),
    ]
}

/// A hot SKU as shown.
#[derive(Serialize)]
struct Hot {
    sku: String,
    title: String,
    units_per_min: u64,
    available: String,
    /// Its fall as a share of the hottest one's, 0 to 100.
    share: u64,
}

fn hot(state: &AppState, v: &PulseView) -> Vec<Hot> {
    let snapshot = state.catalog.snapshot();
    let top = v.hot.first().map_or(1, |h| h.1.max(1));
    v.hot
        .iter()
        .map(|(sku, units)| Hot {
            sku: sku.to_string(),
            title: match snapshot.sku(sku) {
                Some(SkuStatus::Listed(p, var)) => {
                    format!("{} · {}", p.title.as_str(), var.title.as_str())
                }
                _ => "(retired)".to_owned(),
            },
            units_per_min: *units,
            available: state
                .inventory
                .availability()
                .get(sku)
                .map_or("?".to_owned(), |a| a.to_string()),
            share: units * 100 / top,
        })
        .collect()
}

/// `GET /admin`.
pub async fn overview(
    Signed(session): Signed,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> HttpResponse {
    let v = state.dashboard.pulse.view();
    let figures = figures(&v);
    let text = |name: &str| {
        figures
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(String::new(), |(_, t)| t.clone())
    };
    let tile = |label: &str, name: &str, sub: Option<&str>| -> Markup {
        html! {
            div class="tile" {
                div class="label" { (label) }
                div class="value" data-metric=(name) { (text(name)) }
                @if let Some(sub) = sub { div class="sub" data-metric=(sub) { (text(sub)) } }
            }
        }
    };
    let body = html! {
        section data-live="/admin/live" aria-label="Live sales" {
            p { span class="live" role="status" { "Live figures need JavaScript; reload to refresh" } }
            div class="tiles" {
                (tile("Orders / min", "orders_per_min", None))
                (tile("Order value / min", "value_per_min", None))
                (tile("Units / min", "units_per_min", Some("units_total")))
                (tile("Purchase p50", "p50", Some("p99")))
                (tile("Refused / min", "refused_per_min", Some("sold_out_per_min")))
                (tile("Ops per commit", "batch_mean", None))
            }
            div class="grid two" {
                div class="card" {
                    h2 { (CHART_LABEL) }
                    div data-chart { (chart::area(&v.orders_series, CHART_LABEL)) }
                }
                div class="card" {
                    h2 { "Hottest SKUs (last minute)" }
                    div class="table-wrap" {
                        table {
                            thead { tr { th { "SKU" } th class="num" { "Sold" } th class="num" { "Stock" } th { "Share" } } }
                            tbody data-hot {
                                @for h in hot(&state, &v) {
                                    tr data-sku=(h.sku) {
                                        td { strong { (h.sku) } div class="muted small" { (h.title) } }
                                        td class="num" { (h.units_per_min) } td class="num stock" { (h.available) }
                                        td { div class="bar" { span data-share=(h.share) {} } }
                                    }
                                }
                            }
                        }
                    }
                    p class="muted" data-hot-empty hidden[!v.hot.is_empty()] { "No stock has moved in the last minute." }
                }
            }
            p class="muted" {
                "Per-minute figures cover the last 60 s the dashboard watched; latencies are histogram bucket bounds of "
                code { "POST /v1/skus/{sku}/purchase" } ". Refused: 429 and 503 answers. The same counters are on "
                a href="/metrics" { "/metrics" } "."
            }
        }
    };
    page("Overview", "Overview", &session, &Flash::of(&req), body)
}

/// One live client's stream.
struct Live {
    state: web::Data<AppState>,
    every: tokio::time::Interval,
    closing: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
}

/// `GET /admin/live`: `event: pulse` every second with the overview's
/// figures, chart and hot SKUs. Bounded with the other live streams.
pub async fn live(_: Signed, state: web::Data<AppState>) -> Result<HttpResponse, UiError> {
    let slot = state.streams.slot().map_err(UiError::Failed)?;
    let mut every = tokio::time::interval(Duration::from_secs(1));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let client = Live {
        closing: state.streams.closing(),
        state,
        every,
        _slot: slot,
    };
    Ok(crate::http::storefront::stream::event_stream(
        futures_util::stream::unfold(client, next),
    ))
}

async fn next(mut c: Live) -> Option<(Result<Bytes, Infallible>, Live)> {
    tokio::select! {
        _ = c.every.tick() => {}
        _ = c.closing.wait_for(|closing| *closing) => return None,
    }
    c.state.dashboard.pulse.touch();
    let v = c.state.dashboard.pulse.view();
    let data = serde_json::json!({
        "metrics": figures(&v)
            .into_iter()
            .map(|(name, text)| (name.to_owned(), serde_json::Value::String(text)))
            .collect::<serde_json::Map<_, _>>(),
        "chart": chart::area_string(&v.orders_series, CHART_LABEL),
        "hot": hot(&c.state, &v),
    });
    let frame = format!("event: pulse\ndata: {data}\n\n");
    Some((Ok(Bytes::from(frame)), c))
}
