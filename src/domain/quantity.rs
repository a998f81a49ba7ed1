//! How many units of a SKU: at least one, and at most a limit the caller
//! names when parsing (the limits are configured, so the type cannot know
//! them). A zero or oversized quantity never gets past the edge.

use super::ParseError;
use std::fmt;

/// A number of units, at least 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity(u64);

impl Quantity {
    /// `units` if it is between 1 and `max`.
    pub fn parse(units: u64, max: u64) -> Result<Self, ParseError> {
        if !(1..=max).contains(&units) {
            return Err(ParseError::new(format!(
                "quantity must be between 1 and {max}"
            )));
        }
        Ok(Self(units))
    }

    pub fn get(self) -> u64 {
        self.0
    }
}

/// Any number of units from 1, for a caller whose limit is checked by the
/// capability that knows what it applies to: a cart's line limit bounds the
/// line's total after the change, not the units one request adds.
impl TryFrom<u64> for Quantity {
    type Error = ParseError;

    fn try_from(units: u64) -> Result<Self, ParseError> {
        if units == 0 {
            return Err(ParseError::new("quantity must be at least 1"));
        }
        Ok(Self(units))
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quantity_is_one_to_the_named_maximum() {
        assert_eq!(Quantity::parse(1, 100).map(Quantity::get), Ok(1));
        assert_eq!(Quantity::parse(100, 100).map(Quantity::get), Ok(100));
        for bad in [0, 101, u64::MAX] {
            let e = Quantity::parse(bad, 100).unwrap_err();
            assert_eq!(e.0, "quantity must be between 1 and 100", "{bad}");
        }
    }

    #[test]
    fn without_a_maximum_only_zero_is_refused() {
        assert_eq!(
            Quantity::try_from(u64::MAX).map(Quantity::get),
            Ok(u64::MAX)
        );
        let e = Quantity::try_from(0).unwrap_err();
        assert_eq!(e.0, "quantity must be at least 1");
    }
}
