//! Opaque identifiers. Ids are strings to clients; inside they are newtypes
//! so a SKU can never be passed where a product id is expected.

use super::ParseError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// Longest id we accept. Ids are keys in the store and in URLs: keep them short.
pub const ID_LEN_MAX: usize = 64;

fn check_id(kind: &str, raw: &str) -> Result<(), ParseError> {
    if raw.is_empty() {
        return Err(ParseError::new(format!("{kind} must not be empty")));
    }
    if raw.len() > ID_LEN_MAX {
        return Err(ParseError::new(format!(
            "{kind} must be at most {ID_LEN_MAX} characters"
        )));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if !raw.chars().all(allowed) {
        return Err(ParseError::new(format!(
            "{kind} may contain only letters, digits, '-', '_' and '.'"
        )));
    }
    // Ids are path segments, and HTTP clients resolve `.` and `..` in a
    // URL before sending it: such an id could never be addressed.
    if raw == "." || raw == ".." {
        return Err(ParseError::new(format!("{kind} must not be '.' or '..'")));
    }
    Ok(())
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        ///
        /// The text is shared: a clone (an id kept in several indexes, a
        /// hold named after its order) costs a reference count, not a copy.
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Arc<str>);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, ParseError> {
                check_id($kind, raw)?;
                Ok(Self(raw.into()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = ParseError;
            fn try_from(raw: String) -> Result<Self, ParseError> {
                check_id($kind, &raw)?;
                Ok(Self(raw.into()))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0.as_ref().to_owned()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(
    /// A product's id: chosen by the merchant or generated (`prod_<32 hex>`).
    ProductId,
    "product id"
);
string_id!(
    /// A stock keeping unit: one sellable variant, the unit of inventory.
    Sku,
    "sku"
);

string_id!(
    /// The shopper a purchase is for (the merchant's own customer id); used
    /// for per-customer limits.
    CustomerId,
    "customer id"
);
string_id!(
    /// What holds stock on a SKU: an order or a cart. Holds are keyed by it,
    /// so holding twice for the same holder is detectable.
    HoldId,
    "hold id"
);
string_id!(
    /// An order's id: `ord_<32 hex>`, unguessable, the capability to read it.
    OrderId,
    "order id"
);

string_id!(
    /// A cart's id: `cart_<32 hex>` from 128 random bits, the capability to
    /// use the cart.
    CartId,
    "cart id"
);

/// 128 random bits as 32 lowercase hex digits: the secret part of an id
/// that is a capability (a cart's, a waiting-room ticket's).
pub fn random_hex128() -> String {
    let mut bytes = [0u8; 16];
    // The OS source cannot fail on supported platforms; a v4 UUID (122
    // random bits) stands in if it ever does.
    if getrandom::fill(&mut bytes).is_err() {
        bytes = *uuid::Uuid::new_v4().as_bytes();
    }
    hex::encode(bytes)
}

impl CartId {
    pub fn generate() -> Self {
        Self(format!("cart_{}", random_hex128()).into())
    }

    /// An id from a keyed digest (a cart created with an Idempotency-Key).
    pub fn from_digest(digest: &[u8]) -> Self {
        Self(format!("cart_{}", hex::encode(digest)).into())
    }

    /// The hold a cart keeps on each SKU it has a line of.
    pub fn hold(&self) -> HoldId {
        HoldId(self.0.clone())
    }
}

impl OrderId {
    pub fn generate() -> Self {
        Self(format!("ord_{}", uuid::Uuid::new_v4().simple()).into())
    }

    /// An id from a keyed digest (see `idempotency`).
    pub fn from_digest(digest: &[u8]) -> Self {
        Self(format!("ord_{}", hex::encode(digest)).into())
    }

    /// The hold an order keeps on its SKU while awaiting payment.
    pub fn hold(&self) -> HoldId {
        HoldId(self.0.clone())
    }
}

impl ProductId {
    /// A fresh random id (122 random bits): unguessable and collision-free.
    pub fn generate() -> Self {
        Self(format!("prod_{}", uuid::Uuid::new_v4().simple()).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_the_documented_alphabet_and_reject_the_rest() {
        assert!(Sku::parse("TEE-RED_XL.2").is_ok());
        assert!(Sku::parse("").is_err());
        assert!(Sku::parse("a b").is_err());
        assert!(Sku::parse("a/b").is_err());
        assert!(Sku::parse(".").is_err());
        assert!(Sku::parse("..").is_err());
        assert!(Sku::parse("...").is_ok());
        assert!(Sku::parse(".a").is_ok());
        assert!(Sku::parse(&"x".repeat(ID_LEN_MAX + 1)).is_err());
        assert!(Sku::parse(&"x".repeat(ID_LEN_MAX)).is_ok());
    }

    #[test]
    fn generated_product_ids_are_distinct_and_valid() {
        let a = ProductId::generate();
        let b = ProductId::generate();
        assert_ne!(a, b);
        assert!(ProductId::parse(a.as_str()).is_ok());
    }
}
