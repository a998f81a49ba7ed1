//! Cart, order and payment failures as HTTP problems.

use super::api_error::ApiError;
use crate::cart::CartError;
use crate::order::OrderError;
use crate::payment::PaymentError;
use actix_web::http::StatusCode;

impl From<CartError> for ApiError {
    fn from(e: CartError) -> Self {
        let detail = e.to_string();
        let conflict = |code| ApiError::new(StatusCode::CONFLICT, code, detail.clone());
        let invalid = |code| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail.clone());
        match e {
            CartError::NotFound(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "cart-not-found", detail)
            }
            CartError::Busy | CartError::Passivated => ApiError::unavailable("busy", detail, 1),
            CartError::CheckedOut(order) => conflict("cart-checked-out").with("order_id", order),
            CartError::CheckoutInProgress => conflict("checkout-in-progress"),
            CartError::TooManyLines { max } => invalid("too-many-lines").with("max", max),
            CartError::QuantityTooLarge { max } => invalid("quantity-too-large").with("max", max),
            CartError::CurrencyMismatch { ref cart, .. } => {
                invalid("currency-mismatch").with("currency", cart.clone())
            }
            CartError::LineNotFound(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "line-not-found", detail)
            }
            CartError::Empty => invalid("cart-empty"),
            CartError::LinesUnavailable(ref skus) => {
                let skus: Vec<String> = skus.iter().map(ToString::to_string).collect();
                conflict("lines-unavailable").with("skus", skus)
            }
            CartError::KeyReused => invalid("idempotency-key-reused"),
            CartError::Catalog(e) => e.into(),
            CartError::Inventory(e) => e.into(),
            CartError::Order(e) => e.into(),
            CartError::Payment(e) => e.into(),
            CartError::Store(e) => e.into(),
        }
    }
}

impl From<OrderError> for ApiError {
    fn from(e: OrderError) -> Self {
        let detail = e.to_string();
        match e {
            OrderError::NotFound(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "order-not-found", detail)
            }
            OrderError::Illegal(illegal) => {
                ApiError::new(StatusCode::CONFLICT, "illegal-transition", detail)
                    .with("current_status", illegal.from.as_str())
            }
            OrderError::Expired => ApiError::new(StatusCode::CONFLICT, "order-expired", detail),
            OrderError::NotCancellable(status) => {
                ApiError::new(StatusCode::CONFLICT, "not-cancellable", detail)
                    .with("current_status", status)
            }
            OrderError::RefundTooLarge { refundable, .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "refund-exceeds-paid",
                detail,
            )
            .with("refundable", refundable),
            OrderError::WrongCurrency(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "currency-mismatch",
                detail,
            ),
            OrderError::NoPayment => ApiError::new(StatusCode::CONFLICT, "no-payment", detail),
            OrderError::Payment(e) => e.into(),
            OrderError::Inventory(e) => e.into(),
            OrderError::Store(e) => e.into(),
        }
    }
}

impl From<PaymentError> for ApiError {
    fn from(e: PaymentError) -> Self {
        let code = e.code();
        let detail = e.to_string();
        match e {
            PaymentError::Declined { .. } => {
                ApiError::new(StatusCode::PAYMENT_REQUIRED, code, detail)
            }
            PaymentError::Timeout | PaymentError::Failed(_) => ApiError::unavailable(
                code,
                "the payment gateway did not answer; nothing was charged and the stock stays held",
                2,
            ),
            PaymentError::Unavailable { retry_after_secs } => ApiError::unavailable(
                code,
                "the payment gateway is unavailable; nothing was charged and the stock stays held",
                u32::try_from(retry_after_secs.max(1)).unwrap_or(u32::MAX),
            ),
            PaymentError::Invalid(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
            }
        }
    }
}
