//! Stock: for every SKU, `available + reserved + sold == stocked`, its holds
//! (own keys `hold/<sku>/<holder>` and pages `hpage/<sku>/<n>`) add up to
//! `reserved`, no holder holds twice, and the per-customer bought counts
//! (`cust/<sku>/<customer>`) add up to no more than `sold` (a refund of an
//! anonymous sale lowers `sold` alone). What the holds are for, and what
//! `sold` is made of, is the orders' part.

use super::report::Report;
use super::Source;
use crate::inventory::{Hold, Levels, SkuRecord};
use crate::store::{codec, keys};
use std::collections::{BTreeMap, HashMap, HashSet};

/// What the check learned about one SKU.
#[derive(Debug)]
pub struct SkuFacts {
    pub product_id: String,
    pub levels: Levels,
    /// Units its holds add up to.
    pub held: u64,
    /// Units its per-customer counts add up to.
    pub bought_by_customers: u64,
}

/// Every SKU with a readable record, by SKU, and every hold, by SKU and
/// holder, with its units.
#[derive(Debug, Default)]
pub struct Stock {
    pub skus: BTreeMap<String, SkuFacts>,
    pub holds: HashMap<(String, String), u64>,
    /// SKUs whose record does not decode (already a problem): what refers
    /// to them is not reported again as referring to nothing.
    pub unreadable: HashSet<String>,
}

impl Stock {
    /// Whether `sku` has a record, readable or not.
    pub fn has(&self, sku: &str) -> bool {
        self.skus.contains_key(sku) || self.unreadable.contains(sku)
    }
}

/// Reads the SKUs, their holds and customer counts, and checks each SKU's
/// counters.
pub fn check(source: &dyn Source, report: &mut Report) -> Stock {
    let mut stock = Stock::default();
    for (key, bytes) in source.scan(keys::INVENTORY).flatten() {
        let sku = String::from_utf8_lossy(&key[keys::INVENTORY.len()..]).into_owned();
        let Ok(record) = codec::decode_exact::<SkuRecord>(&key, &bytes) else {
            stock.unreadable.insert(sku); // the first pass named it
            continue;
        };
        check_levels(&key, &record.levels, report);
        stock.skus.insert(
            sku,
            SkuFacts {
                product_id: record.product_id.as_str().to_owned(),
                levels: record.levels,
                held: 0,
                bought_by_customers: 0,
            },
        );
    }
    read_own_holds(source, &mut stock, report);
    read_hold_pages(source, &mut stock, report);
    read_customer_counts(source, &mut stock, report);
    for (sku, facts) in &stock.skus {
        let key = keys::inventory(sku);
        if facts.held != facts.levels.reserved {
            report.problem(
                &key,
                format!(
                    "its holds add up to {} units but reserved is {}",
                    facts.held, facts.levels.reserved
                ),
            );
        }
        if facts.bought_by_customers > facts.levels.sold {
            report.problem(
                &key,
                format!(
                    "customers are counted as having bought {} units but sold is {}",
                    facts.bought_by_customers, facts.levels.sold
                ),
            );
        }
    }
    report.fact("skus checked", stock.skus.len() as u64);
    report.fact("holds", stock.holds.len() as u64);
    stock
}

fn check_levels(key: &[u8], l: &Levels, report: &mut Report) {
    let sum = l
        .available
        .checked_add(l.reserved)
        .and_then(|n| n.checked_add(l.sold));
    if sum != Some(l.stocked) {
        report.problem(
            key,
            format!(
                "available {} + reserved {} + sold {} != stocked {}",
                l.available, l.reserved, l.sold, l.stocked
            ),
        );
    }
}

/// The SKU and the rest of a key `<prefix><sku>/<rest>` ('/' cannot occur in a SKU).
fn split(key: &[u8], prefix: &[u8]) -> Option<(String, Vec<u8>)> {
    let rest = key.strip_prefix(prefix)?;
    let slash = rest.iter().position(|&b| b == b'/')?;
    let sku = std::str::from_utf8(&rest[..slash]).ok()?.to_owned();
    Some((sku, rest[slash + 1..].to_vec()))
}

fn read_own_holds(source: &dyn Source, stock: &mut Stock, report: &mut Report) {
    for (key, bytes) in source.scan(keys::HOLD).flatten() {
        let Ok(hold) = codec::decode_exact::<Hold>(&key, &bytes) else {
            continue;
        };
        let Some((sku, holder)) = split(&key, keys::HOLD) else {
            report.problem(&key, "not a hold key (hold/<sku>/<holder>)");
            continue;
        };
        if holder != hold.holder.as_str().as_bytes() {
            report.problem(&key, format!("the hold inside is {}'s", hold.holder));
        }
        add_hold(stock, &key, &sku, &hold, report);
    }
}

fn read_hold_pages(source: &dyn Source, stock: &mut Stock, report: &mut Report) {
    for (key, bytes) in source.scan(keys::HOLD_PAGE).flatten() {
        let Ok(page) = codec::decode_exact::<Vec<Hold>>(&key, &bytes) else {
            continue;
        };
        let Some((sku, _)) = split(&key, keys::HOLD_PAGE).filter(|(_, n)| n.len() == 8) else {
            report.problem(&key, "not a hold page key (hpage/<sku>/<8-byte number>)");
            continue;
        };
        if page.is_empty() {
            report.problem(&key, "an empty hold page (an emptied page is removed)");
        }
        for hold in &page {
            add_hold(stock, &key, &sku, hold, report);
        }
    }
}

fn add_hold(stock: &mut Stock, key: &[u8], sku: &str, hold: &Hold, report: &mut Report) {
    if hold.quantity == 0 {
        report.problem(key, format!("{}'s hold is of 0 units", hold.holder));
    }
    let holder = (sku.to_owned(), hold.holder.as_str().to_owned());
    if stock.holds.insert(holder, hold.quantity).is_some() {
        report.problem(key, format!("{} holds SKU {sku} twice", hold.holder));
    }
    match stock.skus.get_mut(sku) {
        Some(facts) => facts.held = facts.held.saturating_add(hold.quantity),
        None if stock.unreadable.contains(sku) => {}
        None => report.problem(
            key,
            format!(
                "a hold by {} on SKU {sku}, which has no inv/ record",
                hold.holder
            ),
        ),
    }
}

fn read_customer_counts(source: &dyn Source, stock: &mut Stock, report: &mut Report) {
    for (key, bytes) in source.scan(keys::CUSTOMER).flatten() {
        let Ok(units) = codec::decode_exact::<u64>(&key, &bytes) else {
            continue;
        };
        let Some((sku, _)) = split(&key, keys::CUSTOMER) else {
            report.problem(&key, "not a customer count key (cust/<sku>/<customer>)");
            continue;
        };
        if units == 0 {
            report.problem(
                &key,
                "a customer count of 0 (a count that reaches 0 is removed)",
            );
        }
        match stock.skus.get_mut(&sku) {
            Some(facts) => {
                facts.bought_by_customers = facts.bought_by_customers.saturating_add(units)
            }
            None if stock.unreadable.contains(&sku) => {}
            None => report.problem(
                &key,
                format!("a customer count on SKU {sku}, which has no inv/ record"),
            ),
        }
    }
}
