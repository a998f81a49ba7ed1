//! The flash-sale purchase (see `order::purchase`): parsed here, made by
//! `Orders::purchase`, rendered as the order.

use super::orders::OrderView;
use crate::domain::{CustomerId, FieldError, Quantity, Sku};
use crate::http::json::Json;
use crate::http::problem::{ApiError, Problem};
use crate::http::{idempotency_key, AppState};
use crate::order::{OrderStatus, Purchase, Purchased};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurchaseBody {
    /// The merchant's id of the buyer; per-customer limits count by it.
    pub customer_id: String,
    /// Units to buy, at least 1.
    pub quantity: u64,
}

#[utoipa::path(post, path = "/v1/skus/{sku}/purchase", tag = "flash sale", request_body = PurchaseBody,
    params(("sku" = crate::domain::Sku, Path, description = "SKU"),
        ("Idempotency-Key" = String, Header, description = "required; a retry with the same key gets the same order")),
    responses(
        (status = 201, body = OrderView, description = "order created, stock held until expires_at"),
        (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "sold-out, sale-not-started, sale-ended"),
        (status = 410, body = Problem, description = "the SKU is no longer sold"),
        (status = 422, body = Problem, description = "limit-exceeded"),
        (status = 503, body = Problem, description = "overloaded; retry after Retry-After")))]
pub async fn purchase(
    req: HttpRequest,
    state: web::Data<AppState>,
    sku: web::Path<String>,
    body: Json<PurchaseBody>,
) -> Result<HttpResponse, ApiError> {
    let sku = Sku::parse(&sku).map_err(|e| ApiError::bad_request("invalid-path", e.0))?;
    let key = idempotency_key::required(&req, "purchase")?;
    let (customer, quantity) = parse_body(&body, state.inventory_settings.purchase_quantity_max)?;
    let purchase = Purchase {
        key,
        customer,
        quantity,
    };
    let purchased = state.orders.purchase(&sku, purchase).await?;
    Ok(created(purchased))
}

fn parse_body(body: &PurchaseBody, quantity_max: u64) -> Result<(CustomerId, Quantity), ApiError> {
    let mut errors = Vec::new();
    let customer = CustomerId::parse(&body.customer_id)
        .map_err(|e| errors.push(FieldError::new("customer_id", e.0)))
        .ok();
    let quantity = Quantity::parse(body.quantity, quantity_max)
        .map_err(|e| errors.push(FieldError::new("quantity", e.0)))
        .ok();
    match (customer, quantity) {
        (Some(customer), Some(quantity)) => Ok((customer, quantity)),
        _ => Err(ApiError::invalid(errors)),
    }
}

/// 201 with the order; a retried key gets the original answer (the order
/// as it was created, awaiting payment) marked as replayed.
fn created(purchased: Purchased) -> HttpResponse {
    let order = &purchased.order;
    let mut res = HttpResponse::Created();
    res.insert_header((header::LOCATION, format!("/v1/orders/{}", order.id)));
    let mut view = OrderView::new(order);
    if purchased.replayed {
        res.insert_header(("Idempotent-Replayed", "true"));
        view.status = OrderStatus::AwaitingPayment;
    }
    res.json(view)
}
