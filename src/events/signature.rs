//! Webhook signatures. A receiver recomputes HMAC-SHA256 over
//! `"<timestamp>.<body>"` with the secret it registered, compares it with
//! `Surge-Signature` in constant time, and refuses old timestamps, so a
//! captured delivery can neither be forged nor replayed much later.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Header with the signature: `v1=<hex HMAC-SHA256>`.
pub const SIGNATURE_HEADER: &str = "Surge-Signature";
/// Header with the signing time, Unix seconds; part of the signed text.
pub const TIMESTAMP_HEADER: &str = "Surge-Timestamp";
/// Header with the event id, for receivers that deduplicate.
pub const EVENT_ID_HEADER: &str = "Surge-Event-Id";
/// Header with the event kind (`order.paid`, …).
pub const EVENT_TYPE_HEADER: &str = "Surge-Event-Type";

/// The `Surge-Signature` value of `body` sent at `timestamp`.
pub fn sign(secret: &str, timestamp: u64, body: &[u8]) -> String {
    format!(
        "v1={}",
        hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
    )
}

/// Whether `signature` is what [`sign`] gives for this body and time.
pub fn verify(secret: &str, timestamp: u64, body: &[u8], signature: &str) -> bool {
    let Some(digest) = signature
        .strip_prefix("v1=")
        .and_then(|h| hex::decode(h).ok())
    else {
        return false;
    };
    mac(secret, timestamp, body).verify_slice(&digest).is_ok()
}

/// HMAC-SHA256 keyed with `secret` over `"<timestamp>.<body>"`: the scheme
/// of surge's own webhooks, and of Stripe's (`payment::stripe::signature`).
pub(crate) fn mac(secret: &str, timestamp: u64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_for_its_secret_time_and_body() {
        let sig = sign("whsec", 1_700_000_000, b"{\"a\":1}");
        assert!(sig.starts_with("v1=") && sig.len() == 3 + 64);
        assert!(verify("whsec", 1_700_000_000, b"{\"a\":1}", &sig));
        assert!(!verify("other", 1_700_000_000, b"{\"a\":1}", &sig));
        assert!(!verify("whsec", 1_700_000_001, b"{\"a\":1}", &sig));
        assert!(!verify("whsec", 1_700_000_000, b"{\"a\":2}", &sig));
        assert!(!verify("whsec", 1_700_000_000, b"{\"a\":1}", "v1=zz"));
        assert!(!verify("whsec", 1_700_000_000, b"{\"a\":1}", &sig[3..]));
    }
}
