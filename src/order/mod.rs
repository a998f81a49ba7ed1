//! Orders: what a customer bought, at what price, and where the order stands.
//! Stored under `ord/<id>`; the id is unguessable and is the capability to
//! read the order.

mod model;

pub use model::{Order, OrderLine, OrderStatus};

use crate::domain::OrderId;
use crate::store::{keys, Store, StoreError};

/// Reads an order.
pub fn get(store: &Store, id: &OrderId) -> Result<Option<Order>, StoreError> {
    store.get(&keys::order(id.as_str()))
}
