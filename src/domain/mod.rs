//! Value types shared by every capability. Each is built only by parsing at
//! the edge (`parse`/`TryFrom`), so a value that exists is a valid value:
//! downstream code never re-validates and never sees a raw `String` id.

mod email;
mod ids;
mod money;
mod quantity;
mod shipping_address;
mod text;

pub use email::{Email, EMAIL_BYTES_MAX};
pub use ids::{random_hex128, CartId, CustomerId, HoldId, OrderId, ProductId, Sku, ID_LEN_MAX};
pub use money::{Currency, Money, AMOUNT_MAX};
pub use quantity::Quantity;
pub use shipping_address::{ShippingAddress, ADDRESS_BYTES_MAX};
pub use text::{BoundedText, TextRule};

/// Why a value could not be parsed. Carried into per-field validation errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

impl ParseError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// One invalid field of a request: where (a JSON path) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}
