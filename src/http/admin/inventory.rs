//! Admin stock and sale settings. Every change goes through the SKU's actor
//! (and, for a sale's waiting room, the queue) and answers after it is
//! durable.

use super::auth::Admin;
use crate::clock::{parse_rfc3339, rfc3339};
use crate::domain::{FieldError, Sku};
use crate::http::idempotency_key;
use crate::http::json::Json;
use crate::http::problem::{ApiError, Problem};
use crate::http::AppState;
use crate::inventory::{Levels, SaleRules};
use crate::queue::{QueueChange, QueueRecord, ADMIT_PER_SEC_MAX};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Most units a SKU may hold in stock.
pub(crate) const STOCK_MAX: u64 = 1_000_000_000;

#[derive(Debug, Serialize, ToSchema)]
pub struct InventoryView {
    pub sku: String,
    pub stocked: u64,
    pub available: u64,
    pub reserved: u64,
    pub sold: u64,
    pub sale: SaleView,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaleView {
    /// Most units one customer may buy; null for no limit.
    pub per_customer_limit: Option<u64>,
    /// RFC 3339; null for "already open".
    pub starts_at: Option<String>,
    /// RFC 3339; null for "never closes".
    pub ends_at: Option<String>,
    /// The drop's waiting room. Absent or null: none (a PUT replaces the
    /// whole sale, so this switches an enabled room off and drops its
    /// tickets). Switching a room on that was off starts it empty.
    pub queue: Option<QueueView>,
}

/// A sale's waiting room: while it is on, buyers join it
/// (`POST /v1/skus/{sku}/queue`) and a purchase needs the admission it
/// gives; who joined before `starts_at` is served in lottery order, later
/// joiners first come first served.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueView {
    pub enabled: bool,
    /// Most admissions in any second, 1 to 10000; when omitted, the
    /// server's `[queue] admit_per_sec_default` (50 unless configured).
    #[schema(minimum = 1, maximum = 10000)]
    pub admit_per_sec: Option<u32>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestockBody {
    pub quantity: u64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockBody {
    pub stocked: u64,
}

pub(crate) fn view(
    sku: &Sku,
    levels: Levels,
    sale: &SaleRules,
    queue: Option<QueueRecord>,
) -> InventoryView {
    InventoryView {
        sku: sku.to_string(),
        stocked: levels.stocked,
        available: levels.available,
        reserved: levels.reserved,
        sold: levels.sold,
        sale: SaleView {
            per_customer_limit: sale.per_customer_limit,
            starts_at: sale.starts_at.map(rfc3339),
            ends_at: sale.ends_at.map(rfc3339),
            queue: Some(QueueView {
                enabled: queue.is_some(),
                admit_per_sec: queue.map(|q| q.admit_per_sec),
            }),
        },
    }
}

pub(crate) fn parse_sku(raw: &str) -> Result<Sku, ApiError> {
    Sku::parse(raw).map_err(|e| ApiError::bad_request("invalid-path", e.0))
}

#[utoipa::path(get, path = "/v1/admin/skus/{sku}/inventory", tag = "admin",
    params(("sku" = crate::domain::Sku, Path, description = "SKU")), security(("admin_token" = [])),
    responses((status = 200, body = InventoryView), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 503, body = Problem, description = "the SKU is busy; retry after Retry-After")))]
pub async fn get_inventory(
    _: Admin,
    state: web::Data<AppState>,
    sku: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let sku = parse_sku(&sku)?;
    let (levels, sale) = state.inventory.inspect(&sku).await?;
    let queue = state.queues.rule(&sku);
    Ok(HttpResponse::Ok().json(view(&sku, levels, &sale, queue)))
}

#[utoipa::path(post, path = "/v1/admin/skus/{sku}/restock", tag = "admin", request_body = RestockBody,
    params(("sku" = crate::domain::Sku, Path, description = "SKU"),
        ("Idempotency-Key" = Option<String>, Header, description = "optional; a retry with the same key adds nothing and answers with the current levels")),
    security(("admin_token" = [])),
    responses((status = 200, body = InventoryView), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 404, body = Problem)))]
pub async fn restock(
    _: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
    sku: web::Path<String>,
    body: Json<RestockBody>,
) -> Result<HttpResponse, ApiError> {
    let sku = parse_sku(&sku)?;
    let key = idempotency_key::optional(&req)?;
    let (view, replayed) = restock_sku(&state, &sku, body.quantity, key).await?;
    let mut res = HttpResponse::Ok();
    if replayed {
        res.insert_header(idempotency_key::REPLAYED);
    }
    Ok(res.json(view))
}

/// Adds `quantity` units to `sku` once per key; the levels after it and
/// whether this was a replay. The JSON route and the dashboard both call it.
pub(crate) async fn restock_sku(
    state: &AppState,
    sku: &Sku,
    quantity: u64,
    key: Option<crate::idempotency::IdempotencyKey>,
) -> Result<(InventoryView, bool), ApiError> {
    if quantity == 0 || quantity > STOCK_MAX {
        return Err(ApiError::invalid(vec![FieldError::new(
            "quantity",
            format!("quantity must be between 1 and {STOCK_MAX}"),
        )]));
    }
    let restocked = state
        .inventory
        .restock_once(sku, quantity, key.as_ref())
        .await?;
    let (levels, sale) = restocked.standing;
    let view = view(sku, levels, &sale, state.queues.rule(sku));
    Ok((view, restocked.replayed))
}

#[utoipa::path(put, path = "/v1/admin/skus/{sku}/stock", tag = "admin", request_body = StockBody,
    params(("sku" = crate::domain::Sku, Path, description = "SKU")), security(("admin_token" = [])),
    responses((status = 200, body = InventoryView), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem, description = "below reserved + sold")))]
pub async fn set_stock(
    _: Admin,
    state: web::Data<AppState>,
    sku: web::Path<String>,
    body: Json<StockBody>,
) -> Result<HttpResponse, ApiError> {
    let sku = parse_sku(&sku)?;
    Ok(HttpResponse::Ok().json(set_stock_of(&state, &sku, body.stocked).await?))
}

/// Sets the units `sku` has in stock (409 below reserved + sold).
pub(crate) async fn set_stock_of(
    state: &AppState,
    sku: &Sku,
    stocked: u64,
) -> Result<InventoryView, ApiError> {
    if stocked > STOCK_MAX {
        return Err(ApiError::invalid(vec![FieldError::new(
            "stocked",
            format!("stocked must be at most {STOCK_MAX}"),
        )]));
    }
    let (levels, sale) = state.inventory.set_stocked(sku, stocked).await?;
    Ok(view(sku, levels, &sale, state.queues.rule(sku)))
}

#[utoipa::path(put, path = "/v1/admin/skus/{sku}/sale", tag = "admin", request_body = SaleView,
    params(("sku" = crate::domain::Sku, Path, description = "SKU")), security(("admin_token" = [])),
    responses((status = 200, body = InventoryView), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 404, body = Problem),
        (status = 422, body = Problem, description = "empty-sale-window: ends_at is not after starts_at"),
        (status = 503, body = Problem, description = "overloaded; retry after Retry-After")))]
pub async fn set_sale(
    _: Admin,
    state: web::Data<AppState>,
    sku: web::Path<String>,
    body: Json<SaleView>,
) -> Result<HttpResponse, ApiError> {
    let sku = parse_sku(&sku)?;
    Ok(HttpResponse::Ok().json(apply_sale(&state, &sku, &body).await?))
}

/// Sets `sku`'s sale (limit, window, waiting room) as `body` says.
pub(crate) async fn apply_sale(
    state: &AppState,
    sku: &Sku,
    body: &SaleView,
) -> Result<InventoryView, ApiError> {
    let (rules, queue) = parse_sale(body)?;
    let (levels, sale) = state.inventory.set_sale(sku, rules).await?;
    // To its end even if the admin hangs up: memory must follow the disk.
    let (queues, at, window) = (
        state.queues.clone(),
        sku.clone(),
        (sale.starts_at, sale.ends_at),
    );
    let configured = async move { queues.configure(&at, queue, window.0, window.1).await };
    let queue = actix_web::rt::spawn(configured)
        .await
        .map_err(|_| ApiError::internal())??;
    Ok(view(sku, levels, &sale, queue))
}

fn parse_sale(body: &SaleView) -> Result<(SaleRules, QueueChange), ApiError> {
    let mut errors = Vec::new();
    let mut time = |field: &str, raw: &Option<String>| match raw {
        None => None,
        Some(text) => {
            let parsed = parse_rfc3339(text);
            if parsed.is_none() {
                errors.push(FieldError::new(
                    field,
                    "must be an RFC 3339 time, e.g. 2026-11-27T09:00:00Z",
                ));
            }
            parsed
        }
    };
    let starts_at = time("starts_at", &body.starts_at);
    let ends_at = time("ends_at", &body.ends_at);
    if body.per_customer_limit == Some(0) {
        errors.push(FieldError::new(
            "per_customer_limit",
            "a limit must be at least 1 (null for none)",
        ));
    }
    let queue = QueueChange {
        enabled: body.queue.as_ref().is_some_and(|q| q.enabled),
        admit_per_sec: body.queue.as_ref().and_then(|q| q.admit_per_sec),
    };
    if queue
        .admit_per_sec
        .is_some_and(|n| !(1..=ADMIT_PER_SEC_MAX).contains(&n))
    {
        errors.push(FieldError::new(
            "queue.admit_per_sec",
            format!("must be between 1 and {ADMIT_PER_SEC_MAX}"),
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    // Each time fits its schema; only together are they refused, so this is
    // a 422, not the 400 of a request that does not fit the document.
    if let (Some(start), Some(end)) = (starts_at, ends_at) {
        if end <= start {
            let mut refused = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "empty-sale-window",
                "ends_at must be after starts_at",
            );
            refused.errors = vec![FieldError::new(
                "ends_at",
                "ends_at must be after starts_at",
            )];
            return Err(refused);
        }
    }
    let rules = SaleRules {
        per_customer_limit: body.per_customer_limit,
        starts_at,
        ends_at,
    };
    Ok((rules, queue))
}

/// Live counts an operator watches.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsView {
    /// SKU actors in memory; idle ones passivate.
    pub sku_actors_active: usize,
}

#[utoipa::path(get, path = "/v1/admin/stats", tag = "admin", security(("admin_token" = [])),
    responses((status = 200, body = StatsView), (status = 401, body = Problem)))]
pub async fn stats(_: Admin, state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(StatsView {
        sku_actors_active: state.inventory.active(),
    })
}
