//! Orders and the units they account for: every order's units are a hold
//! or a sale, and every hold and every sold unit belongs to something.
//!
//! - An order awaiting payment holds its one line's units on its SKU, under
//!   its own id as the holder.
//! - A paid order (paid, fulfilled, shipped, delivered, or refunded: a
//!   refund returns money, not stock) has its lines sold, except while its
//!   checkout is still recorded (`checkout/<id>`): then only the lines the
//!   checkout says it sold.
//! - A cancelled order's lines are no longer sold, except those its
//!   cancellation record (`cancel/<id>`) still has to return.
//! - An expired order accounts for nothing.
//!
//! So per SKU, `sold` equals what the orders account for, and every hold is
//! an unpaid order's or a cart's.

use super::report::Report;
use super::stock::Stock;
use super::{present, Source};
use crate::checkout::{CheckoutRecord, CheckoutStep};
use crate::order::{Cancellation, Order, OrderStatus};
use crate::store::{codec, keys};
use std::collections::{HashMap, HashSet};

/// What the records beside the orders say about them.
struct Pending {
    /// Lines each cancellation still has to return, by order id.
    cancellations: HashMap<String, Vec<usize>>,
    /// Lines each recorded checkout has sold, by order id.
    checkouts: HashMap<String, usize>,
    /// How many of either do not decode.
    unreadable: u64,
}

/// What the orders account for.
#[derive(Default)]
struct Accounted {
    /// Sold units per SKU.
    sold: HashMap<String, u64>,
    /// (SKU, holder) pairs of the orders awaiting payment, held or not.
    order_holds: HashSet<(String, String)>,
    orders: u64,
    awaiting: u64,
    /// Orders, cancellations and checkouts that do not decode (already
    /// problems): what they account for is unknown.
    unreadable: HashSet<String>,
}

pub fn check(source: &dyn Source, stock: &Stock, report: &mut Report) {
    let mut pending = Pending {
        cancellations: HashMap::new(),
        checkouts: HashMap::new(),
        unreadable: 0,
    };
    read_cancellations(source, &mut pending, report);
    read_checkouts(source, &mut pending, report);
    let mut accounted = Accounted::default();
    for (key, bytes) in source.scan(keys::ORDER).flatten() {
        let Ok(order) = codec::decode_exact::<Order>(&key, &bytes) else {
            let id = String::from_utf8_lossy(&key[keys::ORDER.len()..]).into_owned();
            accounted.unreadable.insert(id);
            continue;
        };
        if key[keys::ORDER.len()..] != *order.id.as_str().as_bytes() {
            report.problem(&key, format!("the order inside is {}", order.id));
        }
        account(&key, &order, &pending, stock, &mut accounted, report);
    }
    let unreadable = pending.unreadable + accounted.unreadable.len() as u64;
    if unreadable > 0 {
        report.note(format!("sold was not compared with the orders: {unreadable} order, cancellation or checkout record(s) cannot be read"));
    }
    for (sku, facts) in stock.skus.iter().filter(|_| unreadable == 0) {
        let by_orders = accounted.sold.get(sku).copied().unwrap_or(0);
        if by_orders != facts.levels.sold {
            report.problem(
                &keys::inventory(sku),
                format!(
                    "sold is {} but orders account for {by_orders} sold units",
                    facts.levels.sold
                ),
            );
        }
    }
    check_holders(source, stock, &accounted, report);
    report.fact("orders checked", accounted.orders);
    report.fact("orders awaiting payment", accounted.awaiting);
}

/// Adds what one order accounts for, checking its hold if it awaits payment.
fn account(
    key: &[u8],
    order: &Order,
    pending: &Pending,
    stock: &Stock,
    accounted: &mut Accounted,
    report: &mut Report,
) {
    accounted.orders += 1;
    let id = order.id.as_str();
    let status = order.status();
    if pending.cancellations.contains_key(id) && status != OrderStatus::Cancelled {
        report.problem(
            &keys::cancellation(id),
            format!("a cancellation of an order that is {}", status.as_str()),
        );
    }
    let sold_lines: Vec<usize> = match status {
        OrderStatus::AwaitingPayment => {
            accounted.awaiting += 1;
            check_unpaid(key, order, stock, accounted, report);
            return;
        }
        s if s.is_paid() || s == OrderStatus::Refunded => {
            let sold = pending
                .checkouts
                .get(id)
                .copied()
                .unwrap_or(order.lines.len());
            (0..sold).collect()
        }
        OrderStatus::Cancelled => pending.cancellations.get(id).cloned().unwrap_or_default(),
        _ => Vec::new(),
    };
    for index in sold_lines {
        let Some(line) = order.lines.get(index) else {
            report.problem(
                key,
                format!(
                    "line {index} is said to be sold, and the order has {} lines",
                    order.lines.len()
                ),
            );
            continue;
        };
        let sku = line.sku.as_str();
        if !stock.has(sku) {
            report.problem(
                key,
                format!("sold units of SKU {sku}, which has no inv/ record"),
            );
        }
        let units = accounted.sold.entry(sku.to_owned()).or_default();
        *units = units.saturating_add(line.quantity);
    }
}

/// An order awaiting payment holds its one line's units under its id.
fn check_unpaid(
    key: &[u8],
    order: &Order,
    stock: &Stock,
    accounted: &mut Accounted,
    report: &mut Report,
) {
    let [line] = order.lines.as_slice() else {
        report.problem(
            key,
            format!(
                "awaits payment with {} lines (a purchase has one)",
                order.lines.len()
            ),
        );
        return;
    };
    let pair = (line.sku.as_str().to_owned(), order.id.as_str().to_owned());
    match stock.holds.get(&pair) {
        Some(&units) if units == line.quantity => {}
        Some(&units) => report.problem(
            key,
            format!(
                "awaits payment for {} units of {} but holds {units}",
                line.quantity, line.sku
            ),
        ),
        None => report.problem(
            key,
            format!("awaits payment but holds nothing on {}", line.sku),
        ),
    }
    accounted.order_holds.insert(pair);
}

/// Every hold that no unpaid order accounts for must be a cart's.
fn check_holders(source: &dyn Source, stock: &Stock, accounted: &Accounted, report: &mut Report) {
    for pair @ (sku, holder) in stock.holds.keys() {
        if accounted.order_holds.contains(pair) || accounted.unreadable.contains(holder) {
            continue;
        }
        let at = keys::inventory(sku);
        if present(source, &keys::order(holder), report) {
            report.problem(
                &at,
                format!("held by order {holder}, which is not awaiting payment"),
            );
        } else if !present(source, &keys::cart(holder), report) {
            report.problem(
                &at,
                format!("held by {holder}, which is neither an order nor a cart"),
            );
        }
    }
}

fn read_cancellations(source: &dyn Source, pending: &mut Pending, report: &mut Report) {
    for (key, bytes) in source.scan(keys::CANCELLATION).flatten() {
        let Ok(c) = codec::decode_exact::<Cancellation>(&key, &bytes) else {
            pending.unreadable += 1;
            continue;
        };
        let id = c.order_id.as_str();
        if key[keys::CANCELLATION.len()..] != *id.as_bytes() {
            report.problem(&key, format!("the cancellation inside is of order {id}"));
        }
        if !present(source, &keys::order(id), report) {
            report.problem(
                &key,
                format!("a cancellation of order {id}, which does not exist"),
            );
        }
        pending.cancellations.insert(id.to_owned(), c.lines);
    }
}

/// Lines sold by each checkout still recorded; a checkout that sold some
/// has written its order (with its first sale).
fn read_checkouts(source: &dyn Source, pending: &mut Pending, report: &mut Report) {
    for (key, bytes) in source.scan(keys::CHECKOUT).flatten() {
        let Ok(record) = codec::decode_exact::<CheckoutRecord>(&key, &bytes) else {
            pending.unreadable += 1;
            continue;
        };
        let id = record.order.id.as_str();
        if key[keys::CHECKOUT.len()..] != *id.as_bytes() {
            report.problem(&key, format!("the checkout inside is of order {id}"));
        }
        let sold = match record.step {
            CheckoutStep::Started | CheckoutStep::AwaitingAction { .. } => 0,
            CheckoutStep::Authorized { sold, .. } => sold,
        };
        if sold > 0 && !present(source, &keys::order(id), report) {
            report.problem(
                &key,
                format!("sold {sold} line(s) but order {id} does not exist"),
            );
        }
        if !present(source, &keys::cart(record.cart_id.as_str()), report) {
            report.problem(
                &key,
                format!("checks out cart {}, which does not exist", record.cart_id),
            );
        }
        pending.checkouts.insert(id.to_owned(), sold);
    }
}
