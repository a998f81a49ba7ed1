//! The first pass: every record in the store, whatever its kind, is read
//! and decoded as the type its prefix says, exactly (no byte left over). A
//! key under no known prefix is a problem too: nothing in this build wrote
//! it. sled verifies the CRC-32 of every log message it reads, so a page
//! whose bytes changed on disk fails here as a read error.

use super::receipts;
use super::report::Report;
use super::Source;
use crate::store::{codec, keys, StoreError};
use serde::de::DeserializeOwned;

/// Decodes one record of a kind; the decoded value is dropped.
type Decode = fn(&[u8], &[u8]) -> Result<(), StoreError>;

/// A kind of record: the keys it lives under and its type.
struct Kind {
    prefix: &'static [u8],
    /// Whether `prefix` is the whole key (the `meta/` singletons).
    whole_key: bool,
    name: &'static str,
    decode: Decode,
}

fn exact<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<(), StoreError> {
    codec::decode_exact::<T>(key, bytes).map(drop)
}

/// Quarantined records are kept as they were found: not decodable.
fn kept(_: &[u8], _: &[u8]) -> Result<(), StoreError> {
    Ok(())
}

const fn under(prefix: &'static [u8], name: &'static str, decode: Decode) -> Kind {
    Kind {
        prefix,
        whole_key: false,
        name,
        decode,
    }
}

const fn single(key: &'static [u8], name: &'static str, decode: Decode) -> Kind {
    Kind {
        prefix: key,
        whole_key: true,
        name,
        decode,
    }
}

/// Every kind of record, with the type it is written with (see
/// `store::keys`). A new prefix in `keys` belongs here too.
const KINDS: &[Kind] = &[
    under(keys::PRODUCT, "products", exact::<crate::catalog::Product>),
    under(
        keys::INVENTORY,
        "skus",
        exact::<crate::inventory::SkuRecord>,
    ),
    under(keys::HOLD, "holds", exact::<crate::inventory::Hold>),
    under(
        keys::HOLD_PAGE,
        "hold pages",
        exact::<Vec<crate::inventory::Hold>>,
    ),
    under(keys::CUSTOMER, "customer counts", exact::<u64>),
    under(keys::ORDER, "orders", exact::<crate::order::Order>),
    under(
        keys::CANCELLATION,
        "cancellations",
        exact::<crate::order::Cancellation>,
    ),
    under(
        keys::CHECKOUT,
        "checkouts",
        exact::<crate::checkout::CheckoutRecord>,
    ),
    under(
        keys::RESTOCK,
        "restock receipts",
        exact::<crate::inventory::RestockReceipt>,
    ),
    under(keys::RECEIPT, "receipts", receipts::decode),
    under(
        keys::STRIPE_EVENT,
        "stripe events",
        exact::<crate::payment_events::SeenEvent>,
    ),
    under(keys::CART, "carts", exact::<crate::cart::Cart>),
    under(keys::OUTBOX, "events", exact::<crate::events::Event>),
    under(keys::WEBHOOK, "webhooks", exact::<crate::events::Webhook>),
    under(keys::WEBHOOK_FROM, "webhook starts", exact::<u64>),
    under(
        keys::DELIVERY,
        "deliveries",
        exact::<crate::events::Delivery>,
    ),
    under(
        keys::DEAD_LETTER,
        "dead letters",
        exact::<crate::events::Delivery>,
    ),
    under(keys::QUARANTINE, "quarantined", kept),
    // Only what could not be indexed is left in a copy's journal.
    under(keys::JOURNAL, "unindexed commits", journaled),
    under(
        keys::QUEUE,
        "waiting rooms",
        exact::<crate::queue::QueueRecord>,
    ),
    under(
        keys::QUEUE_TICKET,
        "tickets",
        exact::<crate::queue::TicketRecord>,
    ),
    single(keys::OUTBOX_SEQ, "meta", exact::<u64>),
    single(keys::IDEMPOTENCY_SECRET, "meta", exact::<[u8; 32]>),
    single(keys::ADMISSION_SECRET, "meta", exact::<[u8; 32]>),
    single(keys::SEEDED, "meta", exact::<bool>),
    single(keys::COMMIT_SEQ, "meta", exact::<u64>),
];

fn journaled(key: &[u8], bytes: &[u8]) -> Result<(), StoreError> {
    crate::store::journal::decode(key, bytes).map(drop)
}

fn kind_of(key: &[u8]) -> Option<&'static Kind> {
    KINDS.iter().find(|k| match k.whole_key {
        true => key == k.prefix,
        false => key.starts_with(k.prefix),
    })
}

/// Reads every record once. Returns whether the read reached the end (a
/// read error from sled stops it: what follows cannot be trusted).
pub fn decode_all(source: &dyn Source, report: &mut Report) -> bool {
    let mut last: Option<Vec<u8>> = None;
    for item in source.scan(b"") {
        let (key, value) = match item {
            Ok(record) => record,
            Err(e) => {
                let after = last.as_deref().unwrap_or(b"(the first key)");
                report.problem(
                    after,
                    format!("sled cannot read the records after this key: {e}"),
                );
                return false;
            }
        };
        match kind_of(&key) {
            None => report.problem(
                &key,
                "no kind of record has this key; this build never writes it",
            ),
            Some(kind) => {
                report.count(kind.name);
                if let Err(e) = (kind.decode)(&key, &value) {
                    report.problem(
                        &key,
                        format!("does not decode as one of {}: {}", kind.name, reason(&e)),
                    );
                }
            }
        }
        last = Some(key);
    }
    if let Some(n) = report.records.get("quarantined").copied() {
        report.note(format!(
            "{n} record(s) under quarantine/: events or deliveries that could not be decoded were set aside there, bytes intact"
        ));
    }
    true
}

/// The reason in a decoding error, without the key the problem already names.
pub fn reason(e: &StoreError) -> String {
    match e {
        StoreError::Corrupt { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_prefix_has_one_kind() {
        for prefix in [
            keys::PRODUCT,
            keys::INVENTORY,
            keys::HOLD,
            keys::HOLD_PAGE,
            keys::CUSTOMER,
            keys::ORDER,
            keys::CANCELLATION,
            keys::CHECKOUT,
            keys::RESTOCK,
            keys::RECEIPT,
            keys::STRIPE_EVENT,
            keys::CART,
            keys::OUTBOX,
            keys::WEBHOOK,
            keys::WEBHOOK_FROM,
            keys::DELIVERY,
            keys::DEAD_LETTER,
            keys::QUARANTINE,
            keys::QUEUE,
            keys::QUEUE_TICKET,
            keys::JOURNAL,
        ] {
            let key = [prefix, b"x"].concat();
            let found: Vec<_> = KINDS
                .iter()
                .filter(|k| !k.whole_key && key.starts_with(k.prefix))
                .collect();
            assert_eq!(found.len(), 1, "{}", String::from_utf8_lossy(prefix));
        }
        assert!(kind_of(b"meta/outbox_seq").is_some());
        assert!(kind_of(b"meta/other").is_none());
        assert!(kind_of(b"zzz/1").is_none());
    }
}
