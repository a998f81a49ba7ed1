//! Operations routes: liveness, readiness, Prometheus metrics.

use crate::http::problem::{ApiError, Problem};
use crate::http::AppState;
use crate::store::StoreError;
use actix_web::{web, HttpResponse};
use std::sync::atomic::Ordering;

#[utoipa::path(get, path = "/healthz", tag = "ops",
    responses((status = 200, description = "the process is alive")))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

#[utoipa::path(get, path = "/readyz", tag = "ops",
    responses((status = 200, description = "store open and recovered; taking traffic"),
        (status = 503, body = Problem, description = "starting or shutting down")))]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if state.store.failed() {
        return Err(ApiError::unavailable(
            StoreError::Failed.code(),
            "a write failed; restart the server",
            30,
        ));
    }
    if state.ready.load(Ordering::Acquire) {
        // Durability is part of what a load test measures: say it.
        Ok(HttpResponse::Ok()
            .json(serde_json::json!({"status": "ready", "durability": state.durability})))
    } else {
        Err(ApiError::unavailable(
            "not-ready",
            "the server is starting or shutting down",
            1,
        ))
    }
}

#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain")))]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    // An age grows between backups: set at each scrape.
    state.backups.publish_age();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}
