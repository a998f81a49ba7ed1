//! Admin webhook routes: register, list, show and remove endpoints; list a
//! webhook's dead letters and replay them.

use super::auth::Admin;
use crate::clock::rfc3339;
use crate::events::{Delivery, EventKind, Webhook, WebhookError};
use crate::http::json::Json;
use crate::http::problem::{ApiError, Problem};
use crate::http::{idempotency_key, AppState};
use crate::idempotency::Answered;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Largest page of dead letters.
pub(crate) const DEAD_LETTERS_MAX: usize = 1000;
const DEAD_LETTERS_DEFAULT: usize = 100;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// `https://host[:port]/path` (or `http://`) that receives `POST`s of
    /// events; https is verified against the built-in roots and `[tls]
    /// extra_ca_file`.
    pub url: String,
    /// Key of the HMAC-SHA256 in `Surge-Signature`; never shown again.
    pub secret: String,
    /// Event kinds to deliver (`order.paid`, `stock.sold_out`, …); all
    /// kinds when omitted.
    pub events: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    /// The kinds delivered.
    pub events: Vec<&'static str>,
    /// Whether every kind is delivered, including kinds added later.
    pub all_events: bool,
    pub created_at: String,
    /// Deliveries waiting or backing off (in lists and single reads).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<usize>,
    /// Deliveries that ran out of tries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letters: Option<usize>,
}

impl WebhookView {
    fn new(hook: &Webhook, backlog: Option<(usize, usize)>) -> Self {
        let events = match &hook.events {
            Some(kinds) => kinds.iter().map(|k| k.as_str()).collect(),
            None => EventKind::ALL.iter().map(|k| k.as_str()).collect(),
        };
        Self {
            id: hook.id.clone(),
            url: hook.url.clone(),
            events,
            all_events: hook.events.is_none(),
            created_at: rfc3339(hook.created_at),
            pending: backlog.map(|b| b.0),
            dead_letters: backlog.map(|b| b.1),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    pub items: Vec<WebhookView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetterView {
    pub event_id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub sequence: u64,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub failed_at: String,
    pub event_created_at: String,
    /// The event's data, as it would be delivered.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

impl DeadLetterView {
    fn new(d: &Delivery) -> Self {
        Self {
            event_id: d.event.id.clone(),
            kind: d.event.kind.as_str(),
            sequence: d.event.seq,
            attempts: d.attempts,
            last_error: d.last_error.clone(),
            failed_at: rfc3339(d.next_at),
            event_created_at: rfc3339(d.event.at),
            data: serde_json::from_str(&d.event.data).unwrap_or_default(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetterList {
    pub items: Vec<DeadLetterView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Replayed {
    /// Dead letters put back on the way, with fresh tries.
    pub replayed: usize,
    /// Dead letters left (a replay of all takes at most 1000 at a time).
    pub remaining: usize,
}

impl From<(usize, usize)> for Replayed {
    fn from((replayed, remaining): (usize, usize)) -> Self {
        Self {
            replayed,
            remaining,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterQuery {
    /// Page size, 1 to 1000 (default 100).
    pub limit: Option<usize>,
}

impl From<WebhookError> for ApiError {
    fn from(e: WebhookError) -> Self {
        let detail = e.to_string();
        match e {
            WebhookError::NotFound(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "webhook-not-found", detail)
            }
            WebhookError::DeadLetterNotFound { .. } => {
                ApiError::new(StatusCode::NOT_FOUND, "dead-letter-not-found", detail)
            }
            WebhookError::Idempotency(e) => e.into(),
            WebhookError::RemovedSince(id) => {
                ApiError::new(StatusCode::CONFLICT, "webhook-removed-since", detail)
                    .with("webhook_id", id)
            }
            WebhookError::TooMany { max } => {
                ApiError::new(StatusCode::CONFLICT, "too-many-webhooks", detail).with("max", max)
            }
            WebhookError::Invalid(errors) => ApiError::invalid(errors),
            WebhookError::Store(e) => e.into(),
        }
    }
}

#[utoipa::path(post, path = "/v1/admin/webhooks", tag = "admin", request_body = NewWebhook,
    params(("Idempotency-Key" = Option<String>, Header, description = "a retry with the same key registers nothing and answers the webhook it registered")),
    responses((status = 201, body = WebhookView), (status = 400, body = Problem),
        (status = 401, body = Problem),
        (status = 409, body = Problem, description = "too-many-webhooks, the key is in use, or the webhook the key registered has been removed since (webhook-removed-since)"),
        (status = 422, body = Problem, description = "the key was used for another request")),
    security(("admin_token" = [])))]
pub async fn register(
    _admin: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Json<NewWebhook>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key::optional(&req)?;
    let registered = state
        .webhooks
        .register(
            &body.url,
            &body.secret,
            body.events.as_deref(),
            key.as_ref(),
        )
        .await?;
    let hook = registered.value;
    let mut res = HttpResponse::Created();
    res.insert_header(("Location", format!("/v1/admin/webhooks/{}", hook.id)));
    if registered.replayed {
        res.insert_header(idempotency_key::REPLAYED);
    }
    Ok(res.json(WebhookView::new(&hook, None)))
}

#[utoipa::path(get, path = "/v1/admin/webhooks", tag = "admin",
    responses((status = 200, body = WebhookList), (status = 401, body = Problem),
        (status = 503, body = Problem, description = "the store could not be read; retry after Retry-After")),
    security(("admin_token" = [])))]
pub async fn list(_admin: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let mut items = Vec::new();
    for hook in state.webhooks.list() {
        let backlog = state.webhooks.backlog(&hook.id)?;
        items.push(WebhookView::new(&hook, Some(backlog)));
    }
    Ok(no_store().json(WebhookList { items }))
}

#[utoipa::path(get, path = "/v1/admin/webhooks/{id}", tag = "admin",
    params(("id" = String, Path, description = "webhook id")),
    responses((status = 200, body = WebhookView), (status = 404, body = Problem),
        (status = 503, body = Problem, description = "the store could not be read; retry after Retry-After")),
    security(("admin_token" = [])))]
pub async fn get(
    _admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let hook = state
        .webhooks
        .get(&id)
        .ok_or_else(|| WebhookError::NotFound(id.to_string()))?;
    let backlog = state.webhooks.backlog(&hook.id)?;
    Ok(no_store().json(WebhookView::new(&hook, Some(backlog))))
}

#[utoipa::path(delete, path = "/v1/admin/webhooks/{id}", tag = "admin",
    params(("id" = String, Path, description = "webhook id")),
    responses((status = 204, description = "removed, with its pending deliveries and dead letters"),
        (status = 404, body = Problem)),
    security(("admin_token" = [])))]
pub async fn remove(
    _admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.webhooks.remove(&id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/v1/admin/webhooks/{id}/dead-letters", tag = "admin",
    params(("id" = String, Path, description = "webhook id"), DeadLetterQuery),
    responses((status = 200, body = DeadLetterList), (status = 404, body = Problem),
        (status = 503, body = Problem, description = "the store could not be read; retry after Retry-After")),
    security(("admin_token" = [])))]
pub async fn dead_letters(
    _admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<DeadLetterQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = crate::http::problem::edge::page_limit(
        query.limit,
        DEAD_LETTERS_DEFAULT,
        DEAD_LETTERS_MAX,
    )?;
    let letters = state.webhooks.dead_letters(&id, limit)?;
    Ok(no_store().json(DeadLetterList {
        items: letters.iter().map(DeadLetterView::new).collect(),
    }))
}

#[utoipa::path(post, path = "/v1/admin/webhooks/{id}/dead-letters/replay", tag = "admin",
    params(("id" = String, Path, description = "webhook id"),
        ("Idempotency-Key" = Option<String>, Header, description = "a retry with the same key replays nothing more and answers what the first replay did")),
    responses((status = 200, body = Replayed), (status = 404, body = Problem)),
    security(("admin_token" = [])))]
pub async fn replay_all(
    _admin: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key::optional(&req)?;
    let replay = state.webhooks.replay(&id, None, key.as_ref()).await?;
    Ok(replayed(replay))
}

#[utoipa::path(post, path = "/v1/admin/webhooks/{id}/dead-letters/{event_id}/replay", tag = "admin",
    params(("id" = String, Path, description = "webhook id"),
        ("event_id" = String, Path, description = "the dead letter's event id"),
        ("Idempotency-Key" = Option<String>, Header, description = "a retry with the same key replays nothing more and answers what the first replay did")),
    responses((status = 200, body = Replayed), (status = 404, body = Problem)),
    security(("admin_token" = [])))]
pub async fn replay_one(
    _admin: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, event) = path.into_inner();
    let key = idempotency_key::optional(&req)?;
    let replay = state
        .webhooks
        .replay(&id, Some(&event), key.as_ref())
        .await?;
    Ok(replayed(replay))
}

fn replayed(replay: Answered<(usize, usize)>) -> HttpResponse {
    let mut res = no_store();
    if replay.replayed {
        res.insert_header(idempotency_key::REPLAYED);
    }
    res.json(Replayed::from(replay.value))
}

fn no_store() -> actix_web::HttpResponseBuilder {
    let mut res = HttpResponse::Ok();
    res.insert_header(("Cache-Control", "no-store"));
    res
}
