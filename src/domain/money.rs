//! Money is an integer count of minor units (cents) and an ISO 4217 currency.
//! No floats anywhere: a price is exact, and arithmetic is checked.

use super::ParseError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Largest amount accepted from a client: ten billion major units, far above
/// any real price and far below where a line total could overflow `i64`.
pub const AMOUNT_MAX: i64 = 1_000_000_000_000;

/// Active ISO 4217 codes. Checked at the edge so that "EUR " or "euro" never
/// reaches a stored price.
const ISO_4217: &str = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND \
BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB \
EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY \
KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR \
MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF \
SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS \
UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG";

/// A three-letter ISO 4217 currency code, stored as its ASCII bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

/// Currencies without minor units (ISO 4217 exponent 0).
const NO_MINOR_UNITS: &str = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF";
/// Currencies with three decimals (exponent 3); all others have two.
const THREE_DECIMALS: &str = "BHD IQD JOD KWD LYD OMR TND";

impl Currency {
    /// Decimals of the minor unit: a price of 1 major unit is 10^this minor units.
    pub fn minor_digits(&self) -> u32 {
        let listed = |codes: &str| codes.split_ascii_whitespace().any(|c| c == self.as_str());
        match () {
            _ if listed(NO_MINOR_UNITS) => 0,
            _ if listed(THREE_DECIMALS) => 3,
            _ => 2,
        }
    }

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let known = raw.len() == 3 && ISO_4217.split_ascii_whitespace().any(|code| code == raw);
        if !known {
            return Err(ParseError::new(format!(
                "'{raw}' is not an ISO 4217 currency code (three upper-case letters, e.g. EUR)"
            )));
        }
        let b = raw.as_bytes();
        Ok(Self([b[0], b[1], b[2]]))
    }

    /// Every code [`Currency::parse`] accepts.
    pub fn codes() -> impl Iterator<Item = &'static str> {
        ISO_4217.split_ascii_whitespace()
    }

    pub fn as_str(&self) -> &str {
        // Only ever built from an ASCII code in ISO_4217.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl TryFrom<String> for Currency {
    type Error = ParseError;
    fn try_from(raw: String) -> Result<Self, ParseError> {
        Self::parse(&raw)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.as_str().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An amount of money: `{"amount": 1999, "currency": "EUR"}` is 19.99 EUR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Money {
    /// Integer minor units (cents).
    pub amount: i64,
    /// ISO 4217 code.
    #[schema(value_type = String, example = "EUR")]
    pub currency: Currency,
}

impl Money {
    /// A price as a client may send it: non-negative and at most [`AMOUNT_MAX`].
    pub fn price(amount: i64, currency: &str) -> Result<Self, ParseError> {
        if !(0..=AMOUNT_MAX).contains(&amount) {
            return Err(ParseError::new(format!(
                "amount must be an integer number of minor units between 0 and {AMOUNT_MAX}"
            )));
        }
        Ok(Self {
            amount,
            currency: Currency::parse(currency)?,
        })
    }

    /// A price written as a decimal number of major units ("19.99", "5",
    /// "0.5"), as exports from other shops write them: exactly, into minor
    /// units of `currency`. More decimals than the currency has, signs,
    /// exponents and thousands separators are refused, never rounded.
    pub fn from_decimal(raw: &str, currency: Currency) -> Result<Self, ParseError> {
        let digits = currency.minor_digits();
        let not_a_price = || {
            ParseError::new(format!(
                "'{raw}' is not a price: digits, optionally a '.' and at most {digits} decimals ({currency})"
            ))
        };
        let (whole, fraction) = raw.trim().split_once('.').unwrap_or((raw.trim(), ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
            return Err(not_a_price());
        }
        if fraction.len() > digits as usize {
            return Err(not_a_price());
        }
        let scale = 10i64.pow(digits);
        let pad = 10i64.pow(digits - fraction.len() as u32);
        let too_large = || ParseError::new(format!("'{raw}' is above the largest price accepted"));
        let major: i64 = whole.parse().map_err(|_| too_large())?;
        let minor: i64 = match fraction {
            "" => 0,
            f => f.parse::<i64>().map_err(|_| not_a_price())? * pad,
        };
        let amount = major
            .checked_mul(scale)
            .and_then(|m| m.checked_add(minor))
            .ok_or_else(too_large)?;
        Self::price(amount, currency.as_str())
    }

    /// `self * quantity`, or `None` on overflow.
    pub fn times(self, quantity: u64) -> Option<Self> {
        Some(Self {
            amount: self.amount.checked_mul(i64::try_from(quantity).ok()?)?,
            currency: self.currency,
        })
    }

    /// `self + other`, or `None` on overflow or when the currencies differ.
    pub fn plus(self, other: Money) -> Option<Self> {
        if self.currency != other.currency {
            return None;
        }
        Some(Self {
            amount: self.amount.checked_add(other.amount)?,
            currency: self.currency,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currencies_must_be_real_iso_codes() {
        assert!(Currency::parse("EUR").is_ok());
        assert!(Currency::parse("USD").is_ok());
        assert!(Currency::parse("eur").is_err());
        assert!(Currency::parse("EURO").is_err());
        assert!(Currency::parse("ABC").is_err());
        assert!(Currency::parse("").is_err());
    }

    #[test]
    fn prices_are_bounded_and_non_negative() {
        assert!(Money::price(0, "EUR").is_ok());
        assert!(Money::price(AMOUNT_MAX, "EUR").is_ok());
        assert!(Money::price(-1, "EUR").is_err());
        assert!(Money::price(AMOUNT_MAX + 1, "EUR").is_err());
    }

    #[test]
    fn arithmetic_is_checked() {
        let p = Money::price(AMOUNT_MAX, "EUR").unwrap();
        assert_eq!(p.times(3).unwrap().amount, 3 * AMOUNT_MAX);
        assert!(Money {
            amount: i64::MAX,
            ..p
        }
        .times(2)
        .is_none());
        let usd = Money::price(1, "USD").unwrap();
        assert!(p.plus(usd).is_none());
    }

    #[test]
    fn money_serializes_as_amount_and_code() {
        let p = Money::price(1999, "EUR").unwrap();
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, r#"{"amount":1999,"currency":"EUR"}"#);
        let back: Money = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn decimal_prices_become_exact_minor_units_of_their_currency() {
        let eur = Currency::parse("EUR").unwrap();
        let amount = |raw: &str, c: Currency| Money::from_decimal(raw, c).map(|m| m.amount);
        assert_eq!(amount("19.99", eur), Ok(1999));
        assert_eq!(amount("19.9", eur), Ok(1990));
        assert_eq!(amount(" 5 ", eur), Ok(500));
        assert_eq!(amount("0.05", eur), Ok(5));
        assert_eq!(amount("1500", Currency::parse("JPY").unwrap()), Ok(1500));
        assert_eq!(amount("1.234", Currency::parse("KWD").unwrap()), Ok(1234));
        for bad in [
            "", ".5", "19.999", "-1", "1e3", "1,000.00", "19.99.1", "abc", "+1",
        ] {
            assert!(Money::from_decimal(bad, eur).is_err(), "{bad}");
        }
        assert!(Money::from_decimal("1.5", Currency::parse("JPY").unwrap()).is_err());
        assert!(Money::from_decimal("99999999999999999999", eur).is_err());
        assert!(
            Money::from_decimal("10000000000.01", eur).is_err(),
            "above AMOUNT_MAX"
        );
    }
}
