//! The flash-sale purchase: one request, one actor step, one commit. The
//! cheapest answers come first: a replayed Idempotency-Key is answered from
//! the store, a sold-out SKU from its published count, and only a purchase
//! that may succeed reaches the SKU actor.

use super::orders::OrderView;
use crate::catalog::{CatalogError, SkuStatus};
use crate::domain::{CustomerId, FieldError, Quantity, Sku};
use crate::http::problem::{ApiError, Problem};
use crate::http::{idempotency_key, AppState};
use crate::idempotency::request_digest;
use crate::inventory::{PurchaseRequest, SkuError};
use crate::order::{self, Order, OrderStatus};
use crate::store::StoreError;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

/// The Idempotency-Key scope of purchases.
const SCOPE: &str = "purchase";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurchaseBody {
    /// The merchant's id of the buyer; per-customer limits count by it.
    pub customer_id: String,
    /// Units to buy, at least 1.
    pub quantity: u64,
}

#[utoipa::path(post, path = "/v1/skus/{sku}/purchase", tag = "flash sale", request_body = PurchaseBody,
    params(("sku" = String, Path, description = "SKU"),
        ("Idempotency-Key" = String, Header, description = "required; a retry with the same key gets the same order")),
    responses(
        (status = 201, body = OrderView, description = "order created, stock held until expires_at"),
        (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "sold-out, sale-not-started, sale-ended, or the key is in use"),
        (status = 410, body = Problem, description = "the SKU is no longer sold"),
        (status = 422, body = Problem, description = "limit-exceeded, or the key was used for another request"),
        (status = 503, body = Problem, description = "overloaded; retry after Retry-After")))]
pub async fn purchase(
    req: HttpRequest,
    state: web::Data<AppState>,
    sku: web::Path<String>,
    body: web::Json<PurchaseBody>,
) -> Result<HttpResponse, ApiError> {
    let sku = Sku::parse(&sku).map_err(|e| ApiError::bad_request("invalid-path", e.0))?;
    if state.store.failed() {
        // A replay could read a write that was never flushed: answer nothing.
        return Err(StoreError::Failed.into());
    }
    let key = idempotency_key::required(&req, "purchase")?;
    let (customer, quantity) = parse_body(&body, state.inventory_settings.purchase_quantity_max)?;
    let snapshot = state.catalog.snapshot();
    let (product, variant) = match snapshot.sku(&sku) {
        Some(SkuStatus::Listed(p, v)) => (p, v),
        Some(SkuStatus::Retired) => return Err(CatalogError::SkuRetired(sku).into()),
        None => return Err(CatalogError::SkuNotFound(sku.to_string()).into()),
    };
    let order_id = state.idempotency.order_id(SCOPE, &key);
    let digest = request_digest(&[
        sku.as_str().as_bytes(),
        customer.as_str().as_bytes(),
        &quantity.get().to_be_bytes(),
    ]);
    let Some(_claim) = state.idempotency.claim(order_id.as_str()) else {
        return Err(idempotency_key::in_use());
    };
    if state.idempotency.may_exist(&order_id) {
        if let Some(existing) = order::get(&state.store, &order_id)? {
            return replay(&existing, &digest);
        }
    }
    if state.inventory.availability().get(&sku) == Some(0) {
        metrics::counter!("surge_purchase_sold_out_fast_total").increment(1);
        return Err(SkuError::InsufficientStock {
            available: 0,
            requested: quantity.get(),
        }
        .into());
    }
    let request = PurchaseRequest {
        order_id,
        customer,
        quantity: quantity.get(),
        product_id: product.id.clone(),
        unit_price: variant.price,
        request_digest: digest,
    };
    state.idempotency.remember(&request.order_id);
    let order = state.inventory.purchase(&sku, request).await?;
    Ok(created(&order))
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

/// The answer to a retried key: the original 201 for the same request, 422
/// for a different one.
fn replay(order: &Order, digest: &[u8; 32]) -> Result<HttpResponse, ApiError> {
    if order.request_digest != *digest {
        return Err(idempotency_key::reused());
    }
    let mut original = OrderView::new(order);
    original.status = OrderStatus::AwaitingPayment;
    Ok(HttpResponse::Created()
        .insert_header(("Idempotent-Replayed", "true"))
        .insert_header((header::LOCATION, format!("/v1/orders/{}", order.id)))
        .json(original))
}

fn created(order: &Order) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/orders/{}", order.id)))
        .json(OrderView::new(order))
}
