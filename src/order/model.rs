//! The order record.

use crate::clock::Millis;
use crate::domain::{CustomerId, Money, OrderId, ProductId, Sku};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    AwaitingPayment,
    Paid,
    Fulfilled,
    Shipped,
    Delivered,
    Cancelled,
    Expired,
    Refunded,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub sku: Sku,
    pub product_id: ProductId,
    pub quantity: u64,
    pub unit_price: Money,
    pub line_total: Money,
}

/// How an order was paid. Only the token and the gateway's references are
/// kept: never card data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRef {
    pub gateway: String,
    pub authorization_id: String,
    pub token: String,
    /// What was authorized (the order total).
    pub amount: Money,
    /// Whether the authorization was captured.
    pub captured: bool,
    /// Minor units paid back so far; never above `amount`.
    pub refunded: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: OrderId,
    pub status: OrderStatus,
    pub customer_id: Option<CustomerId>,
    pub lines: Vec<OrderLine>,
    pub total: Money,
    pub created_at: Millis,
    /// When an unpaid order lapses and its stock returns.
    pub expires_at: Option<Millis>,
    /// Digest of the request that created the order: a retry with the same
    /// Idempotency-Key must carry the same request.
    pub request_digest: [u8; 32],
    /// Contact given at checkout (flash-sale orders have none).
    pub email: Option<String>,
    /// The shipping address as the client sent it (a JSON object, as text).
    pub shipping_address: Option<String>,
    pub payment: Option<PaymentRef>,
    /// The cart a checkout order came from.
    pub cart_id: Option<String>,
    pub updated_at: Millis,
}

impl Order {
    /// Minor units refunded so far.
    pub fn refunded(&self) -> i64 {
        self.payment.as_ref().map_or(0, |p| p.refunded)
    }
}
