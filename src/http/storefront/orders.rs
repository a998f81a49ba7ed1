//! Orders as their customer sees them: read, pay, cancel. The unguessable
//! order id is the capability to use the order; with customer tokens on,
//! only its own customer's token can use it (another customer's finds no
//! such order: 404).

use crate::clock::rfc3339;
use crate::domain::{CustomerId, FieldError, Money, OrderId};
use crate::http::customer::{Buyer, Owned};
use crate::http::json::Json;
use crate::http::problem::{ApiError, Problem};
use crate::http::{idempotency_key, AppState};
use crate::idempotency::{Answered, IdempotencyKey};
use crate::order::{Canceller, Order, OrderError, OrderStatus, Orders};
use crate::payment::PaymentToken;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use std::future::Future;
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
    pub updated_at: String,
    pub lines: Vec<LineView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub shipping_address: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cart_id: Option<String>,
}

/// How an order was paid (references only: no card data exists here).
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentView {
    pub gateway: String,
    pub authorization_id: String,
    pub amount: Money,
    pub captured: bool,
    /// Paid back so far, in the order's currency.
    pub refunded: Money,
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
            status: order.status(),
            sku: single.map(|l| l.sku.to_string()),
            quantity: single.map(|l| l.quantity),
            unit_price: single.map(|l| l.unit_price),
            total: order.total,
            expires_at: order.expires_at.map(rfc3339),
            customer_id: order.customer_id.as_ref().map(ToString::to_string),
            created_at: rfc3339(order.created_at),
            updated_at: rfc3339(order.updated_at),
            email: order.email.as_ref().map(ToString::to_string),
            // Stored as JSON text; shown as the object it is.
            shipping_address: order
                .shipping_address
                .as_ref()
                .and_then(|address| serde_json::from_str(address.as_str()).ok()),
            payment: order.payment.as_ref().map(|p| PaymentView {
                gateway: p.gateway.clone(),
                authorization_id: p.authorization_id.clone(),
                amount: p.amount,
                captured: p.captured,
                refunded: Money {
                    amount: p.refunded,
                    currency: p.amount.currency,
                },
            }),
            cart_id: order.cart_id.as_ref().map(ToString::to_string),
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
    params(("id" = crate::domain::OrderId, Path, description = "order id")),
    responses((status = 200, body = OrderView), (status = 404, body = Problem),
        (status = 503, body = Problem, description = "the store could not be read; retry after Retry-After")))]
pub async fn get_order(
    state: web::Data<AppState>,
    buyer: Buyer,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = order_id(&id)?;
    let order = buyer.own(state.orders.get(&id)?)?;
    Ok(ok(&order))
}

/// The order, uncached (it changes).
pub fn ok(order: &Order) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(OrderView::new(order))
}

/// An order id from the path; an id that cannot exist is simply not found.
pub fn order_id(raw: &str) -> Result<OrderId, ApiError> {
    OrderId::parse(raw).map_err(|_| OrderError::NotFound(raw.to_owned()).into())
}

/// The id of an order the buyer may change (with customer tokens on, that
/// costs a read of the order).
fn buyers_order(state: &AppState, buyer: &Buyer, raw: &str) -> Result<OrderId, ApiError> {
    let id = order_id(raw)?;
    buyer.check_owns(|| Ok(state.orders.get(&id)?))?;
    Ok(id)
}

impl Owned for Order {
    fn owner(&self) -> Option<&CustomerId> {
        self.customer_id.as_ref()
    }

    fn not_found(&self) -> ApiError {
        OrderError::NotFound(self.id.to_string()).into()
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayBody {
    /// A token from the payment provider (e.g. `tok_ok` with the simulated
    /// gateway); never card data.
    pub payment_token: String,
}

#[utoipa::path(post, path = "/v1/orders/{id}/pay", tag = "orders", request_body = PayBody,
    params(("id" = crate::domain::OrderId, Path, description = "order id"),
        ("Idempotency-Key" = String, Header, description = "required; a retry with the same key is answered as the first call was and pays nothing more")),
    responses((status = 200, body = OrderView, description = "paid (also when it already was)"),
        (status = 402, body = Problem, description = "payment-declined"),
        (status = 409, body = Problem, description = "order-expired, illegal-transition, or the key is in use"),
        (status = 422, body = Problem, description = "the key was used for another request"),
        (status = 503, body = Problem, description = "payment gateway unavailable; retry after Retry-After")))]
pub async fn pay(
    req: HttpRequest,
    state: web::Data<AppState>,
    buyer: Buyer,
    id: web::Path<String>,
    body: Json<PayBody>,
) -> Result<HttpResponse, ApiError> {
    let id = buyers_order(&state, &buyer, &id)?;
    let key = idempotency_key::required(&req, "payment")?;
    let token = PaymentToken::parse(&body.payment_token)
        .map_err(|e| ApiError::invalid(vec![FieldError::new("payment_token", e.0)]))?;
    change(&state, id, Some(key), |orders, id, key| async move {
        orders.pay(&id, &token, key.as_ref()).await
    })
    .await
}

#[utoipa::path(post, path = "/v1/orders/{id}/cancel", tag = "orders",
    params(("id" = crate::domain::OrderId, Path, description = "order id"),
        ("Idempotency-Key" = Option<String>, Header, description = "a retry with the same key is answered as the first call was")),
    responses((status = 200, body = OrderView, description = "cancelled; stock returned, payment given back"),
        (status = 409, body = Problem, description = "not-cancellable, illegal-transition, or the key is in use"),
        (status = 422, body = Problem, description = "the key was used for another request")))]
pub async fn cancel(
    req: HttpRequest,
    state: web::Data<AppState>,
    buyer: Buyer,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = buyers_order(&state, &buyer, &id)?;
    let key = idempotency_key::optional(&req)?;
    change(&state, id, key, |orders, id, key| async move {
        orders.cancel(&id, Canceller::Customer, key.as_ref()).await
    })
    .await
}

/// Runs a change of an order to completion (even if the client goes away
/// midway: a payment must not stop between its steps) and answers with the
/// order, marked when the answer is a replay.
pub async fn change<F, Fut>(
    state: &AppState,
    id: OrderId,
    key: Option<IdempotencyKey>,
    change: F,
) -> Result<HttpResponse, ApiError>
where
    F: FnOnce(Orders, OrderId, Option<IdempotencyKey>) -> Fut,
    Fut: Future<Output = Result<Answered<Order>, OrderError>> + 'static,
{
    let answered = actix_web::rt::spawn(change(state.orders.clone(), id, key))
        .await
        .map_err(|_| ApiError::internal())??;
    let mut res = ok(&answered.value);
    if answered.replayed {
        idempotency_key::mark_replayed(&mut res);
    }
    Ok(res)
}
