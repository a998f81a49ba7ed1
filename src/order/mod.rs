//! Orders: what a customer bought, at what price, and where the order stands.
//! Stored under `ord/<id>`; the id is unguessable and is the capability to
//! read the order. [`status`] is the state machine every change goes through.

mod lifecycle;
mod model;
mod status;

pub use lifecycle::{authorization, payment_ref, Cancellation, Canceller, OrderError, Orders};
pub use model::{Order, OrderLine, OrderStatus, PaymentRef};
pub use status::{IllegalTransition, Transition};

use crate::domain::OrderId;
use crate::store::{keys, Store, StoreError};

/// Reads an order.
pub fn get(store: &Store, id: &OrderId) -> Result<Option<Order>, StoreError> {
    store.get(&keys::order(id.as_str()))
}

/// What an order event carries: enough to act on without a read back.
pub fn event_data(order: &Order) -> serde_json::Value {
    serde_json::json!({
        "order_id": order.id,
        "status": order.status,
        "customer_id": order.customer_id,
        "total": order.total,
        "refunded": order.refunded(),
        "lines": order.lines.iter().map(|l| serde_json::json!({
            "sku": l.sku, "quantity": l.quantity, "line_total": l.line_total,
        })).collect::<Vec<_>>(),
    })
}
