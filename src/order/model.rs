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
}
