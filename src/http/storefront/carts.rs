//! Carts and checkout. A cart id is the capability to use the cart, so ids
//! are 128-bit random; with customer tokens on, a cart also belongs to the
//! customer of the token that created it, and another customer's token
//! finds no such cart (404). Every unsafe call accepts an Idempotency-Key;
//! checkout requires one.

use super::orders::{action_required, order_or_pending, OrderView, PaymentActionView};
use crate::cart::{Cart, CartError, CheckoutDetails, LineChange};
use crate::clock::{rfc3339, Millis};
use crate::domain::{
    CartId, Currency, CustomerId, Email, FieldError, Money, Quantity, ShippingAddress, Sku,
};
use crate::http::customer::{claimed_customer, Buyer, Owned};
use crate::http::json::{self, Json};
use crate::http::problem::{ApiError, Problem};
use crate::http::{idempotency_key, AppState};
use crate::idempotency::IdempotencyKey;
use crate::payment::PaymentError;
use crate::payment::PaymentToken;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct CartView {
    pub id: String,
    pub currency: String,
    pub customer_id: Option<String>,
    pub lines: Vec<CartLineView>,
    /// Total of the lines that hold stock.
    pub subtotal: Money,
    /// `open`, `checking_out` or `checked_out`.
    pub status: &'static str,
    /// The order the cart became, once checked out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CartLineView {
    pub sku: String,
    pub title: String,
    pub quantity: u64,
    pub unit_price: Money,
    pub line_total: Option<Money>,
    /// `held` while the line's stock is reserved, else `unavailable`.
    pub status: &'static str,
    /// Why the line holds no stock (e.g. `reservation-expired`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable_reason: Option<String>,
    /// When the line's reservation lapses (RFC 3339).
    pub hold_expires_at: String,
}

impl CartView {
    pub fn new(cart: &Cart, now: Millis) -> Self {
        use crate::cart::CartState;
        let (status, order_id) = match &cart.state {
            CartState::Open => ("open", None),
            CartState::CheckingOut(id) => ("checking_out", Some(id.to_string())),
            CartState::CheckedOut(id) => ("checked_out", Some(id.to_string())),
        };
        Self {
            id: cart.id.to_string(),
            currency: cart.currency.to_string(),
            customer_id: cart.customer_id.as_ref().map(ToString::to_string),
            lines: cart
                .lines
                .iter()
                .map(|l| {
                    let reason = l.unavailable_reason(now);
                    CartLineView {
                        sku: l.sku.to_string(),
                        title: l.title.clone(),
                        quantity: l.quantity,
                        unit_price: l.unit_price,
                        line_total: l.line_total(),
                        status: if reason.is_some() {
                            "unavailable"
                        } else {
                            "held"
                        },
                        unavailable_reason: reason.map(str::to_owned),
                        hold_expires_at: rfc3339(l.hold_expires_at),
                    }
                })
                .collect(),
            subtotal: cart.subtotal(now),
            status,
            order_id,
            created_at: rfc3339(cart.created_at),
            updated_at: rfc3339(cart.updated_at),
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCartBody {
    /// ISO 4217; the configured default when omitted.
    pub currency: Option<String>,
    /// With customer tokens on, the token's `sub` whether given or not (a
    /// different one is refused with 403).
    pub customer_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddLineBody {
    pub sku: String,
    pub quantity: u64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetQuantityBody {
    /// The line's new quantity; 0 removes the line.
    pub quantity: u64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutBody {
    pub email: String,
    /// Any JSON object (at most 2 KiB); absent or null for none.
    #[schema(value_type = Option<Object>)]
    pub shipping_address: Option<serde_json::Value>,
    /// A token from the payment provider; never card data.
    pub payment_token: String,
}

#[utoipa::path(post, path = "/v1/carts", tag = "carts", request_body = Option<NewCartBody>,
    params(("Idempotency-Key" = Option<String>, Header, description = "a retry with the same key gets the same cart")),
    responses((status = 201, body = CartView), (status = 422, body = Problem)))]
pub async fn create_cart(
    req: HttpRequest,
    state: web::Data<AppState>,
    buyer: Buyer,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (currency, customer) = parse_new_cart(&body, &buyer)?;
    let key = idempotency_key::optional(&req)?;
    let (cart, replayed) = state.carts.create(currency, customer, key).await?;
    Ok(answer(HttpResponse::Created(), &cart, replayed, &state))
}

/// A new cart's currency (`None`: the cart's default) and customer (the
/// buyer's, see [`Buyer::customer`]). The body is optional: an empty one,
/// or `null`, means "all defaults". Every invalid field is reported at once.
fn parse_new_cart(
    body: &[u8],
    buyer: &Buyer,
) -> Result<(Option<Currency>, Option<CustomerId>), ApiError> {
    let body: NewCartBody = if body.iter().all(u8::is_ascii_whitespace) {
        NewCartBody::default()
    } else {
        json::from_slice::<Option<NewCartBody>>(body)
            .map(Option::unwrap_or_default)
            .map_err(|e| {
                let code = if e.is_data() {
                    "invalid-body"
                } else {
                    "malformed-json"
                };
                ApiError::bad_request(code, format!("the body is not a valid cart request: {e}"))
            })?
    };
    let mut errors = Vec::new();
    let currency = match &body.currency {
        None => Some(None),
        Some(raw) => Currency::parse(raw)
            .map(Some)
            .map_err(|e| errors.push(FieldError::new("currency", e.0)))
            .ok(),
    };
    let customer = claimed_customer(body.customer_id.as_deref(), &mut errors);
    match (currency, customer) {
        (Some(currency), Some(customer)) => Ok((currency, buyer.customer(customer)?)),
        _ => Err(ApiError::invalid(errors)),
    }
}

#[utoipa::path(get, path = "/v1/carts/{id}", tag = "carts",
    params(("id" = crate::domain::CartId, Path, description = "cart id")),
    responses((status = 200, body = CartView), (status = 404, body = Problem),
        (status = 503, body = Problem, description = "the cart is busy; retry after Retry-After")))]
pub async fn get_cart(
    state: web::Data<AppState>,
    buyer: Buyer,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = cart_id(&id)?;
    let cart = buyer.own(state.carts.get(&id)?)?;
    Ok(answer(HttpResponse::Ok(), &cart, false, &state))
}

#[utoipa::path(post, path = "/v1/carts/{id}/lines", tag = "carts", request_body = AddLineBody,
    params(("id" = crate::domain::CartId, Path, description = "cart id"),
        ("Idempotency-Key" = Option<String>, Header, description = "a retry with the same key adds nothing")),
    responses((status = 200, body = CartView),
        (status = 403, body = Problem, description = "admission-required: the SKU is sold through its waiting room only"),
        (status = 409, body = Problem, description = "sold-out (with `available`), checked out"),
        (status = 410, body = Problem, description = "sku-retired: the SKU is no longer sold"),
        (status = 422, body = Problem, description = "limits, currency mismatch")))]
pub async fn add_line(
    req: HttpRequest,
    state: web::Data<AppState>,
    buyer: Buyer,
    id: web::Path<String>,
    body: Json<AddLineBody>,
) -> Result<HttpResponse, ApiError> {
    let id = buyers_cart(&state, &buyer, &id)?;
    let sku =
        Sku::parse(&body.sku).map_err(|e| ApiError::invalid(vec![FieldError::new("sku", e.0)]))?;
    // The cart checks its line limit against the line's total.
    let quantity = Quantity::try_from(body.quantity)
        .map_err(|e| ApiError::invalid(vec![FieldError::new("quantity", e.0)]))?;
    let key = idempotency_key::optional(&req)?;
    state.queues.refuse_cart_hold(&sku)?;
    change_answer(&state, &id, LineChange::Add { sku, quantity }, key).await
}

#[utoipa::path(patch, path = "/v1/carts/{id}/lines/{sku}", tag = "carts", request_body = SetQuantityBody,
    params(("id" = crate::domain::CartId, Path, description = "cart id"), ("sku" = crate::domain::Sku, Path, description = "SKU"),
        ("Idempotency-Key" = Option<String>, Header, description = "optional")),
    responses((status = 200, body = CartView),
        (status = 403, body = Problem, description = "admission-required: the SKU is sold through its waiting room only"),
        (status = 404, body = Problem),
        (status = 409, body = Problem, description = "sold-out (with `available`), checked out"),
        (status = 410, body = Problem, description = "sku-retired: the SKU is no longer sold"),
        (status = 422, body = Problem, description = "quantity-too-large, currency-mismatch")))]
pub async fn set_quantity(
    req: HttpRequest,
    state: web::Data<AppState>,
    buyer: Buyer,
    path: web::Path<(String, String)>,
    body: Json<SetQuantityBody>,
) -> Result<HttpResponse, ApiError> {
    let (id, sku) = path.into_inner();
    let id = buyers_cart(&state, &buyer, &id)?;
    let sku = Sku::parse(&sku).map_err(|e| ApiError::bad_request("invalid-path", e.0))?;
    // Any quantity: 0 removes the line, and the cart checks its limit.
    let quantity = body.quantity;
    let key = idempotency_key::optional(&req)?;
    if quantity > 0 {
        state.queues.refuse_cart_hold(&sku)?;
    }
    change_answer(&state, &id, LineChange::Set { sku, quantity }, key).await
}

#[utoipa::path(delete, path = "/v1/carts/{id}/lines/{sku}", tag = "carts",
    params(("id" = crate::domain::CartId, Path, description = "cart id"), ("sku" = crate::domain::Sku, Path, description = "SKU"),
        ("Idempotency-Key" = Option<String>, Header, description = "optional")),
    responses((status = 200, body = CartView), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "the cart is checked out or checking out")))]
pub async fn remove_line(
    req: HttpRequest,
    state: web::Data<AppState>,
    buyer: Buyer,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, sku) = path.into_inner();
    let id = buyers_cart(&state, &buyer, &id)?;
    let sku = Sku::parse(&sku).map_err(|e| ApiError::bad_request("invalid-path", e.0))?;
    let key = idempotency_key::optional(&req)?;
    change_answer(&state, &id, LineChange::Remove { sku }, key).await
}

#[utoipa::path(post, path = "/v1/carts/{id}/checkout", tag = "carts", request_body = CheckoutBody,
    params(("id" = crate::domain::CartId, Path, description = "cart id"),
        ("Idempotency-Key" = String, Header, description = "required; a retry gets the same order")),
    responses((status = 201, body = OrderView, description = "the order, paid"),
        (status = 202, body = PaymentActionView, description = "the payment needs the customer's action (Stripe, 3-D Secure): the order awaits payment and the cart stays checking out, its stock held; hand `next_action` to Stripe.js, then retry this checkout (same key) or pay the order, or let Stripe's webhook complete it"),
        (status = 402, body = Problem, description = "payment-declined, with the provider's `decline_code` when it gives one; the cart stays open, stock held"),
        (status = 409, body = Problem, description = "cart-checked-out, lines-unavailable, sold-out"),
        (status = 422, body = Problem),
        (status = 503, body = Problem, description = "payment gateway unavailable; stock held, retry after Retry-After")))]
pub async fn checkout(
    req: HttpRequest,
    state: web::Data<AppState>,
    buyer: Buyer,
    id: web::Path<String>,
    body: Json<CheckoutBody>,
) -> Result<HttpResponse, ApiError> {
    let id = buyers_cart(&state, &buyer, &id)?;
    let key = idempotency_key::required(&req, "checkout")?;
    let details = parse_checkout(&body)?;
    let (order, replayed) = match state.carts.checkout(&id, details, &key).await {
        Ok(done) => done,
        Err(CartError::Payment(PaymentError::ActionRequired(pending))) => {
            let order_id = state.carts.checkout_order_id(&id, &key);
            let order = order_or_pending(&state, &order_id)?;
            return Ok(action_required(&order, &pending));
        }
        Err(e) => return Err(e.into()),
    };
    let mut answer = HttpResponse::Created();
    answer.insert_header((header::LOCATION, format!("/v1/orders/{}", order.id)));
    if replayed {
        answer.insert_header(idempotency_key::REPLAYED);
    }
    Ok(answer.json(OrderView::new(&order)))
}

fn cart_id(raw: &str) -> Result<CartId, ApiError> {
    CartId::parse(raw).map_err(|_| CartError::NotFound(raw.to_owned()).into())
}

/// The id of a cart the buyer may change (with customer tokens on, that
/// costs a read of the cart).
fn buyers_cart(state: &AppState, buyer: &Buyer, raw: &str) -> Result<CartId, ApiError> {
    let id = cart_id(raw)?;
    buyer.check_owns(|| Ok(state.carts.get(&id)?))?;
    Ok(id)
}

impl Owned for Cart {
    fn owner(&self) -> Option<&CustomerId> {
        self.customer_id.as_ref()
    }

    fn not_found(&self) -> ApiError {
        CartError::NotFound(self.id.to_string()).into()
    }
}

/// A checkout's email, shipping address (absent or null for none) and
/// payment token; every invalid field is reported at once.
fn parse_checkout(body: &CheckoutBody) -> Result<CheckoutDetails, ApiError> {
    let mut errors = Vec::new();
    let email = Email::parse(&body.email)
        .map_err(|e| errors.push(FieldError::new("email", e.0)))
        .ok();
    let token = PaymentToken::parse(&body.payment_token)
        .map_err(|e| errors.push(FieldError::new("payment_token", e.0)))
        .ok();
    let address = match &body.shipping_address {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(value) => ShippingAddress::parse(value).map(Some),
    };
    let address = address
        .map_err(|e| errors.push(FieldError::new("shipping_address", e.0)))
        .ok();
    match (email, address, token) {
        (Some(email), Some(shipping_address), Some(payment_token)) => Ok(CheckoutDetails {
            email,
            shipping_address,
            payment_token,
        }),
        _ => Err(ApiError::invalid(errors)),
    }
}

async fn change_answer(
    state: &AppState,
    id: &CartId,
    change: LineChange,
    key: Option<IdempotencyKey>,
) -> Result<HttpResponse, ApiError> {
    let (cart, replayed) = state.carts.change(id, change, key).await?;
    Ok(answer(HttpResponse::Ok(), &cart, replayed, state))
}

fn answer(
    mut builder: actix_web::HttpResponseBuilder,
    cart: &Cart,
    replayed: bool,
    state: &AppState,
) -> HttpResponse {
    if replayed {
        builder.insert_header(idempotency_key::REPLAYED);
    }
    builder
        .insert_header(("Cache-Control", "no-store"))
        .json(CartView::new(cart, state.orders.now()))
}
