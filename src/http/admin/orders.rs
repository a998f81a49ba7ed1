//! Admin order routes: the list (by status, cursor pagination) and the
//! moves a merchant makes: fulfil, ship, deliver, cancel, refund.

use super::auth::Admin;
use crate::domain::{FieldError, Money};
use crate::http::problem::{ApiError, Problem};
use crate::http::storefront::orders::{change, order_id, OrderView};
use crate::http::{idempotency_key, AppState};
use crate::order::{Canceller, OrderStatus, Transition};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Largest page of orders.
pub(crate) const PAGE_MAX: usize = 200;
const PAGE_DEFAULT: usize = 50;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only orders in this status.
    pub status: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderPage {
    pub items: Vec<OrderView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundBody {
    /// How much to pay back; everything still refundable when omitted.
    pub amount: Option<Money>,
}

#[utoipa::path(get, path = "/v1/admin/orders", tag = "admin", params(ListQuery),
    responses((status = 200, body = OrderPage), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 503, body = Problem, description = "the store could not be read; retry after Retry-After")),
    security(("admin_token" = [])))]
pub async fn list_orders(
    _admin: Admin,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let status = match &query.status {
        None => None,
        Some(raw) => Some(OrderStatus::parse(raw).ok_or_else(|| {
            ApiError::invalid(vec![FieldError::new(
                "status",
                format!("'{raw}' is not an order status"),
            )])
        })?),
    };
    let limit = crate::http::problem::edge::page_limit(query.limit, PAGE_DEFAULT, PAGE_MAX)?;
    let page = state.orders.list(status, query.cursor.as_deref(), limit)?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(OrderPage {
            items: page.orders.iter().map(OrderView::new).collect(),
            next_cursor: page.next_cursor.as_ref().map(ToString::to_string),
        }))
}

macro_rules! step_route {
    ($name:ident, $path:literal, $step:expr, $what:literal) => {
        #[utoipa::path(post, path = $path, tag = "admin",
            params(("id" = crate::domain::OrderId, Path, description = "order id"),
                ("Idempotency-Key" = Option<String>, Header, description = "a retry with the same key is answered as the first call was")),
            responses((status = 200, body = OrderView, description = $what),
                (status = 404, body = Problem),
                (status = 409, body = Problem, description = "illegal-transition, or the key is in use"),
                (status = 422, body = Problem, description = "the key was used for another request")),
            security(("admin_token" = [])))]
        pub async fn $name(
            _admin: Admin,
            req: HttpRequest,
            state: web::Data<AppState>,
            id: web::Path<String>,
        ) -> Result<HttpResponse, ApiError> {
            let id = order_id(&id)?;
            let key = idempotency_key::optional(&req)?;
            change(&state, id, key, |orders, id, key| async move {
                orders.advance(&id, $step, key.as_ref()).await
            })
            .await
        }
    };
}

step_route!(
    fulfil,
    "/v1/admin/orders/{id}/fulfil",
    Transition::Fulfil,
    "fulfilled"
);
step_route!(
    ship,
    "/v1/admin/orders/{id}/ship",
    Transition::Ship,
    "shipped"
);
step_route!(
    deliver,
    "/v1/admin/orders/{id}/deliver",
    Transition::Deliver,
    "delivered"
);

#[utoipa::path(post, path = "/v1/admin/orders/{id}/cancel", tag = "admin", operation_id = "admin_cancel",
    params(("id" = crate::domain::OrderId, Path, description = "order id"),
        ("Idempotency-Key" = Option<String>, Header, description = "a retry with the same key is answered as the first call was")),
    responses((status = 200, body = OrderView, description = "cancelled; stock returned, payment given back"),
        (status = 404, body = Problem),
        (status = 409, body = Problem, description = "illegal-transition, or the key is in use"),
        (status = 422, body = Problem, description = "the key was used for another request")),
    security(("admin_token" = [])))]
pub async fn cancel(
    _admin: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = order_id(&id)?;
    let key = idempotency_key::optional(&req)?;
    change(&state, id, key, |orders, id, key| async move {
        orders.cancel(&id, Canceller::Admin, key.as_ref()).await
    })
    .await
}

#[utoipa::path(post, path = "/v1/admin/orders/{id}/refund", tag = "admin", request_body = Option<RefundBody>,
    params(("id" = crate::domain::OrderId, Path, description = "order id"),
        ("Idempotency-Key" = String, Header, description = "required; a refund retried with the same key pays back nothing more")),
    responses((status = 200, body = OrderView, description = "refunded (status `refunded` once fully)"),
        (status = 404, body = Problem),
        (status = 409, body = Problem, description = "illegal-transition, or the key is in use"),
        (status = 422, body = Problem, description = "refund-exceeds-paid, currency-mismatch, or the key was used for another request")),
    security(("admin_token" = [])))]
pub async fn refund(
    _admin: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let id = order_id(&id)?;
    let key = idempotency_key::required(&req, "refund")?;
    // The body is optional: none (or `null`) means a full refund.
    let body: RefundBody = if body.iter().all(u8::is_ascii_whitespace) {
        RefundBody::default()
    } else {
        crate::http::json::from_slice::<Option<RefundBody>>(&body)
            .map(Option::unwrap_or_default)
            .map_err(|e| {
                ApiError::bad_request(
                    "invalid-body",
                    format!("the body is not a valid refund: {e}"),
                )
            })?
    };
    change(&state, id, Some(key), |orders, id, key| async move {
        orders.refund(&id, body.amount, key.as_ref()).await
    })
    .await
}
