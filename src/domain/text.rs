//! Bounded, trimmed text for titles, descriptions and categories. Every string
//! a client sends has a named maximum: nothing grows without bound.

use super::ParseError;
use serde::{Deserialize, Serialize};

/// The limits one kind of text must meet.
#[derive(Debug, Clone, Copy)]
pub struct TextRule {
    pub name: &'static str,
    pub len_min: usize,
    pub len_max: usize,
}

impl TextRule {
    pub const TITLE: TextRule = TextRule {
        name: "title",
        len_min: 1,
        len_max: 200,
    };
    pub const DESCRIPTION: TextRule = TextRule {
        name: "description",
        len_min: 0,
        len_max: 5_000,
    };
    pub const CATEGORY: TextRule = TextRule {
        name: "category",
        len_min: 1,
        len_max: 64,
    };
    pub const ATTRIBUTE_KEY: TextRule = TextRule {
        name: "attribute name",
        len_min: 1,
        len_max: 64,
    };
    pub const ATTRIBUTE_VALUE: TextRule = TextRule {
        name: "attribute value",
        len_min: 0,
        len_max: 256,
    };
}

/// Text that met its [`TextRule`]: trimmed, within bounds, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BoundedText(String);

impl BoundedText {
    pub fn parse(raw: &str, rule: TextRule) -> Result<Self, ParseError> {
        // The maximum counts the text as sent, padding included, so that a
        // client (and the API document's `maxLength`) can check it without
        // knowing what trimming removes.
        if raw.chars().count() > rule.len_max {
            return Err(ParseError::new(format!(
                "{} must be at most {} characters",
                rule.name, rule.len_max
            )));
        }
        let text = raw.trim();
        if text.chars().count() < rule.len_min {
            return Err(ParseError::new(format!("{} must not be empty", rule.name)));
        }
        if text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err(ParseError::new(format!(
                "{} must not contain control characters",
                rule.name
            )));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_bounded() {
        let t = BoundedText::parse("  Shirt ", TextRule::TITLE).unwrap();
        assert_eq!(t.as_str(), "Shirt");
        assert!(BoundedText::parse("   ", TextRule::TITLE).is_err());
        assert!(BoundedText::parse(&"é".repeat(200), TextRule::TITLE).is_ok());
        assert!(BoundedText::parse(&"é".repeat(201), TextRule::TITLE).is_err());
        assert!(BoundedText::parse("a\u{0}b", TextRule::TITLE).is_err());
        assert!(BoundedText::parse("", TextRule::DESCRIPTION).is_ok());
    }

    #[test]
    fn the_maximum_counts_the_padding_sent() {
        let fits = format!(" {}", "a".repeat(199));
        assert_eq!(
            BoundedText::parse(&fits, TextRule::TITLE)
                .unwrap()
                .as_str()
                .len(),
            199
        );
        let padded = format!(" {} ", "a".repeat(199));
        assert!(BoundedText::parse(&padded, TextRule::TITLE).is_err());
    }
}
