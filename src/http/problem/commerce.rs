//! Cart, order and payment failures as HTTP problems: each error's `code()`
//! is the problem `type`; here only the status and the facts shown are
//! decided.

use super::api_error::ApiError;
use crate::cart::CartError;
use crate::order::OrderError;
use crate::payment::PaymentError;
use crate::payment_events::StripeWebhookError;
use actix_web::http::StatusCode;

/// A request that is well-formed but cannot be carried out as asked.
const UNPROCESSABLE: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;

impl From<CartError> for ApiError {
    fn from(e: CartError) -> Self {
        let code = e.code();
        let detail = e.to_string();
        let answer = |status| ApiError::new(status, code, detail.clone());
        match e {
            CartError::NotFound(_) | CartError::LineNotFound(_) => answer(StatusCode::NOT_FOUND),
            CartError::Busy | CartError::Passivated => ApiError::unavailable(code, detail, 1),
            CartError::CheckedOut(order) => answer(StatusCode::CONFLICT).with("order_id", order),
            CartError::CheckoutInProgress
            | CartError::NoPendingCheckout
            | CartError::ActionLapsed => answer(StatusCode::CONFLICT),
            CartError::LinesUnavailable(ref skus) => {
                let skus: Vec<String> = skus.iter().map(ToString::to_string).collect();
                answer(StatusCode::CONFLICT).with("skus", skus)
            }
            CartError::TooManyLines { max } => answer(UNPROCESSABLE).with("max", max),
            CartError::QuantityTooLarge { max } => answer(UNPROCESSABLE).with("max", max),
            CartError::CurrencyMismatch { ref cart, .. } => {
                answer(UNPROCESSABLE).with("currency", cart.clone())
            }
            CartError::Empty => answer(UNPROCESSABLE),
            CartError::Idempotency(e) => e.into(),
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
        let code = e.code();
        let detail = e.to_string();
        let answer = |status| ApiError::new(status, code, detail.clone());
        match e {
            OrderError::NotFound(_) => answer(StatusCode::NOT_FOUND),
            OrderError::Illegal(illegal) => {
                answer(StatusCode::CONFLICT).with("current_status", illegal.from.as_str())
            }
            OrderError::NotCancellable(status) => {
                answer(StatusCode::CONFLICT).with("current_status", status)
            }
            OrderError::Expired | OrderError::NoPayment => answer(StatusCode::CONFLICT),
            OrderError::RefundTooLarge { refundable, .. } => {
                answer(UNPROCESSABLE).with("refundable", refundable)
            }
            OrderError::WrongCurrency(_) | OrderError::TotalOverflow => answer(UNPROCESSABLE),
            OrderError::Catalog(e) => e.into(),
            OrderError::Idempotency(e) => e.into(),
            OrderError::Payment(e) => e.into(),
            OrderError::Inventory(e) => e.into(),
            OrderError::Queue(e) => e.into(),
            OrderError::Store(e) => e.into(),
        }
    }
}

impl From<PaymentError> for ApiError {
    fn from(e: PaymentError) -> Self {
        let code = e.code();
        let detail = e.to_string();
        match e {
            PaymentError::Declined { decline_code, .. } => {
                let declined = ApiError::new(StatusCode::PAYMENT_REQUIRED, code, detail);
                match decline_code {
                    Some(decline_code) => declined.with("decline_code", decline_code),
                    None => declined,
                }
            }
            // Answered as 202 by the routes that can start an action; any
            // other route meeting it has a payment already pending.
            PaymentError::ActionRequired(_) => ApiError::new(StatusCode::CONFLICT, code, detail),
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

impl From<StripeWebhookError> for ApiError {
    fn from(e: StripeWebhookError) -> Self {
        let code = e.code();
        let detail = e.to_string();
        match e {
            StripeWebhookError::Signature(_) | StripeWebhookError::Malformed(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, code, detail)
            }
            StripeWebhookError::InProgress => ApiError::new(StatusCode::CONFLICT, code, detail),
            StripeWebhookError::Unavailable(why) => {
                tracing::warn!(error = %why, "a Stripe event could not be applied; Stripe will deliver it again");
                ApiError::unavailable(code, "the event cannot be applied now", 5)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::CatalogError;
    use crate::domain::Sku;
    use crate::idempotency::IdempotencyError;
    use crate::inventory::InventoryError;
    use crate::order::{IllegalTransition, OrderStatus, Transition};
    use crate::store::StoreError;

    fn sku() -> Sku {
        Sku::parse("TEE-1").unwrap()
    }

    /// The status and problem `type` an error is answered with.
    fn answer(e: impl Into<ApiError>) -> (u16, &'static str) {
        let e = e.into();
        (e.status.as_u16(), e.code)
    }

    #[test]
    fn every_cart_error_keeps_its_status_and_problem_type() {
        let cases = [
            (CartError::NotFound("c".into()), 404, "cart-not-found"),
            (CartError::Busy, 503, "busy"),
            (CartError::Passivated, 503, "busy"),
            (CartError::CheckedOut("o".into()), 409, "cart-checked-out"),
            (CartError::CheckoutInProgress, 409, "checkout-in-progress"),
            (CartError::TooManyLines { max: 1 }, 422, "too-many-lines"),
            (
                CartError::QuantityTooLarge { max: 1 },
                422,
                "quantity-too-large",
            ),
            (
                CartError::CurrencyMismatch {
                    sku: sku(),
                    cart: "EUR".into(),
                    price: "USD".into(),
                },
                422,
                "currency-mismatch",
            ),
            (CartError::LineNotFound(sku()), 404, "line-not-found"),
            (CartError::Empty, 422, "cart-empty"),
            (
                CartError::LinesUnavailable(vec![sku()]),
                409,
                "lines-unavailable",
            ),
            (
                CartError::Idempotency(IdempotencyError::Reused),
                422,
                "idempotency-key-reused",
            ),
            (
                CartError::Catalog(CatalogError::SkuRetired(sku())),
                410,
                "sku-retired",
            ),
            (
                CartError::Inventory(InventoryError::Busy(sku())),
                503,
                "busy",
            ),
            (CartError::Order(OrderError::Expired), 409, "order-expired"),
            (
                CartError::Payment(PaymentError::Timeout),
                503,
                "payment-timeout",
            ),
            (CartError::Store(StoreError::Overloaded), 503, "overloaded"),
        ];
        for (e, status, code) in cases {
            let shown = format!("{e:?}");
            assert_eq!(answer(e), (status, code), "{shown}");
        }
    }

    #[test]
    fn every_order_error_keeps_its_status_and_problem_type() {
        let illegal = IllegalTransition {
            from: OrderStatus::Delivered,
            transition: Transition::Ship,
        };
        let cases = [
            (OrderError::NotFound("o".into()), 404, "order-not-found"),
            (OrderError::Illegal(illegal), 409, "illegal-transition"),
            (OrderError::Expired, 409, "order-expired"),
            (
                OrderError::NotCancellable("shipped"),
                409,
                "not-cancellable",
            ),
            (
                OrderError::RefundTooLarge {
                    requested: 2,
                    refundable: 1,
                },
                422,
                "refund-exceeds-paid",
            ),
            (
                OrderError::WrongCurrency("EUR".into()),
                422,
                "currency-mismatch",
            ),
            (OrderError::NoPayment, 409, "no-payment"),
            (
                OrderError::Payment(PaymentError::Declined {
                    reason: "no".into(),
                    decline_code: None,
                }),
                402,
                "payment-declined",
            ),
            (
                OrderError::Inventory(InventoryError::Passivated),
                503,
                "no-answer",
            ),
            (OrderError::Store(StoreError::Closed), 503, "shutting-down"),
        ];
        for (e, status, code) in cases {
            let shown = format!("{e:?}");
            assert_eq!(answer(e), (status, code), "{shown}");
        }
    }
}
