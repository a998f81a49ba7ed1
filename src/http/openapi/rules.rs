//! The rules a request must meet, as JSON Schema. Each is built from the
//! constant or the parser it mirrors, and the tests below hold every
//! pattern against its parser, so that a request the document allows is
//! never refused for its shape and one it forbids is never taken.
//!
//! Patterns are written for every reader of the document (ECMA-262, which
//! JSON Schema names; Python's `re`; Rust's `regex`): no look-around, no
//! `\s` (whose members differ between them), explicit code points instead.

use crate::catalog::{ATTRIBUTES_MAX, INITIAL_STOCK_MAX, VARIANTS_MAX};
use crate::domain::{
    CartId, Currency, OrderId, ProductId, Sku, TextRule, AMOUNT_MAX, EMAIL_BYTES_MAX, ID_LEN_MAX,
};
use crate::events::{EventKind, SECRET_LEN_MAX, URL_LEN_MAX};
use crate::http::admin::inventory::STOCK_MAX;
use crate::http::admin::orders::PAGE_MAX as ORDER_PAGE_MAX;
use crate::http::admin::webhooks::DEAD_LETTERS_MAX;
use crate::http::storefront::stream::FILTER_SKUS_MAX;
use crate::idempotency::KEY_LEN_MAX;
use crate::order::OrderStatus;
use crate::payment::TOKEN_LEN_MAX;
use serde_json::{json, Value};
use std::borrow::Cow;
use utoipa::openapi::{RefOr, Schema};

/// Limits that come from the configuration, stated as the running server
/// applies them.
#[derive(Debug, Clone)]
pub struct Limits {
    pub page_limit_max: usize,
    pub purchase_quantity_max: u64,
    pub cart_quantity_max: u64,
    pub body_limit_bytes: usize,
    /// Customer tokens are on: bodies may leave `customer_id` out (the
    /// token names the buyer); off, purchases and joins require it.
    pub customer_tokens: bool,
    /// Some rate limit can refuse a storefront request (429).
    pub rate_limits: bool,
}

impl From<&crate::config::Settings> for Limits {
    fn from(s: &crate::config::Settings) -> Self {
        Self {
            page_limit_max: s.catalog.page_limit_max,
            purchase_quantity_max: s.inventory.purchase_quantity_max,
            cart_quantity_max: s.cart.quantity_max,
            body_limit_bytes: s.server.body_limit_bytes,
            customer_tokens: !s.customers.token_secret.is_empty(),
            rate_limits: {
                let r = &s.rate_limits;
                let tokens = !s.customers.token_secret.is_empty();
                r.ip_writes_per_sec > 0.0
                    || r.ip_reads_per_sec > 0.0
                    || (tokens && r.customer_writes_per_sec > 0.0)
            },
        }
    }
}

/// Unicode White_Space: what `char::is_whitespace` and `str::trim` take.
const WHITE: &str = r"\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
/// Neither white space nor a control character (Unicode Cc).
const VISIBLE: &str = r"[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]";
/// Anything but a control character, tab and line feed excepted.
const TEXT_CHAR: &str = r"[^\x00-\x08\x0b-\x1f\x7f-\x9f]";

/// An id (`domain::ids`): letters, digits, `-`, `_`, `.`, at most
/// [`ID_LEN_MAX`], neither `.` nor `..`. Unanchored, for use inside
/// other patterns: `any` is one allowed character, `dot` the dot, `other`
/// one allowed character that is not the dot.
fn id_shape(any: &str, dot: &str, other: &str) -> String {
    let rest = ID_LEN_MAX - 1;
    format!(
        "(?:{other}{any}{{0,{rest}}}|{dot}{other}{any}{{0,{}}}|{dot}{dot}{any}{{1,{}}})",
        rest - 1,
        rest - 1,
    )
}

fn id_core() -> String {
    id_shape("[A-Za-z0-9._-]", r"\.", "[A-Za-z0-9_-]")
}

/// Any id: product, SKU, customer, cart or order.
pub fn id() -> Value {
    json!({
        "type": "string",
        "minLength": 1,
        "maxLength": ID_LEN_MAX,
        "pattern": format!("^{}$", id_core()),
    })
}

/// Bounded text (`domain::text`): at most `len_max` characters as sent,
/// no control characters but tab and line feed inside, at least `len_min`
/// (0 or 1) once trimmed.
pub fn text(rule: TextRule) -> Value {
    let core = format!("{VISIBLE}(?:{TEXT_CHAR}*{VISIBLE})?");
    let pattern = if rule.len_min == 0 {
        format!("^[{WHITE}]*(?:{core})?[{WHITE}]*$")
    } else {
        format!("^[{WHITE}]*{core}[{WHITE}]*$")
    };
    json!({"type": "string", "maxLength": rule.len_max, "pattern": pattern})
}

pub fn currency() -> Value {
    json!({"type": "string", "enum": Currency::codes().collect::<Vec<_>>()})
}

/// `domain::email`: something@domain.tld (the domain after the last `@`,
/// with a dot, not at either end), no white space or control characters.
pub fn email() -> Value {
    let not = r"\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
    json!({
        "type": "string",
        "maxLength": EMAIL_BYTES_MAX,
        "description": format!("at most {EMAIL_BYTES_MAX} bytes of UTF-8"),
        "pattern": format!("^[^{not}]+@[^{not}@.][^{not}@]*\\.[^{not}@]*[^{not}@.]$"),
    })
}

/// `payment::token`: letters, digits, `-`, `_`; never 13 to 19 digits
/// (a card number).
pub fn payment_token() -> Value {
    json!({
        "type": "string",
        "minLength": 1,
        "maxLength": TOKEN_LEN_MAX,
        "pattern": "^(?:[A-Za-z0-9_-]*[A-Za-z_-][A-Za-z0-9_-]*|[0-9]{1,12}|[0-9]{20,})$",
    })
}

/// `idempotency::IdempotencyKey`: 1 to 255 visible ASCII characters.
pub fn idempotency_key() -> Value {
    json!({
        "type": "string",
        "minLength": 1,
        "maxLength": KEY_LEN_MAX,
        "pattern": format!("^[\\x21-\\x7E]{{1,{KEY_LEN_MAX}}}$"),
    })
}

fn integer(min: u64, max: u64) -> Value {
    json!({"type": "integer", "minimum": min, "maximum": max})
}

/// A product list's cursor: the hex of the last product id shown.
fn product_cursor() -> Value {
    // Hex pairs of the id alphabet: '-' 2d, '.' 2e, digits 30-39, letters
    // 41-5a and 61-7a, '_' 5f; either case of hex digit.
    let other = "(?:2[dD]|3[0-9]|4[1-9a-fA-F]|5[0-9aA]|5[fF]|6[1-9a-fA-F]|7[0-9aA])";
    let any = "(?:2[dDeE]|3[0-9]|4[1-9a-fA-F]|5[0-9aA]|5[fF]|6[1-9a-fA-F]|7[0-9aA])";
    json!({
        "type": "string",
        "maxLength": 2 * ID_LEN_MAX,
        "pattern": format!("^{}$", id_shape(any, "2[eE]", other)),
    })
}

/// The live stream's `skus`: SKUs separated by commas, each trimmed, at
/// most [`FILTER_SKUS_MAX`] of them.
fn sku_list() -> Value {
    let sku = format!("[{WHITE}]*{}[{WHITE}]*", id_core());
    json!({
        "type": "string",
        "pattern": format!("^{sku}(?:,{sku}){{0,{}}}$", FILTER_SKUS_MAX - 1),
    })
}

/// `events::check_url`: `http://host[:port][/path][?query]`.
fn webhook_url() -> Value {
    let port =
        "(?:[0-9]{1,4}|[0-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])";
    let path = r"(?:[A-Za-z0-9._~!$&'()*+,;=:@/-]|%[0-9A-Fa-f]{2})";
    let query = r"(?:[A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{2})";
    json!({
        "type": "string",
        "maxLength": URL_LEN_MAX,
        "pattern": format!(r"^http://[A-Za-z0-9._~-]+(?::{port})?(?:/{path}*)?(?:\?{query}*)?$"),
    })
}

/// The rules of request body fields: (component schema, property, rule).
pub fn body_rules(limits: &Limits) -> Vec<(&'static str, &'static str, Value)> {
    vec![
        ("PurchaseBody", "customer_id", id()),
        (
            "PurchaseBody",
            "quantity",
            integer(1, limits.purchase_quantity_max),
        ),
        ("NewCartBody", "currency", currency()),
        ("NewCartBody", "customer_id", id()),
        ("JoinBody", "customer_id", id()),
        ("AddLineBody", "sku", id()),
        (
            "AddLineBody",
            "quantity",
            integer(1, limits.cart_quantity_max),
        ),
        (
            "SetQuantityBody",
            "quantity",
            integer(0, limits.cart_quantity_max),
        ),
        ("CheckoutBody", "email", email()),
        ("CheckoutBody", "payment_token", payment_token()),
        ("PayBody", "payment_token", payment_token()),
        ("Money", "currency", currency()),
        ("ProductInput", "id", id()),
        ("ProductInput", "title", text(TextRule::TITLE)),
        ("ProductInput", "description", text(TextRule::DESCRIPTION)),
        ("ProductInput", "category", text(TextRule::CATEGORY)),
        (
            "ProductInput",
            "attributes",
            json!({
                "maxProperties": ATTRIBUTES_MAX,
                "propertyNames": text(TextRule::ATTRIBUTE_KEY),
                "additionalProperties": text(TextRule::ATTRIBUTE_VALUE),
            }),
        ),
        (
            "ProductInput",
            "variants",
            json!({"minItems": 1, "maxItems": VARIANTS_MAX}),
        ),
        ("VariantInput", "sku", id()),
        ("VariantInput", "title", text(TextRule::TITLE)),
        ("VariantInput", "stock", integer(0, INITIAL_STOCK_MAX)),
        (
            "PriceInput",
            "amount",
            json!({"type": "integer", "minimum": 0, "maximum": AMOUNT_MAX}),
        ),
        ("PriceInput", "currency", currency()),
        ("RestockBody", "quantity", integer(1, STOCK_MAX)),
        ("StockBody", "stocked", integer(0, STOCK_MAX)),
        ("SaleView", "per_customer_limit", json!({"minimum": 1})),
        ("SaleView", "starts_at", json!({"format": "date-time"})),
        ("SaleView", "ends_at", json!({"format": "date-time"})),
        ("NewWebhook", "url", webhook_url()),
        (
            "NewWebhook",
            "secret",
            json!({"minLength": 1, "maxLength": SECRET_LEN_MAX,
                   "description": format!("1 to {SECRET_LEN_MAX} bytes of UTF-8")}),
        ),
        (
            "NewWebhook",
            "events",
            json!({
                "minItems": 1,
                "items": {
                    "type": "string",
                    "enum": EventKind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
                },
            }),
        ),
    ]
}

/// The rules of query parameters: (path, parameter, rule).
pub fn query_rules(limits: &Limits) -> Vec<(&'static str, &'static str, Value)> {
    let page = |max: usize| json!({"type": "integer", "minimum": 1, "maximum": max});
    vec![
        ("/v1/products", "limit", page(limits.page_limit_max)),
        ("/v1/products", "cursor", product_cursor()),
        (
            "/v1/admin/orders",
            "status",
            json!({"type": "string",
                   "enum": OrderStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>()}),
        ),
        ("/v1/admin/orders", "limit", page(ORDER_PAGE_MAX)),
        (
            "/v1/admin/webhooks/{id}/dead-letters",
            "limit",
            page(DEAD_LETTERS_MAX),
        ),
        ("/v1/events/stream", "skus", sku_list()),
        ("/v1/admin/catalog/import", "currency", currency()),
    ]
}

/// Path parameters name these types; their schema is the id rule.
macro_rules! id_schema {
    ($($ty:ty),*) => {$(
        impl utoipa::PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                // `id()` is a fixed, valid schema (a test reads it back).
                serde_json::from_value(id()).unwrap_or_default()
            }
        }

        impl utoipa::ToSchema for $ty {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($ty))
            }
        }
    )*};
}

id_schema!(Sku, ProductId, CartId, OrderId);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{BoundedText, CustomerId, Email};
    use crate::idempotency::IdempotencyKey;
    use crate::payment::PaymentToken;
    use proptest::prelude::*;
    use regex::Regex;

    /// Whether a string meets a schema's pattern and length bounds.
    fn meets(schema: &Value, s: &str) -> bool {
        thread_local! {
            static COMPILED: std::cell::RefCell<std::collections::HashMap<String, Regex>> =
                Default::default();
        }
        let pattern = schema["pattern"].as_str().unwrap();
        let matched = COMPILED.with(|c| {
            c.borrow_mut()
                .entry(pattern.to_owned())
                .or_insert_with(|| Regex::new(pattern).unwrap())
                .is_match(s)
        });
        let chars = s.chars().count() as u64;
        matched
            && schema["minLength"].as_u64().is_none_or(|min| chars >= min)
            && schema["maxLength"].as_u64().is_none_or(|max| chars <= max)
    }

    /// Strings near the rules' edges: the characters they single out,
    /// mixed with any others, short and long.
    fn edgy() -> impl Strategy<Value = String> {
        let special = prop::sample::select(vec![
            'a', 'Z', '0', '9', '-', '_', '.', '@', ',', ' ', '\t', '\n', '\r', '\u{b}', '\u{0}',
            '\u{1f}', '\u{7f}', '\u{85}', '\u{a0}', '\u{3000}', '\u{feff}', 'é', '€', '😀', '\\',
            '/', ':', '?', '%',
        ]);
        let c = prop_oneof![4 => special, 1 => any::<char>()];
        prop_oneof![
            prop::collection::vec(c.clone(), 0..8),
            prop::collection::vec(c, 60..270),
        ]
        .prop_map(|v| v.into_iter().collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn the_id_schema_is_the_id_parser(s in edgy()) {
            prop_assert_eq!(meets(&id(), &s), Sku::parse(&s).is_ok(), "{:?}", s);
            prop_assert_eq!(meets(&id(), &s), CustomerId::parse(&s).is_ok(), "{:?}", s);
        }

        #[test]
        fn each_text_schema_is_its_parser(s in edgy()) {
            for rule in [TextRule::TITLE, TextRule::DESCRIPTION, TextRule::CATEGORY,
                         TextRule::ATTRIBUTE_KEY, TextRule::ATTRIBUTE_VALUE] {
                prop_assert_eq!(meets(&text(rule), &s), BoundedText::parse(&s, rule).is_ok(),
                    "{} {:?}", rule.name, s);
            }
        }

        #[test]
        fn the_email_schema_is_the_email_parser(local in edgy(), domain in edgy()) {
            for s in [format!("{local}@{domain}"), format!("{local}@a.{domain}"), local.clone()] {
                // The schema counts characters, the parser bytes: they differ
                // only for long non-ASCII addresses (the description says so).
                if s.len() <= EMAIL_BYTES_MAX || s.chars().count() > EMAIL_BYTES_MAX {
                    prop_assert_eq!(meets(&email(), &s), Email::parse(&s).is_ok(), "{:?}", s);
                }
            }
        }

        #[test]
        fn the_payment_token_schema_is_its_parser(s in edgy(), digits in "[0-9]{0,25}") {
            for s in [&s, &digits] {
                prop_assert_eq!(meets(&payment_token(), s), PaymentToken::parse(s).is_ok(), "{:?}", s);
            }
        }

        #[test]
        fn the_webhook_url_schema_is_the_url_check(tail in edgy(), port in "[0-9]{0,6}", path in r"[/?%a-fA-F0-9:@ #*\\]{0,8}") {
            use crate::events::check_url;
            for s in [
                tail.clone(),
                format!("http://{tail}"),
                format!("http://h:{port}{path}"),
                format!("http://h{path}{tail}"),
            ] {
                prop_assert_eq!(meets(&webhook_url(), &s), check_url(&s).is_ok(), "{:?}", s);
            }
        }

        #[test]
        fn every_url_the_schema_describes_is_taken(s in r"http://[A-Za-z0-9._~-]{1,10}(:[0-9]{1,5})?(/([A-Za-z0-9._~!$&'()*+,;=:@/-]|%[0-9A-Fa-f]{2}){0,10})?(\?([A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{2}){0,10})?") {
            use crate::events::check_url;
            prop_assert_eq!(meets(&webhook_url(), &s), check_url(&s).is_ok(), "{:?}", s);
        }

        #[test]
        fn the_idempotency_key_schema_is_its_parser(s in edgy()) {
            prop_assert_eq!(meets(&idempotency_key(), &s), IdempotencyKey::parse(&s).is_ok(), "{:?}", s);
        }

        #[test]
        fn the_cursor_schema_takes_exactly_the_cursors_the_server_reads(s in edgy(), hex in "[0-9a-fA-F]{0,12}") {
            use crate::http::rendering::views::decode_cursor;
            for s in [&s, &hex] {
                prop_assert_eq!(meets(&product_cursor(), s), decode_cursor(s).is_some(), "{:?}", s);
            }
        }

        #[test]
        fn every_valid_product_id_makes_a_cursor_the_schema_takes(s in "[A-Za-z0-9._-]{1,64}") {
            use crate::http::rendering::views::encode_cursor;
            if let Ok(id) = ProductId::parse(&s) {
                prop_assert!(meets(&product_cursor(), &encode_cursor(&id)));
            }
        }
    }

    #[test]
    fn the_texts_have_the_minimums_the_patterns_know() {
        for rule in [
            TextRule::TITLE,
            TextRule::DESCRIPTION,
            TextRule::CATEGORY,
            TextRule::ATTRIBUTE_KEY,
            TextRule::ATTRIBUTE_VALUE,
        ] {
            assert!(rule.len_min <= 1, "{}: the pattern knows 0 or 1", rule.name);
        }
    }

    #[test]
    fn the_sku_list_schema_is_the_stream_filter() {
        let schema = sku_list();
        let sku = "A-1";
        let many = |n: usize| vec![sku; n].join(",");
        for (list, ok) in [
            ("A-1", true),
            (" A-1 ,\u{3000}B.2\t", true),
            ("", false),
            ("A-1,", false),
            (".", false),
            ("a b", false),
            (&*many(FILTER_SKUS_MAX), true),
            (&*many(FILTER_SKUS_MAX + 1), false),
        ] {
            assert_eq!(meets(&schema, list), ok, "{list:?}");
        }
    }

    #[test]
    fn the_id_types_read_back_as_the_id_schema() {
        let schema = serde_json::to_value(<Sku as utoipa::PartialSchema>::schema()).unwrap();
        assert_eq!(schema["pattern"], id()["pattern"]);
        assert_eq!(schema["maxLength"], ID_LEN_MAX);
    }

    #[test]
    fn every_currency_code_parses() {
        for code in Currency::codes() {
            assert!(Currency::parse(code).is_ok(), "{code}");
        }
    }
}
