//! Where an order ships to: any JSON object the storefront sends, kept as
//! its compact JSON text and bounded in size. Its fields are the merchant's
//! business (countries format addresses differently); surge only stores and
//! returns it. Stored as that text (the same encoding as a `String`);
//! reading it back checks it again.

use super::ParseError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// Largest address accepted, in bytes of compact JSON.
pub const ADDRESS_BYTES_MAX: usize = 2048;

/// A shipping address: a JSON object of at most [`ADDRESS_BYTES_MAX`] bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ShippingAddress(String);

impl ShippingAddress {
    pub fn parse(value: &Value) -> Result<Self, ParseError> {
        if !value.is_object() {
            return Err(ParseError::new("a JSON object"));
        }
        let text = value.to_string();
        check_size(&text)?;
        Ok(Self(text))
    }

    /// The address as compact JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

fn check_size(text: &str) -> Result<(), ParseError> {
    if text.len() > ADDRESS_BYTES_MAX {
        return Err(ParseError::new(format!(
            "at most {ADDRESS_BYTES_MAX} bytes of JSON"
        )));
    }
    Ok(())
}

impl TryFrom<&Value> for ShippingAddress {
    type Error = ParseError;

    fn try_from(value: &Value) -> Result<Self, ParseError> {
        Self::parse(value)
    }
}

/// An address as JSON text (as stored): kept as it is if it is a JSON
/// object within the size limit.
impl TryFrom<String> for ShippingAddress {
    type Error = ParseError;

    fn try_from(text: String) -> Result<Self, ParseError> {
        check_size(&text)?;
        if serde_json::from_str::<Map<String, Value>>(&text).is_err() {
            return Err(ParseError::new("a JSON object"));
        }
        Ok(Self(text))
    }
}

impl From<ShippingAddress> for String {
    fn from(address: ShippingAddress) -> String {
        address.0
    }
}

impl fmt::Display for ShippingAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_object_is_kept_as_compact_json() {
        let address = ShippingAddress::parse(&json!({"city": "Lyon", "lines": ["1 rue X"]}));
        assert_eq!(
            address.map(ShippingAddress::into_inner).as_deref(),
            Ok(r#"{"city":"Lyon","lines":["1 rue X"]}"#)
        );
    }

    #[test]
    fn anything_but_an_object_is_refused() {
        for bad in [json!(null), json!("Lyon"), json!(["Lyon"]), json!(3)] {
            let e = ShippingAddress::parse(&bad).unwrap_err();
            assert_eq!(e.0, "a JSON object", "{bad}");
        }
    }

    #[test]
    fn an_address_may_be_2048_bytes_of_json_and_no_more() {
        // {"a":"…"} is 8 bytes around the value.
        let at_max = json!({ "a": "x".repeat(ADDRESS_BYTES_MAX - 8) });
        assert_eq!(at_max.to_string().len(), ADDRESS_BYTES_MAX);
        assert!(ShippingAddress::parse(&at_max).is_ok());
        let over = json!({ "a": "x".repeat(ADDRESS_BYTES_MAX - 7) });
        let e = ShippingAddress::try_from(&over).unwrap_err();
        assert_eq!(e.0, "at most 2048 bytes of JSON");
    }

    #[test]
    fn an_address_is_stored_exactly_like_its_text() {
        let address = ShippingAddress::parse(&json!({"city": "Lyon"})).unwrap();
        let bytes = postcard::to_stdvec(&address).unwrap();
        assert_eq!(bytes, postcard::to_stdvec(r#"{"city":"Lyon"}"#).unwrap());
        assert_eq!(postcard::from_bytes::<ShippingAddress>(&bytes), Ok(address));
        for bad in ["Lyon", "[1]", "{", "null"] {
            let bytes = postcard::to_stdvec(bad).unwrap();
            assert!(
                postcard::from_bytes::<ShippingAddress>(&bytes).is_err(),
                "{bad}"
            );
        }
    }
}
