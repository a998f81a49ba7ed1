//! `Stripe-Signature`: `t=<unix seconds>,v1=<hex HMAC-SHA256>[,v1=…][,v0=…]`,
//! the HMAC keyed with the endpoint's signing secret over `"<t>.<payload>"`
//! (the raw body, byte for byte). An event is genuine when one `v1` matches
//! (compared in constant time) and `t` is within the tolerance of now, so a
//! captured event cannot be replayed later. Several `v1` appear while a
//! secret is being rolled. The MAC is the one surge's own webhooks use.

use crate::events::signature::mac;
use hmac::Mac;

/// Why a signature is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing or has no t= and v1= parts")]
    Malformed,
    #[error("the Stripe-Signature timestamp is outside the tolerance")]
    Stale,
    #[error("no v1 signature matches the payload")]
    Mismatch,
}

/// Checks `header` for `payload` at `now` (Unix seconds).
pub fn verify(
    header: &str,
    payload: &[u8],
    secret: &str,
    now: u64,
    tolerance_secs: u64,
) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<u64>().ok(),
            Some(("v1", hex_sig)) => {
                if let Ok(sig) = hex::decode(hex_sig) {
                    signatures.push(sig);
                }
            }
            _ => {}
        }
    }
    let Some(timestamp) = timestamp else {
        return Err(SignatureError::Malformed);
    };
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if now.abs_diff(timestamp) > tolerance_secs {
        return Err(SignatureError::Stale);
    }
    let expected = mac(secret, timestamp, payload);
    // `verify_slice` compares in constant time.
    let matches = signatures
        .iter()
        .any(|sig| expected.clone().verify_slice(sig).is_ok());
    if matches {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The header Stripe would send for `payload` at `timestamp` (tests, and
/// tools that replay events).
pub fn sign(payload: &[u8], secret: &str, timestamp: u64) -> String {
    let digest = mac(secret, timestamp, payload).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test";

    #[test]
    fn a_genuine_signature_passes_within_the_tolerance() {
        let header = sign(b"{\"id\":\"evt_1\"}", SECRET, 1000);
        assert_eq!(
            verify(&header, b"{\"id\":\"evt_1\"}", SECRET, 1200, 300),
            Ok(())
        );
        // A rolled secret: the new signature is one of several.
        let rolled = format!("{header},v1={}", "00".repeat(32));
        assert_eq!(
            verify(&rolled, b"{\"id\":\"evt_1\"}", SECRET, 1000, 300),
            Ok(())
        );
    }

    #[test]
    fn forged_stale_and_malformed_signatures_are_refused() {
        let body = b"{\"id\":\"evt_1\"}";
        let header = sign(body, SECRET, 1000);
        assert_eq!(
            verify(&header, b"{\"id\":\"evt_2\"}", SECRET, 1000, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&header, body, "whsec_other", 1000, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&header, body, SECRET, 1301, 300),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(&header, body, SECRET, 699, 300),
            Err(SignatureError::Stale)
        );
        for bad in ["", "t=1000", "v1=abcd", "t=x,v1=00", "garbage"] {
            assert_eq!(
                verify(bad, body, SECRET, 1000, 300),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
    }
}
