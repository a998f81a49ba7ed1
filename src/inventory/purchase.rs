//! The flash-sale purchase as the SKU actor sees it: the request, and the
//! order it creates in the same step (and the same commit) as the hold.

use crate::clock::Millis;
use crate::domain::{CustomerId, Money, OrderId, ProductId, Sku};
use crate::order::{Order, OrderLine, OrderStatus};
use crate::store::StoreError;

/// A flash-sale purchase: hold stock and create the order in one step.
#[derive(Debug, Clone)]
pub struct PurchaseRequest {
    pub order_id: OrderId,
    pub customer: CustomerId,
    pub quantity: u64,
    pub product_id: ProductId,
    pub unit_price: Money,
    pub request_digest: [u8; 32],
}

/// The order a purchase creates, awaiting payment until `expires_at`.
pub(super) fn new_order(
    sku: &Sku,
    req: PurchaseRequest,
    now: Millis,
    expires_at: Millis,
) -> Result<Order, StoreError> {
    let line_total = req
        .unit_price
        .times(req.quantity)
        .ok_or_else(|| StoreError::io("order total overflows"))?;
    Ok(Order {
        id: req.order_id,
        status: OrderStatus::AwaitingPayment,
        customer_id: Some(req.customer),
        lines: vec![OrderLine {
            sku: sku.clone(),
            product_id: req.product_id,
            quantity: req.quantity,
            unit_price: req.unit_price,
            line_total,
        }],
        total: line_total,
        created_at: now,
        expires_at: Some(expires_at),
        request_digest: req.request_digest,
        email: None,
        shipping_address: None,
        payment: None,
        cart_id: None,
        updated_at: now,
    })
}
