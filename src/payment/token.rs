//! The payment token: the only card-related value surge ever holds. The
//! client exchanges card details with the payment provider directly and sends
//! us the provider's opaque token; card numbers never reach this process, so
//! they can never end up in the store, the logs or a crash dump. Parsing
//! refuses anything that looks like a card number to keep it that way.

use crate::domain::ParseError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest token accepted.
pub const TOKEN_LEN_MAX: usize = 128;

/// An opaque token standing for a payment method at the gateway (for the
/// simulated gateway, `tok_ok`, `tok_decline`, `tok_timeout`, `tok_error` or
/// any other well-formed token). Never a card number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PaymentToken(String);

impl PaymentToken {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        check_token(raw)?;
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check_token(raw: &str) -> Result<(), ParseError> {
    // Checked first so that a card number gets the message that matters,
    // not a length or character complaint.
    if looks_like_card_number(raw) {
        return Err(ParseError::new(
            "payment token looks like a card number: send the token from the payment provider, never card details",
        ));
    }
    if raw.is_empty() || raw.len() > TOKEN_LEN_MAX {
        return Err(ParseError::new(format!(
            "payment token must be 1 to {TOKEN_LEN_MAX} characters"
        )));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_');
    if !raw.chars().all(allowed) {
        return Err(ParseError::new(
            "payment token may contain only letters, digits, '-' and '_'",
        ));
    }
    Ok(())
}

/// Card numbers (PANs) are 13 to 19 digits.
fn looks_like_card_number(raw: &str) -> bool {
    (13..=19).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_digit())
}

impl TryFrom<String> for PaymentToken {
    type Error = ParseError;
    fn try_from(raw: String) -> Result<Self, ParseError> {
        check_token(&raw)?;
        Ok(Self(raw))
    }
}

impl From<PaymentToken> for String {
    fn from(token: PaymentToken) -> String {
        token.0
    }
}

impl fmt::Display for PaymentToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_tokens_parse() {
        for raw in ["tok_ok", "tok-123_ABC", "x", &"a".repeat(TOKEN_LEN_MAX)] {
            assert_eq!(PaymentToken::parse(raw).unwrap().as_str(), raw);
        }
    }

    #[test]
    fn card_numbers_are_refused_with_a_clear_message() {
        for pan in [
            "4111111111111111",
            "4000056655665556",
            "3782822463100",
            "6011111111111111117",
        ] {
            let err = PaymentToken::parse(pan).unwrap_err();
            assert!(err.0.contains("card number"), "{pan}: {err}");
        }
        // Digits outside the PAN lengths are just opaque tokens.
        assert!(PaymentToken::parse("123456789012").is_ok());
        assert!(PaymentToken::parse("12345678901234567890").is_ok());
    }

    #[test]
    fn bad_lengths_and_characters_are_refused() {
        assert!(PaymentToken::parse("").is_err());
        assert!(PaymentToken::parse(&"a".repeat(TOKEN_LEN_MAX + 1)).is_err());
        for raw in ["tok ok", "tok.ok", "tok/ok", "tök", "4111 1111 1111 1111"] {
            assert!(PaymentToken::parse(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn deserializing_checks_too() {
        let ok: PaymentToken = serde_json::from_str(r#""tok_ok""#).unwrap();
        assert_eq!(ok.as_str(), "tok_ok");
        assert!(serde_json::from_str::<PaymentToken>(r#""4111111111111111""#).is_err());
    }

    #[test]
    fn a_token_is_stored_exactly_like_its_string() {
        let bytes = postcard::to_stdvec(&PaymentToken::parse("tok_ok").unwrap()).unwrap();
        assert_eq!(bytes, postcard::to_stdvec("tok_ok").unwrap());
        let back = postcard::from_bytes::<PaymentToken>(&bytes).unwrap();
        assert_eq!(back.as_str(), "tok_ok");
    }
}
