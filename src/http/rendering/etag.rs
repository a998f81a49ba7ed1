//! HTTP caching of catalog reads: strong ETags, `If-None-Match` → 304, and
//! `If-Match` for admin replaces.
//!
//! A product's ETag has two parts, `"<definition>-<stock>"`: the first changes
//! when the merchant edits the product, the second when availability moves.
//! Caches revalidate on either; `If-Match` compares the definition part only,
//! so an admin edit during a busy sale is not refused because stock moved.

use actix_web::http::header::{self, HeaderValue};
use actix_web::HttpRequest;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// A strong ETag for arbitrary response bytes.
pub fn etag_of(bytes: &[u8]) -> String {
    format!("\"{}\"", hex::encode(&Sha256::digest(bytes)[..8]))
}

/// A product's ETag from its definition tag and its variants' availability.
pub fn product_etag(definition_tag: &str, available: impl Iterator<Item = u64>) -> String {
    let mut h = Sha256::new();
    for n in available {
        h.update(n.to_be_bytes());
    }
    format!("\"{definition_tag}-{}\"", hex::encode(&h.finalize()[..4]))
}

/// The tags listed in a conditional header; `None` when the header is absent.
fn tags(req: &HttpRequest, name: header::HeaderName) -> Option<Vec<String>> {
    let values: Vec<&HeaderValue> = req.headers().get_all(name).collect();
    if values.is_empty() {
        return None;
    }
    Some(
        values
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|t| t.trim().trim_start_matches("W/").to_owned())
            .filter(|t| !t.is_empty())
            .collect(),
    )
}

/// Whether `If-Match` (if present) accepts a product with `definition_tag`.
pub fn if_match_accepts(req: &HttpRequest, definition_tag: &str) -> bool {
    let Some(tags) = tags(req, header::IF_MATCH) else {
        return true;
    };
    tags.iter().any(|t| {
        let t = t.trim_matches('"');
        t == "*" || t.split('-').next() == Some(definition_tag)
    })
}

/// Serializes a response body once; the bytes feed both the ETag and the reply.
pub fn json_bytes<T: Serialize>(body: &T) -> Vec<u8> {
    // Serializing our own view types into a Vec cannot fail.
    serde_json::to_vec(body).unwrap_or_default()
}

/// Whether `If-None-Match` names `etag` (or is `*`).
pub fn none_match(req: &HttpRequest, etag: &HeaderValue) -> bool {
    tags(req, header::IF_NONE_MATCH).is_some_and(|tags| {
        tags.iter()
            .any(|t| t.as_bytes() == etag.as_bytes() || t == "*")
    })
}
