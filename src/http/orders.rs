//! Order reads. The unguessable order id is the capability to read it.

use super::problem::{ApiError, Problem};
use super::AppState;
use crate::clock::rfc3339;
use crate::domain::{Money, OrderId};
use crate::order::{self, Order, OrderStatus};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

/// An order. Single-line orders (flash-sale purchases) also carry their
/// line's `sku`, `quantity` and `unit_price` at the top level.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderView {
    pub order_id: String,
    pub status: OrderStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_price: Option<Money>,
    pub total: Money,
    /// When an unpaid order lapses (RFC 3339).
    pub expires_at: Option<String>,
    pub customer_id: Option<String>,
    pub created_at: String,
    pub lines: Vec<LineView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LineView {
    pub sku: String,
    pub product_id: String,
    pub quantity: u64,
    pub unit_price: Money,
    pub line_total: Money,
}

impl OrderView {
    pub fn new(order: &Order) -> Self {
        let single = match order.lines.as_slice() {
            [line] => Some(line),
            _ => None,
        };
        Self {
            order_id: order.id.to_string(),
            status: order.status,
            sku: single.map(|l| l.sku.to_string()),
            quantity: single.map(|l| l.quantity),
            unit_price: single.map(|l| l.unit_price),
            total: order.total,
            expires_at: order.expires_at.map(rfc3339),
            customer_id: order.customer_id.as_ref().map(ToString::to_string),
            created_at: rfc3339(order.created_at),
            lines: order
                .lines
                .iter()
                .map(|l| LineView {
                    sku: l.sku.to_string(),
                    product_id: l.product_id.to_string(),
                    quantity: l.quantity,
                    unit_price: l.unit_price,
                    line_total: l.line_total,
                })
                .collect(),
        }
    }
}

#[utoipa::path(get, path = "/v1/orders/{id}", tag = "orders",
    params(("id" = String, Path, description = "order id")),
    responses((status = 200, body = OrderView), (status = 404, body = Problem)))]
pub async fn get_order(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "order-not-found",
            format!("no order '{id}'"),
        )
    };
    let order_id = OrderId::parse(&id).map_err(|_| not_found())?;
    let order = order::get(&state.store, &order_id)?.ok_or_else(not_found)?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(OrderView::new(&order)))
}
