//! Idempotency receipts (`idem/<scope>_<hex>`): each keyed call leaves the
//! outcome it answered, whose type depends on the call (its scope). A
//! receipt must decode as its scope's outcome and point at what the call
//! produced: an order's receipt at an order that exists, a product's at a
//! product. Webhooks can be removed while their creation's receipt is kept,
//! so a webhook receipt is only decoded; so is a backup's (rotation deletes
//! backup files; the receipt still answers a retry). Restock receipts name nothing (a
//! digest and a time). Orders made by purchases and checkouts are their
//! own receipts (their ids derive from the key): they exist or not.

use super::records::reason;
use super::report::Report;
use super::{present, Source};
use crate::backup::BackupInfo;
use crate::domain::ProductId;
use crate::events::Webhook;
use crate::idempotency::Receipt;
use crate::order::Order;
use crate::store::{codec, keys, StoreError};

/// What a scope's receipt holds. A scope added to a keyed call belongs here.
enum Outcome {
    Order,
    Product,
    Webhook,
    Backup,
}

fn outcome_of(scope: &str) -> Option<Outcome> {
    match scope {
        "pay" | "cancel" | "admin-cancel" | "fulfil" | "ship" | "deliver" | "refund" => {
            Some(Outcome::Order)
        }
        "product" => Some(Outcome::Product),
        "webhook" => Some(Outcome::Webhook),
        "backup" => Some(Outcome::Backup),
        _ => None,
    }
}

/// The scope in a receipt key: its id is `<scope>_<hex digest>`.
fn scope_of(key: &[u8]) -> Option<&str> {
    let id = std::str::from_utf8(key.strip_prefix(keys::RECEIPT)?).ok()?;
    id.rsplit_once('_').map(|(scope, _)| scope)
}

/// Decodes a receipt as its scope's outcome (the first pass's decoder).
pub fn decode(key: &[u8], bytes: &[u8]) -> Result<(), StoreError> {
    let corrupt = |reason: &str| StoreError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        reason: reason.to_owned(),
    };
    let scope = scope_of(key).ok_or_else(|| corrupt("the key is not <scope>_<digest>"))?;
    match outcome_of(scope) {
        Some(Outcome::Order) => codec::decode_exact::<Receipt<Order>>(key, bytes).map(drop),
        Some(Outcome::Product) => codec::decode_exact::<Receipt<ProductId>>(key, bytes).map(drop),
        Some(Outcome::Webhook) => codec::decode_exact::<Receipt<Webhook>>(key, bytes).map(drop),
        Some(Outcome::Backup) => codec::decode_exact::<Receipt<BackupInfo>>(key, bytes).map(drop),
        None => Err(corrupt(&format!(
            "no keyed call leaves receipts of scope '{scope}'"
        ))),
    }
}

/// Checks that every receipt points at what its call produced.
pub fn check(source: &dyn Source, report: &mut Report) {
    let mut checked = 0;
    for (key, bytes) in source.scan(keys::RECEIPT).flatten() {
        let target = match scope_of(&key).and_then(outcome_of) {
            Some(Outcome::Order) => codec::decode_exact::<Receipt<Order>>(&key, &bytes)
                .map(|r| keys::order(r.outcome.id.as_str())),
            Some(Outcome::Product) => codec::decode_exact::<Receipt<ProductId>>(&key, &bytes)
                .map(|r| keys::product(r.outcome.as_str())),
            // Not decodable or of an unknown scope: the first pass said so.
            _ => continue,
        };
        checked += 1;
        match target {
            Ok(target) => {
                if !present(source, &target, report) {
                    let what = String::from_utf8_lossy(&target).into_owned();
                    report.problem(
                        &key,
                        format!("the receipt points at {what}, which does not exist"),
                    );
                }
            }
            Err(e) => report.problem(&key, reason(&e)),
        }
    }
    report.fact("receipts pointing at an order or a product", checked);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scope_is_what_precedes_the_digest() {
        assert_eq!(scope_of(b"idem/admin-cancel_00ff"), Some("admin-cancel"));
        assert_eq!(scope_of(b"idem/pay_00ff"), Some("pay"));
        assert_eq!(scope_of(b"idem/nodigest"), None);
        assert!(outcome_of("bump").is_none());
    }
}
