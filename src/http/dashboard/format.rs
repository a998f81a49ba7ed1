//! How the dashboard writes money, numbers, times and query strings.

use crate::clock::{rfc3339, Millis};
use crate::domain::Money;

/// Percent-encodes `text` for a query string.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `amount` as people write it: "€19.99", "$5.00", "1,250 JPY".
pub fn money(m: &Money) -> String {
    let digits = m.currency.minor_digits();
    let scale = 10i64.pow(digits);
    let (whole, frac) = (m.amount / scale, (m.amount % scale).abs());
    let whole = group(whole);
    let number = if digits == 0 {
        whole
    } else {
        format!("{whole}.{frac:0width$}", width = digits as usize)
    };
    match m.currency.as_str() {
        "EUR" => format!("€{number}"),
        "USD" => format!("${number}"),
        "GBP" => format!("£{number}"),
        code => format!("{number} {code}"),
    }
}

/// Minor units of `currency` (a code) as money, if the code is known.
pub fn money_of(amount: u64, currency: &str) -> String {
    match Money::price(i64::try_from(amount).unwrap_or(i64::MAX), currency) {
        Ok(m) => money(&m),
        Err(_) => format!("{amount} {currency} (minor units)"),
    }
}

/// An amount in major units, as a form field shows it ("19.99").
pub fn decimal(m: &Money) -> String {
    let digits = m.currency.minor_digits();
    let scale = 10i64.pow(digits);
    if digits == 0 {
        return m.amount.to_string();
    }
    format!(
        "{}.{:0width$}",
        m.amount / scale,
        m.amount % scale,
        width = digits as usize
    )
}

/// `1234567` as "1,234,567".
pub fn group(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// A timestamp as "2026-11-27 09:00:00 UTC".
pub fn when(ms: Millis) -> String {
    let text = rfc3339(ms);
    let text = text.split('.').next().unwrap_or(&text).replace('T', " ");
    format!("{} UTC", text.trim_end_matches('Z'))
}

/// A size as "812 B", "4.2 KiB", "1.5 GiB".
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A duration in seconds as "45 s", "12 min", "3 h 5 min", "2 d 4 h".
pub fn span(secs: u64) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3_600, secs % 3_600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{secs} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_and_numbers_read_as_people_write_them() {
        let eur = Money::price(123_456, "EUR").unwrap();
        assert_eq!(money(&eur), "€1,234.56");
        assert_eq!(decimal(&eur), "1234.56");
        assert_eq!(money(&Money::price(5, "USD").unwrap()), "$0.05");
        assert_eq!(money(&Money::price(1250, "JPY").unwrap()), "1,250 JPY");
        assert_eq!(group(1_000), "1,000");
        assert_eq!(encode("/admin?a=b c"), "%2Fadmin%3Fa%3Db%20c");
        assert_eq!(when(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(bytes(812), "812 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
        assert_eq!(span(45), "45 s");
        assert_eq!(span(720), "12 min");
        assert_eq!(span(3_600), "1 h");
        assert_eq!(span(11_100), "3 h 5 min");
        assert_eq!(span(86_400 * 2 + 3_600 * 4 + 59), "2 d 4 h");
    }
}
