//! The flash-sale purchase (see `order::purchase`): parsed here, made by
//! `Orders::purchase`, rendered as the order.

use super::orders::OrderView;
use crate::domain::{CustomerId, FieldError, Quantity, Sku};
use crate::http::customer::{claimed_customer, Buyer};
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
    /// Required, unless customer tokens are on: then the token's `sub` is
    /// the buyer, and a `customer_id` other than it is refused (403).
    pub customer_id: Option<String>,
    /// Units to buy, at least 1.
    pub quantity: u64,
    /// The admission token the SKU's waiting room gave this customer
    /// (`admission.token` of its ticket). Required while the SKU's sale
    /// has its waiting room on; used once.
    #[schema(max_length = 128)] // ADMISSION_LEN_MAX
    pub admission: Option<String>,
}

/// Longest admission accepted: a token is about 115 characters (ticket,
/// expiry, HMAC); anything longer cannot be one, whether or not the SKU
/// has a waiting room.
const ADMISSION_LEN_MAX: usize = 128;

#[utoipa::path(post, path = "/v1/skus/{sku}/purchase", tag = "flash sale", request_body = PurchaseBody,
    params(("sku" = crate::domain::Sku, Path, description = "SKU"),
        ("Idempotency-Key" = String, Header, description = "required; a retry with the same key gets the same order")),
    responses(
        (status = 201, body = OrderView, description = "order created, stock held until expires_at"),
        (status = 400, body = Problem),
        (status = 403, body = Problem,
            description = "admission-required: the SKU's waiting room is on and `admission` is missing, not valid for this customer and SKU, expired or used (`reason` says which)"),
        (status = 404, body = Problem),
        (status = 409, body = Problem, description = "sold-out, sale-not-started, sale-ended"),
        (status = 410, body = Problem, description = "the SKU is no longer sold"),
        (status = 422, body = Problem, description = "limit-exceeded"),
        (status = 503, body = Problem, description = "overloaded; retry after Retry-After")))]
pub async fn purchase(
    req: HttpRequest,
    state: web::Data<AppState>,
    buyer: Buyer,
    sku: web::Path<String>,
    body: Json<PurchaseBody>,
) -> Result<HttpResponse, ApiError> {
    let sku = Sku::parse(&sku).map_err(|e| ApiError::bad_request("invalid-path", e.0))?;
    let key = idempotency_key::required(&req, "purchase")?;
    let quantity_max = state.inventory_settings.purchase_quantity_max;
    let (customer, quantity) = parse_body(&body, quantity_max, &buyer)?;
    let admission = body.into_inner().admission;
    if admission
        .as_ref()
        .is_some_and(|a| a.len() > ADMISSION_LEN_MAX)
    {
        return Err(ApiError::invalid(vec![FieldError::new(
            "admission",
            format!("an admission token is at most {ADMISSION_LEN_MAX} characters"),
        )]));
    }
    let purchase = Purchase {
        key,
        customer,
        quantity,
        admission,
    };
    let purchased = state.orders.purchase(&sku, purchase).await?;
    Ok(created(purchased))
}

/// The buyer (the body's with tokens off, the token's with them on) and
/// the quantity; every invalid field is reported at once, a body naming
/// another customer than the token's is 403.
fn parse_body(
    body: &PurchaseBody,
    quantity_max: u64,
    buyer: &Buyer,
) -> Result<(CustomerId, Quantity), ApiError> {
    let mut errors = Vec::new();
    let claimed = claimed_customer(body.customer_id.as_deref(), &mut errors);
    let quantity = Quantity::parse(body.quantity, quantity_max)
        .map_err(|e| errors.push(FieldError::new("quantity", e.0)))
        .ok();
    // `None`: invalid, already reported.
    let customer = match claimed {
        Some(claimed) => buyer.customer(claimed)?,
        None => None,
    };
    if customer.is_none() && body.customer_id.is_none() {
        errors.push(FieldError::new("customer_id", "customer_id is required"));
    }
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
        res.insert_header(idempotency_key::REPLAYED);
        view.status = OrderStatus::AwaitingPayment;
    }
    res.json(view)
}
