//! A customer's email address, checked for shape only: something@domain.tld,
//! no spaces or control characters, at most 254 bytes. Deliverability is the
//! mail system's business, not ours. Stored as the plain string it was
//! parsed from (the same encoding as a `String`); reading it back checks it
//! again.

use super::ParseError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest address accepted, in bytes (the longest path SMTP carries).
pub const EMAIL_BYTES_MAX: usize = 254;

/// A plausible email address, kept as sent (not trimmed or lower-cased).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        check(raw)?;
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

fn check(raw: &str) -> Result<(), ParseError> {
    let plausible = raw.rsplit_once('@').is_some_and(|(local, domain)| {
        raw.len() <= EMAIL_BYTES_MAX
            && !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !raw.chars().any(|c| c.is_whitespace() || c.is_control())
    });
    if !plausible {
        return Err(ParseError::new("an email address like name@example.com"));
    }
    Ok(())
}

impl TryFrom<String> for Email {
    type Error = ParseError;

    fn try_from(raw: String) -> Result<Self, ParseError> {
        check(&raw)?;
        Ok(Self(raw))
    }
}

impl From<Email> for String {
    fn from(email: Email) -> String {
        email.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_for_shape_only() {
        for good in ["a@b.co", "first.last+tag@example.org"] {
            assert_eq!(
                Email::parse(good).map(Email::into_inner).as_deref(),
                Ok(good)
            );
        }
        for bad in [
            "",
            "a",
            "a@b",
            "@b.co",
            "a b@c.de",
            "a@.de",
            "a@de.",
            "a@b.c\u{7}",
        ] {
            let e = Email::parse(bad).unwrap_err();
            assert_eq!(e.0, "an email address like name@example.com", "{bad:?}");
        }
    }

    #[test]
    fn an_address_may_be_254_bytes_and_no_more() {
        let at_max = format!("{}@example.com", "a".repeat(EMAIL_BYTES_MAX - 12));
        assert_eq!(at_max.len(), EMAIL_BYTES_MAX);
        assert!(Email::parse(&at_max).is_ok());
        assert!(Email::try_from(format!("a{at_max}")).is_err());
    }

    #[test]
    fn an_email_is_stored_exactly_like_its_string() {
        let raw = "first.last+tag@example.org";
        let bytes = postcard::to_stdvec(&Email::parse(raw).unwrap()).unwrap();
        assert_eq!(bytes, postcard::to_stdvec(raw).unwrap());
        assert_eq!(postcard::from_bytes::<Email>(&bytes).unwrap().as_str(), raw);
        let bad = postcard::to_stdvec("not an email").unwrap();
        assert!(postcard::from_bytes::<Email>(&bad).is_err());
    }
}
