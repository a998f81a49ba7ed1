//! Orders as their customer sees them: read, pay, cancel. The unguessable
//! order id is the capability to use the order; with customer tokens on,
//! only its own customer's token can use it (another customer's finds no
//! such order: 404).

use crate::cart::CartError;
use crate::checkout::CheckoutRecord;
use crate::clock::rfc3339;
use crate::domain::{CustomerId, FieldError, Money, OrderId};
use crate::http::customer::{Buyer, Owned};
use crate::http::json::Json;
use crate::http::problem::{ApiError, Problem};
use crate::http::{idempotency_key, AppState};
use crate::idempotency::{Answered, IdempotencyKey};
use crate::order::{Canceller, Order, OrderError, OrderStatus, Orders};
use crate::payment::{PaymentError, PaymentToken, PendingAction};
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
    let order = buyer.own(order_or_pending(&state, &id)?)?;
    Ok(ok(&order))
}

/// The order `id`, or the order of a checkout whose payment waits for the
/// customer's action (shown awaiting payment: it is stored once paid).
pub fn order_or_pending(state: &AppState, id: &OrderId) -> Result<Order, ApiError> {
    match state.orders.get(id) {
        Err(OrderError::NotFound(missing)) => match state.carts.pending_checkout(id)? {
            Some(record) => Ok(record.order.awaiting_action()),
            None => Err(OrderError::NotFound(missing).into()),
        },
        other => Ok(other?),
    }
}

/// An order whose payment waits for the customer's action (3-D Secure):
/// the storefront hands `next_action` (with `client_secret`) to the
/// provider's SDK (Stripe.js `handleNextAction`), then reads the order or
/// calls `pay` again; the provider's webhook completes it meanwhile.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentActionView {
    #[serde(flatten)]
    pub order: OrderView,
    /// The provider's `next_action` object (Stripe's PaymentIntent
    /// `next_action`, e.g. `{"type": "use_stripe_sdk", …}`).
    #[schema(value_type = Object)]
    pub next_action: serde_json::Value,
    /// The PaymentIntent's `client_secret`, for Stripe.js.
    pub client_secret: Option<String>,
}

/// 202: the order waits for the customer's payment action.
pub fn action_required(order: &Order, pending: &PendingAction) -> HttpResponse {
    let next_action = serde_json::from_str(&pending.next_action).unwrap_or(serde_json::Value::Null);
    HttpResponse::Accepted()
        .insert_header(("Cache-Control", "no-store"))
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("/v1/orders/{}", order.id),
        ))
        .json(PaymentActionView {
            order: OrderView::new(order),
            next_action,
            client_secret: pending.client_secret.clone(),
        })
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
    buyer.check_owns(|| order_or_pending(state, &id))?;
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
    /// gateway, a PaymentMethod id `pm_…` with Stripe); never card data.
    pub payment_token: String,
}

#[utoipa::path(post, path = "/v1/orders/{id}/pay", tag = "orders", request_body = PayBody,
    params(("id" = crate::domain::OrderId, Path, description = "order id"),
        ("Idempotency-Key" = String, Header, description = "required; a retry with the same key is answered as the first call was and pays nothing more")),
    responses((status = 200, body = OrderView, description = "paid (also when it already was)"),
        (status = 202, body = PaymentActionView, description = "the payment needs the customer's action (Stripe, 3-D Secure): the order awaits payment; hand `next_action` to Stripe.js, then call pay again or let Stripe's webhook complete it"),
        (status = 402, body = Problem, description = "payment-declined, with the provider's `decline_code` when it gives one"),
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
    if let Some(record) = state.carts.pending_checkout(&id)? {
        return resume_checkout(&state, record).await;
    }
    let orders = state.orders.clone();
    let paying = id.clone();
    let paid = actix_web::rt::spawn(async move { orders.pay(&paying, &token, Some(&key)).await })
        .await
        .map_err(|_| ApiError::internal())?;
    match paid {
        Ok(answered) => Ok(answered_order(&answered)),
        Err(OrderError::Payment(PaymentError::ActionRequired(pending))) => {
            Ok(action_required(&state.orders.get(&id)?, &pending))
        }
        Err(e) => Err(e.into()),
    }
}

/// `pay` of a checkout's order whose payment waited for the customer: the
/// checkout goes on as the provider now sees the payment (the token is not
/// used: the payment method is the checkout's).
async fn resume_checkout(
    state: &AppState,
    record: CheckoutRecord,
) -> Result<HttpResponse, ApiError> {
    let carts = state.carts.clone();
    let (cart, id) = (record.cart_id.clone(), record.order.id.clone());
    let resumed = actix_web::rt::spawn(async move { carts.resume_checkout(&cart, &id).await })
        .await
        .map_err(|_| ApiError::internal())?;
    match resumed {
        Ok(order) => Ok(ok(&order)),
        Err(CartError::Payment(PaymentError::ActionRequired(pending))) => {
            Ok(action_required(&record.order.awaiting_action(), &pending))
        }
        Err(e) => Err(e.into()),
    }
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
    Ok(answered_order(&answered))
}

/// The order, marked when the answer is a replay.
fn answered_order(answered: &Answered<Order>) -> HttpResponse {
    let mut res = ok(&answered.value);
    if answered.replayed {
        idempotency_key::mark_replayed(&mut res);
    }
    res
}
