//! After the drop: who got the units, read back from the server (the
//! admin order list, every page), and the invariants, checked against
//! what the clients saw.
//!
//! Beyond each SKU's levels (`available + reserved + sold == stocked`, no
//! oversell, every acknowledged unit held or sold): every acknowledged
//! order is on the server; no customer holds more than the sale's limit;
//! no unit went to a bot without a valid token; every buyer had been
//! admitted (only the run's clients hold tokens, and they show the bench
//! every admission they see); and the admissions given, less those that
//! lapsed unused, never exceed the stock.

use super::context::Context;
use super::identity::{Actor, Identities};
use super::session::Observed;
use crate::bench::client::{Call, Connection};
use crate::bench::report::{levels, Invariants};
use crate::bench::target::Target;
use crate::clock::{Clock, SystemClock};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Pages of 200 orders read at most (two million orders).
const ORDER_PAGES_MAX: usize = 10_000;

/// An order as the admin list shows it (the fields the audit reads).
#[derive(Debug, Clone, Deserialize)]
pub struct Order {
    pub order_id: String,
    pub status: String,
    pub sku: Option<String>,
    pub quantity: Option<u64>,
    pub customer_id: Option<String>,
}

#[derive(Deserialize)]
struct Page {
    items: Vec<Order>,
    next_cursor: Option<String>,
}

/// Units each kind of actor holds, and what the admissions came to.
#[derive(Debug, Default, Serialize)]
pub struct Audit {
    /// Units in the SKU's live orders, by kind of actor (`others`: not
    /// this run's customers).
    pub units: BTreeMap<&'static str, u64>,
    /// Tickets seen admitted, and those whose admission lapsed unused.
    pub admissions_seen: u64,
    pub admissions_lapsed: u64,
    pub invariants: Invariants,
}

/// Reads the run's orders and levels back and checks them.
pub async fn audit(
    ctx: &Context,
    target: &Target,
    seen: &Observed,
    limit: u64,
) -> anyhow::Result<Audit> {
    let orders: Vec<Order> = read_orders(target)
        .await?
        .into_iter()
        .filter(|o| o.sku.as_deref() == Some(ctx.sku.as_str()))
        .collect();
    let mut conn = Connection::open(target.addr).await?;
    let levels = levels(&mut conn, target, &ctx.sku).await?;
    let acknowledged: HashSet<&str> = seen.orders.iter().map(|(id, _)| id.as_str()).collect();
    let mut audit = Audit::default();
    audit
        .invariants
        .add(&ctx.sku, &levels, acknowledged.len() as u64);
    let live: Vec<&Order> = orders.iter().filter(|o| is_live(o)).collect();
    let mut by_customer: HashMap<&str, u64> = HashMap::new();
    for order in &live {
        let units = order.quantity.unwrap_or(0);
        let customer = order.customer_id.as_deref().unwrap_or_default();
        *by_customer.entry(customer).or_default() += units;
        let kind = ctx.ids.actor_of(customer).map_or("others", Actor::name);
        *audit.units.entry(kind).or_default() += units;
    }
    let known: HashSet<&str> = orders.iter().map(|o| o.order_id.as_str()).collect();
    let violations = &mut audit.invariants.violations;
    violations.extend(missing(&acknowledged, &known));
    violations.extend(over_limit(&by_customer, limit));
    violations.extend(tokenless(&ctx.ids, &by_customer));
    let admitted = admitted(seen);
    violations.extend(unadmitted(&by_customer, &admitted));
    let lapsed = lapsed(&admitted, &by_customer, SystemClock.now_ms());
    audit.admissions_seen = admitted.len() as u64;
    audit.admissions_lapsed = lapsed;
    if audit.admissions_seen - lapsed > levels.stocked {
        violations.push(format!(
            "{} admissions given ({lapsed} lapsed unused) for {} units",
            audit.admissions_seen, levels.stocked
        ));
    }
    Ok(audit)
}

/// Every order on the server, page by page.
async fn read_orders(target: &Target) -> anyhow::Result<Vec<Order>> {
    let mut conn = Connection::open(target.addr).await?;
    let (mut orders, mut cursor) = (Vec::new(), None::<String>);
    for _ in 0..ORDER_PAGES_MAX {
        let mut path = "/v1/admin/orders?limit=200".to_owned();
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let call = Call {
            bearer: Some(target.admin_token.clone()),
            ..Call::get(path)
        };
        let (status, body) = conn.send(&call).await?;
        if !status.is_success() {
            anyhow::bail!("reading the orders: {status}");
        }
        let page: Page = serde_json::from_slice(&body)?;
        orders.extend(page.items);
        cursor = page.next_cursor;
        if cursor.is_none() {
            return Ok(orders);
        }
    }
    anyhow::bail!("more than {ORDER_PAGES_MAX} pages of orders: not read to the end")
}

/// Whether an order still holds its units (not cancelled, expired or
/// refunded).
fn is_live(order: &Order) -> bool {
    !matches!(order.status.as_str(), "cancelled" | "expired" | "refunded")
}

fn missing(acknowledged: &HashSet<&str>, known: &HashSet<&str>) -> Vec<String> {
    let mut lost: Vec<_> = acknowledged.difference(known).collect();
    lost.sort();
    lost.iter()
        .map(|id| format!("order {id} was acknowledged but is not on the server"))
        .collect()
}

fn over_limit(by_customer: &HashMap<&str, u64>, limit: u64) -> Vec<String> {
    by_customer
        .iter()
        .filter(|(_, &units)| units > limit)
        .map(|(customer, units)| format!("{customer} holds {units} units; the limit is {limit}"))
        .collect()
}

/// Units held by bots that had no valid token.
fn tokenless(ids: &Identities, by_customer: &HashMap<&str, u64>) -> Vec<String> {
    by_customer
        .iter()
        .filter(|(c, _)| matches!(ids.actor_of(c), Some(Actor::NoToken | Actor::Forged)))
        .map(|(customer, units)| format!("{customer} got {units} units without a valid token"))
        .collect()
}

/// Each admitted ticket once: its customer and when its admission expires.
fn admitted(seen: &Observed) -> HashMap<&str, (&str, u64)> {
    seen.admissions
        .iter()
        .map(|a| (a.ticket.as_str(), (a.customer.as_str(), a.expires_ms)))
        .collect()
}

/// Buyers no client saw admitted: the waiting room was bypassed.
fn unadmitted(
    by_customer: &HashMap<&str, u64>,
    admitted: &HashMap<&str, (&str, u64)>,
) -> Vec<String> {
    let admitted: HashSet<&str> = admitted.values().map(|(c, _)| *c).collect();
    by_customer
        .keys()
        .filter(|c| !admitted.contains(*c))
        .map(|c| format!("{c} bought without an admission"))
        .collect()
}

/// Admissions that expired (by `now_ms`, server time) without a purchase.
fn lapsed(
    admitted: &HashMap<&str, (&str, u64)>,
    by_customer: &HashMap<&str, u64>,
    now_ms: u64,
) -> u64 {
    admitted
        .values()
        .filter(|(customer, expires)| *expires <= now_ms && !by_customer.contains_key(customer))
        .count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::drop::session::Admission;

    fn admission(ticket: &str, customer: &str, expires_ms: u64) -> Admission {
        Admission {
            ticket: ticket.into(),
            customer: customer.into(),
            expires_ms,
        }
    }

    #[test]
    fn a_customer_over_the_limit_and_a_tokenless_buyer_are_violations() {
        let ids = Identities::new("r9", "a-test-secret-of-at-least-32-bytes!!");
        let (human, forged) = (
            ids.customer(Actor::Human, 1),
            ids.customer(Actor::Forged, 2),
        );
        let no_token = ids.customer(Actor::NoToken, 3);
        let units = HashMap::from([
            (human.as_str(), 2),
            (forged.as_str(), 1),
            (no_token.as_str(), 1),
        ]);
        assert_eq!(
            over_limit(&units, 1),
            [format!("{human} holds 2 units; the limit is 1")]
        );
        assert!(over_limit(&units, 2).is_empty());
        let mut bots = tokenless(&ids, &units);
        bots.sort();
        assert_eq!(bots.len(), 2, "{bots:?}");
        assert!(bots.iter().all(|v| v.contains("without a valid token")));
    }

    #[test]
    fn buyers_must_have_been_seen_admitted_and_unused_expired_admissions_lapse() {
        let seen = Observed {
            admissions: vec![
                admission("t1", "a", 100),
                admission("t1", "a", 100),
                admission("t2", "b", 100),
                admission("t3", "c", 900),
            ],
            ..Observed::default()
        };
        let admitted = admitted(&seen);
        assert_eq!(admitted.len(), 3, "each ticket once");
        let buyers = HashMap::from([("a", 1), ("d", 1)]);
        assert_eq!(
            unadmitted(&buyers, &admitted),
            ["d bought without an admission"]
        );
        // b's expired unused; c's has not expired yet; a bought.
        assert_eq!(lapsed(&admitted, &buyers, 500), 1);
        assert_eq!(lapsed(&admitted, &buyers, 1000), 2);
    }

    #[test]
    fn an_acknowledged_order_missing_on_the_server_is_a_violation() {
        let acknowledged = HashSet::from(["ord_1", "ord_2"]);
        let known = HashSet::from(["ord_1", "ord_3"]);
        assert_eq!(
            missing(&acknowledged, &known),
            ["order ord_2 was acknowledged but is not on the server"]
        );
        assert!(missing(&HashSet::from(["ord_3"]), &known).is_empty());
    }

    #[test]
    fn only_orders_that_hold_units_are_live() {
        let order = |status: &str| Order {
            order_id: "ord_1".into(),
            status: status.into(),
            sku: None,
            quantity: Some(1),
            customer_id: None,
        };
        assert!(is_live(&order("awaiting_payment")));
        assert!(is_live(&order("paid")));
        for gone in ["cancelled", "expired", "refunded"] {
            assert!(!is_live(&order(gone)), "{gone}");
        }
    }
}
