//! The key layout. One tree, one short prefix per record kind; numeric parts
//! are big-endian so that byte order is numeric order.

/// Catalog products, by product id.
pub const PRODUCT: &[u8] = b"prod/";
/// Per-SKU inventory records, by SKU.
pub const INVENTORY: &[u8] = b"inv/";
/// Stock holds one per key, by SKU then holder: `hold/<sku>/<holder>`
/// (written by releases before hold pages; still read).
pub const HOLD: &[u8] = b"hold/";
/// Pages of stock holds, by SKU then page: `hpage/<sku>/<page>`.
pub const HOLD_PAGE: &[u8] = b"hpage/";
/// Units sold per customer, by SKU then customer: `cust/<sku>/<customer>`.
pub const CUSTOMER: &[u8] = b"cust/";
/// Orders, by order id.
pub const ORDER: &[u8] = b"ord/";
/// Cancellations of paid orders still returning stock, by order id.
pub const CANCELLATION: &[u8] = b"cancel/";
/// Checkouts in progress (the saga's durable state), by order id.
pub const CHECKOUT: &[u8] = b"checkout/";
/// Receipts of admin restocks sent with an Idempotency-Key, by receipt id.
pub const RESTOCK: &[u8] = b"restock/";
/// Receipts of the other keyed calls (pay, refund, …), by receipt id.
pub const RECEIPT: &[u8] = b"idem/";
/// Carts, by cart id.
pub const CART: &[u8] = b"cart/";
/// Business events waiting for delivery, by sequence number.
pub const OUTBOX: &[u8] = b"outbox/";
/// Registered webhook endpoints, by webhook id.
pub const WEBHOOK: &[u8] = b"hook/";
/// The first event sequence number of each webhook, by webhook id.
pub const WEBHOOK_FROM: &[u8] = b"hook_from/";
/// Events on their way to one webhook: `dlv/<webhook>/<seq>`.
pub const DELIVERY: &[u8] = b"dlv/";
/// Deliveries that ran out of tries: `dead/<webhook>/<seq>`.
pub const DEAD_LETTER: &[u8] = b"dead/";
/// Records set aside because they could not be decoded, under their
/// original key: `quarantine/<key>`.
pub const QUARANTINE: &[u8] = b"quarantine/";
/// The highest event sequence number delivery has removed from the outbox.
pub const OUTBOX_SEQ: &[u8] = b"meta/outbox_seq";
/// The secret that turns Idempotency-Keys into order ids.
pub const IDEMPOTENCY_SECRET: &[u8] = b"meta/idempotency_secret";
/// Set once the seed catalog has been loaded, so a restart never re-seeds.
pub const SEEDED: &[u8] = b"meta/seeded";
/// Waiting rooms (their rule and state), by SKU: `queue/<sku>`.
pub const QUEUE: &[u8] = b"queue/";
/// Waiting-room tickets, by SKU, then the queue's generation (big-endian),
/// then ticket id: `qticket/<sku>/<generation><ticket>`.
pub const QUEUE_TICKET: &[u8] = b"qticket/";
/// The sequence number of the last group commit (written in every batch).
pub const COMMIT_SEQ: &[u8] = b"meta/commit_seq";
/// Stripe webhook events already applied, by event id (kept for the
/// receipts' retention).
pub const STRIPE_EVENT: &[u8] = b"stripe_evt/";
/// Group commits not yet indexed, by commit sequence then part (both
/// big-endian): `jrnl/<seq><part>` (see `store::journal`).
pub const JOURNAL: &[u8] = b"jrnl/";
/// The secret that signs waiting-room admissions.
pub const ADMISSION_SECRET: &[u8] = b"meta/admission_secret";

fn join(prefix: &[u8], id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(prefix.len() + id.len());
    key.extend_from_slice(prefix);
    key.extend_from_slice(id.as_bytes());
    key
}

pub fn product(id: &str) -> Vec<u8> {
    join(PRODUCT, id)
}

pub fn inventory(sku: &str) -> Vec<u8> {
    join(INVENTORY, sku)
}

pub fn cancellation(order: &str) -> Vec<u8> {
    join(CANCELLATION, order)
}

pub fn checkout(order: &str) -> Vec<u8> {
    join(CHECKOUT, order)
}

pub fn restock(receipt: &str) -> Vec<u8> {
    join(RESTOCK, receipt)
}

pub fn receipt(id: &str) -> Vec<u8> {
    join(RECEIPT, id)
}

pub fn stripe_event(id: &str) -> Vec<u8> {
    join(STRIPE_EVENT, id)
}

pub fn cart(id: &str) -> Vec<u8> {
    join(CART, id)
}

pub fn order(id: &str) -> Vec<u8> {
    join(ORDER, id)
}

/// The prefix of every hold on `sku` ('/' cannot occur in a SKU).
pub fn holds_of(sku: &str) -> Vec<u8> {
    let mut key = join(HOLD, sku);
    key.push(b'/');
    key
}

pub fn hold(sku: &str, holder: &str) -> Vec<u8> {
    let mut key = holds_of(sku);
    key.extend_from_slice(holder.as_bytes());
    key
}

/// The prefix of every hold page of `sku`.
pub fn hold_pages_of(sku: &str) -> Vec<u8> {
    let mut key = join(HOLD_PAGE, sku);
    key.push(b'/');
    key
}

pub fn hold_page(sku: &str, page: u64) -> Vec<u8> {
    numbered(&hold_pages_of(sku), page)
}

/// The prefix of every per-customer count on `sku`.
pub fn customers_of(sku: &str) -> Vec<u8> {
    let mut key = join(CUSTOMER, sku);
    key.push(b'/');
    key
}

pub fn customer(sku: &str, customer: &str) -> Vec<u8> {
    let mut key = customers_of(sku);
    key.extend_from_slice(customer.as_bytes());
    key
}

pub fn queue(sku: &str) -> Vec<u8> {
    join(QUEUE, sku)
}

/// The prefix of every ticket of `sku`'s waiting room, of any generation.
pub fn queue_tickets_of(sku: &str) -> Vec<u8> {
    let mut key = join(QUEUE_TICKET, sku);
    key.push(b'/');
    key
}

/// The prefix of the tickets of one generation of `sku`'s waiting room.
pub fn queue_generation(sku: &str, generation: u64) -> Vec<u8> {
    numbered(&queue_tickets_of(sku), generation)
}

pub fn queue_ticket(sku: &str, generation: u64, ticket: &str) -> Vec<u8> {
    let mut key = queue_generation(sku, generation);
    key.extend_from_slice(ticket.as_bytes());
    key
}

pub fn webhook_from(id: &str) -> Vec<u8> {
    join(WEBHOOK_FROM, id)
}

pub fn quarantined(key: &[u8]) -> Vec<u8> {
    [QUARANTINE, key].concat()
}

pub fn webhook(id: &str) -> Vec<u8> {
    join(WEBHOOK, id)
}

/// The prefix of every key of `webhook` under `prefix` (`DELIVERY` or
/// `DEAD_LETTER`).
pub fn of_webhook(prefix: &[u8], webhook: &str) -> Vec<u8> {
    let mut key = join(prefix, webhook);
    key.push(b'/');
    key
}

/// The delivery (or dead letter, by `prefix`) of event `seq` to `webhook`.
pub fn webhook_event(prefix: &[u8], webhook: &str, seq: u64) -> Vec<u8> {
    numbered(&of_webhook(prefix, webhook), seq)
}

/// A numeric key: `prefix` then `n` in big-endian, so scans run in order.
pub fn numbered(prefix: &[u8], n: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(prefix.len() + 8);
    key.extend_from_slice(prefix);
    key.extend_from_slice(&n.to_be_bytes());
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_keys_sort_numerically() {
        let mut keys: Vec<Vec<u8>> = [256u64, 1, 65_536, 2]
            .iter()
            .map(|&n| numbered(b"x/", n))
            .collect();
        keys.sort();
        let expected: Vec<Vec<u8>> = [1u64, 2, 256, 65_536]
            .iter()
            .map(|&n| numbered(b"x/", n))
            .collect();
        assert_eq!(keys, expected);
    }
}
