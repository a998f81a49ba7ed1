//! Orders: what a customer bought, at what price, and where the order stands.
//! Stored under `ord/<id>`; the id is unguessable and is the capability to
//! read the order. This module is the only place that creates an order
//! ([`model`]'s constructors) or changes its status ([`Order::apply`], through
//! the state machine in [`status`]). It depends on inventory, never the
//! reverse: when a hold lapses, inventory calls back through
//! [`LapsedHolds`](crate::inventory::LapsedHolds), implemented by
//! [`UnpaidOrders`].

mod cancellation;
mod error;
mod expiry;
mod lifecycle;
mod model;
mod pending;
mod purchase;
mod status;

pub use cancellation::{Cancellation, Canceller};
pub use error::OrderError;
pub use expiry::UnpaidOrders;
pub use lifecycle::{authorization, payment_ref, OrderParts, Orders, Page};
pub use model::{CheckoutOrder, Order, OrderLine, OrderStatus, PaymentRef};
pub use purchase::{Purchase, Purchased};
pub use status::{IllegalTransition, Transition};

use crate::domain::{CustomerId, Money, OrderId, Sku};
use crate::store::{keys, Store, StoreError};
use serde::Serialize;

/// Counts an order just placed (a purchase, a checkout) in the metrics the
/// dashboard's overview reads: orders, units and order value, by currency.
/// The handles are looked up once: a registry lookup per purchase (building
/// and hashing a labelled key) would be a visible share of the hot path.
pub(crate) fn count_placed(order: &Order) {
    struct Handles {
        orders: metrics::Counter,
        units: metrics::Counter,
        value: dashmap::DashMap<crate::domain::Currency, metrics::Counter>,
    }
    static HANDLES: std::sync::OnceLock<Handles> = std::sync::OnceLock::new();
    let h = HANDLES.get_or_init(|| Handles {
        orders: metrics::counter!("surge_orders_placed_total"),
        units: metrics::counter!("surge_units_ordered_total"),
        value: dashmap::DashMap::new(),
    });
    h.orders.increment(1);
    h.units
        .increment(order.lines.iter().map(|l| l.quantity).sum());
    let value = u64::try_from(order.total.amount).unwrap_or(0);
    let currency = order.total.currency;
    match h.value.get(&currency) {
        Some(counter) => counter.increment(value),
        None => h
            .value
            .entry(currency)
            .or_insert_with(|| {
                metrics::counter!("surge_order_value_minor_total", "currency" => currency.as_str().to_owned())
            })
            .increment(value),
    }
}

/// Reads an order.
pub fn get(store: &Store, id: &OrderId) -> Result<Option<Order>, StoreError> {
    store.get(&keys::order(id.as_str()))
}

/// What an order event carries: enough to act on without a read back. A
/// borrowed view, so that nothing is built unless the outbox serializes it
/// (it does only when a webhook wants the event).
pub fn event_data(order: &Order) -> OrderEvent<'_> {
    OrderEvent {
        order_id: &order.id,
        status: order.status(),
        customer_id: order.customer_id.as_ref(),
        total: &order.total,
        refunded: order.refunded(),
        lines: EventLines(&order.lines),
    }
}

#[derive(Serialize)]
pub struct OrderEvent<'a> {
    order_id: &'a OrderId,
    status: OrderStatus,
    customer_id: Option<&'a CustomerId>,
    total: &'a Money,
    refunded: i64,
    lines: EventLines<'a>,
}

/// An order's lines as events show them: SKU, quantity and line total.
pub struct EventLines<'a>(&'a [OrderLine]);

impl Serialize for EventLines<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Line<'a> {
            sku: &'a Sku,
            quantity: u64,
            line_total: &'a Money,
        }
        serializer.collect_seq(self.0.iter().map(|l| Line {
            sku: &l.sku,
            quantity: l.quantity,
            line_total: &l.line_total,
        }))
    }
}
