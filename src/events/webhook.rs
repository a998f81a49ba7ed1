//! One webhook endpoint: where it is, what it signs with, which events it
//! takes; and the checks a registration passes before it is stored. Holds
//! no state: the registry in `webhooks.rs` keeps the endpoints.

use super::{Event, EventKind, WebhookError};
use crate::clock::Millis;
use crate::domain::FieldError;
use serde::{Deserialize, Serialize};

/// Longest accepted endpoint URL, in bytes.
pub const URL_LEN_MAX: usize = 2048;
/// Longest accepted signing secret, in bytes.
pub const SECRET_LEN_MAX: usize = 256;

/// A registered endpoint, as stored under `hook/<id>`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    /// `wh_<32 hex>`, random.
    pub id: String,
    /// `https://host[:port]/path` (or `http://`), checked at registration.
    pub url: String,
    pub secret: String,
    /// The kinds delivered; `None` is every kind, including ones added later.
    pub events: Option<Vec<EventKind>>,
    pub created_at: Millis,
    /// The first event sequence number recorded after registration: older
    /// events, still in the outbox when the webhook was added, are not for
    /// it. Kept under a key of its own (`hook_from/<id>`) so that records
    /// written before this field existed still read.
    #[serde(skip)]
    pub first_seq: u64,
}

/// Never shows the secret, so a webhook can be logged.
impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .field("events", &self.events)
            .field("created_at", &self.created_at)
            .finish()
    }
}

impl Webhook {
    pub fn wants(&self, kind: EventKind) -> bool {
        self.events
            .as_ref()
            .is_none_or(|kinds| kinds.contains(&kind))
    }

    /// Whether `event` is for this webhook: a kind it wants, recorded since
    /// it was registered.
    pub fn takes(&self, event: &Event) -> bool {
        event.seq >= self.first_seq && self.wants(event.kind)
    }
}

/// Checks a registration: an `https://` or `http://` URL with a host, a secret, known
/// event kinds. Returns the URL and the kinds (`None` for all).
pub(super) fn parse(
    url: &str,
    secret: &str,
    events: Option<&[String]>,
) -> Result<(String, Option<Vec<EventKind>>), WebhookError> {
    let mut errors = Vec::new();
    if let Err(why) = check_url(url) {
        errors.push(FieldError::new("url", why));
    }
    if secret.is_empty() || secret.len() > SECRET_LEN_MAX {
        errors.push(FieldError::new(
            "secret",
            format!("the signing secret must be 1 to {SECRET_LEN_MAX} bytes"),
        ));
    }
    let mut kinds = Vec::new();
    match events {
        Some([]) => errors.push(FieldError::new(
            "events",
            "name at least one event kind, or omit events for all",
        )),
        Some(names) => {
            for (i, name) in names.iter().enumerate() {
                match EventKind::parse(name) {
                    Some(kind) if !kinds.contains(&kind) => kinds.push(kind),
                    Some(_) => {}
                    None => errors.push(FieldError::new(
                        format!("events[{i}]"),
                        format!("'{name}' is not an event kind"),
                    )),
                }
            }
        }
        None => {}
    }
    if !errors.is_empty() {
        return Err(WebhookError::Invalid(errors));
    }
    Ok((url.to_owned(), events.map(|_| kinds)))
}

/// An endpoint URL: `https://host[:port][/path][?query]` (or `http://`:
/// plain, for a receiver on a private network), where the host is
/// a name or an IPv4 address (letters, digits, `.`, `-`, `_`, `~`), the
/// port 0 to 65535, and the path and query are made of URL characters
/// (RFC 3986 unreserved and sub-delims, `:`, `@`, `/`, `?` in the query)
/// and `%` escapes. This is the grammar the API document states as a
/// pattern; anything the HTTP client could not send to is refused too.
pub fn check_url(url: &str) -> Result<(), String> {
    const SHAPE: &str = "not a URL of the form http[s]://host[:port][/path][?query]";
    if url.len() > URL_LEN_MAX {
        return Err(format!("at most {URL_LEN_MAX} bytes"));
    }
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return Err("the URL must start with https:// or http://".into());
    };
    let (authority, target) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let host_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '~');
    if host.is_empty() || !host.chars().all(host_char) {
        return Err("the URL's host must be a name or an IPv4 address".into());
    }
    let port_ok = |p: &str| {
        (1..=5).contains(&p.len())
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u16>().is_ok()
    };
    if port.is_some_and(|p| !port_ok(p)) {
        return Err("the URL's port must be a number from 0 to 65535".into());
    }
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    if !url_chars(path, false) || !query.is_none_or(|q| url_chars(q, true)) {
        return Err(SHAPE.into());
    }
    match url.parse::<hyper::Uri>() {
        Ok(uri) if uri.host().is_some_and(|h| !h.is_empty()) => Ok(()),
        _ => Err(SHAPE.into()),
    }
}

/// Whether `text` is made of URL path characters (and `?` in a query),
/// every `%` starting an escape of two hex digits.
fn url_chars(text: &str, query: bool) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let escape = bytes.get(i + 1..i + 3);
            if !escape.is_some_and(|e| e.iter().all(u8::is_ascii_hexdigit)) {
                return false;
            }
            i += 3;
            continue;
        }
        let plain =
            b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&b) || (query && b == b'?');
        if !plain {
            return false;
        }
        i += 1;
    }
    true
}

pub(super) fn new_id() -> String {
    let mut bytes = [0u8; 16];
    // The OS source cannot fail on supported platforms; a v4 UUID stands in.
    if getrandom::fill(&mut bytes).is_err() {
        bytes = *uuid::Uuid::new_v4().as_bytes();
    }
    format!("wh_{}", hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid_fields(r: Result<(String, Option<Vec<EventKind>>), WebhookError>) -> Vec<String> {
        match r {
            Err(WebhookError::Invalid(errors)) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn registrations_need_an_http_url_a_secret_and_known_kinds() {
        let ok = parse("http://127.0.0.1:9/hook", "s", None).unwrap();
        assert_eq!(ok, ("http://127.0.0.1:9/hook".into(), None));
        let names = ["order.paid".to_owned(), "order.paid".to_owned()];
        let (_, kinds) = parse("http://shop.example/h", "s", Some(&names)).unwrap();
        assert_eq!(kinds, Some(vec![EventKind::OrderPaid]));
        assert_eq!(invalid_fields(parse("ftp://x/", "s", None)), ["url"]);
        assert!(parse("https://x/", "s", None).is_ok());
        assert!(parse("https://shop.example:8443/h?a=1", "s", None).is_ok());
        for bad in [
            "http://x:225*",
            "http://x:65536/",
            "http://x:",
            "http://user@x/",
            "http://x/a b",
            "http://x/%zz",
            "http://x/#frag",
            "http:///path",
        ] {
            assert_eq!(invalid_fields(parse(bad, "s", None)), ["url"], "{bad}");
        }
        for good in [
            "http://x",
            "http://x:0",
            "http://x.y:65535/a/b?c=d&e=%2F?",
            "http://x?q",
        ] {
            assert!(parse(good, "s", None).is_ok(), "{good}");
        }
        assert_eq!(
            invalid_fields(parse("not a url", "", None)),
            ["url", "secret"]
        );
        let bad = ["order.paid".to_owned(), "order.lost".to_owned()];
        assert_eq!(
            invalid_fields(parse("http://x/", "s", Some(&bad))),
            ["events[1]"]
        );
        assert_eq!(
            invalid_fields(parse("http://x/", "s", Some(&[]))),
            ["events"]
        );
    }

    #[test]
    fn a_webhook_without_kinds_wants_everything() {
        let mut hook = Webhook {
            id: new_id(),
            url: "http://x/".into(),
            secret: "s".into(),
            events: None,
            created_at: 0,
            first_seq: 0,
        };
        assert!(EventKind::ALL.iter().all(|&k| hook.wants(k)));
        hook.events = Some(vec![EventKind::StockSoldOut]);
        assert!(hook.wants(EventKind::StockSoldOut));
        assert!(!hook.wants(EventKind::OrderPaid));
        assert!(hook.id.starts_with("wh_") && hook.id.len() == 35);
        assert!(
            !format!("{hook:?}").contains("\"s\""),
            "the secret is not shown"
        );
    }
}
