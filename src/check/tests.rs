//! The checks against stores built in memory: a sound one, then one broken
//! rule at a time.

use super::{check, Report};
use crate::catalog::{Product, Variant};
use crate::domain::{BoundedText, HoldId, Money, ProductId, Sku, TextRule};
use crate::idempotency::Receipt;
use crate::inventory::{Hold, SkuRecord};
use crate::order::{Cancellation, Order};
use crate::store::{codec, keys};
use serde_json::json;
use std::collections::BTreeMap;

type Records = BTreeMap<Vec<u8>, Vec<u8>>;

fn put<T: serde::Serialize>(records: &mut Records, key: Vec<u8>, value: &T) {
    records.insert(key, codec::encode(value).unwrap());
}

fn product(id: &str, skus: &[&str]) -> Product {
    let text = |s: &str| BoundedText::parse(s, TextRule::TITLE).unwrap();
    Product {
        id: ProductId::parse(id).unwrap(),
        title: text("Tee"),
        description: BoundedText::parse("", TextRule::DESCRIPTION).unwrap(),
        category: text("things"),
        attributes: BTreeMap::new(),
        variants: skus
            .iter()
            .map(|sku| Variant {
                sku: Sku::parse(sku).unwrap(),
                title: text(sku),
                price: Money::price(100, "EUR").unwrap(),
            })
            .collect(),
        archived: false,
        revision: 1,
    }
}

fn order(id: &str, status: &str, lines: &[(&str, u64)]) -> Order {
    let money = json!({"amount": 100, "currency": "EUR"});
    let lines: Vec<_> = lines
        .iter()
        .map(|(sku, quantity)| {
            json!({"sku": sku, "product_id": "p1", "quantity": quantity,
                   "unit_price": money, "line_total": money})
        })
        .collect();
    serde_json::from_value(json!({
        "id": id, "status": status, "customer_id": "alice", "lines": lines,
        "total": money, "created_at": 1, "expires_at": null,
        "request_digest": vec![0u8; 32], "email": null, "shipping_address": null,
        "payment": null, "cart_id": null, "updated_at": 1
    }))
    .unwrap()
}

fn cart(id: &str, state: serde_json::Value) -> crate::cart::Cart {
    let cart = json!({"id": id, "currency": "EUR", "customer_id": null, "lines": [],
        "state": state, "created_at": 1, "updated_at": 1,
        "create_digest": vec![0u8; 32], "recent_keys": []});
    serde_json::from_value(cart).unwrap()
}

fn hold(holder: &str, quantity: u64) -> Hold {
    Hold {
        holder: HoldId::parse(holder).unwrap(),
        customer: None,
        quantity,
        expires_at: 1_000,
    }
}

fn sku(stocked: u64, available: u64, reserved: u64, sold: u64) -> SkuRecord {
    let mut record = SkuRecord::new(ProductId::parse("p1").unwrap(), stocked);
    record.levels.available = available;
    record.levels.reserved = reserved;
    record.levels.sold = sold;
    record
}

/// A sound store: SKU A (10 stocked) with an unpaid order holding 2 and a
/// paid order of 3, a cancelled order still returning 1 unit of A.
fn sound() -> Records {
    let mut r = Records::new();
    put(&mut r, keys::product("p1"), &product("p1", &["A"]));
    put(&mut r, keys::inventory("A"), &sku(10, 4, 2, 4));
    put(
        &mut r,
        keys::hold_page("A", 0),
        &vec![hold("ord_unpaid", 2)],
    );
    put(
        &mut r,
        keys::order("ord_unpaid"),
        &order("ord_unpaid", "awaiting_payment", &[("A", 2)]),
    );
    put(
        &mut r,
        keys::order("ord_paid"),
        &order("ord_paid", "paid", &[("A", 3)]),
    );
    put(
        &mut r,
        keys::order("ord_gone"),
        &order("ord_gone", "cancelled", &[("A", 1)]),
    );
    let cancellation = Cancellation {
        order_id: crate::domain::OrderId::parse("ord_gone").unwrap(),
        lines: vec![0],
        return_payment: false,
    };
    put(&mut r, keys::cancellation("ord_gone"), &cancellation);
    let receipt = Receipt {
        request_digest: [0; 32],
        at: 1,
        outcome: order("ord_paid", "paid", &[("A", 3)]),
    };
    put(&mut r, keys::receipt("pay_00"), &receipt);
    r
}

fn problems(records: &Records) -> Vec<String> {
    let report: Report = check(records);
    report
        .problems()
        .iter()
        .map(|p| format!("{}: {}", p.key, p.what))
        .collect()
}

fn assert_one(records: &Records, key: &str, what: &str) {
    let found = problems(records);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].starts_with(key) && found[0].contains(what),
        "{found:#?}"
    );
}

#[test]
fn a_sound_store_has_no_problem() {
    assert_eq!(problems(&sound()), Vec::<String>::new());
}

#[test]
fn a_broken_conservation_law_names_the_sku() {
    let mut r = sound();
    put(&mut r, keys::inventory("A"), &sku(11, 4, 2, 4));
    assert_one(&r, "inv/A", "!= stocked 11");
}

#[test]
fn holds_that_do_not_add_up_to_reserved_name_the_sku() {
    let mut r = sound();
    put(
        &mut r,
        keys::hold_page("A", 0),
        &vec![hold("ord_unpaid", 2), hold("cart_1", 1)],
    );
    put(&mut r, keys::cart("cart_1"), &cart("cart_1", json!("Open")));
    assert_one(&r, "inv/A", "its holds add up to 3 units but reserved is 2");
}

#[test]
fn an_unpaid_order_without_its_hold_is_named() {
    let mut r = sound();
    r.remove(&keys::hold_page("A", 0));
    put(&mut r, keys::inventory("A"), &sku(10, 6, 0, 4));
    assert_one(&r, "ord/ord_unpaid", "holds nothing on A");
}

#[test]
fn sold_units_no_order_accounts_for_are_named() {
    let mut r = sound();
    r.remove(&keys::cancellation("ord_gone"));
    assert_one(&r, "inv/A", "sold is 4 but orders account for 3");
}

#[test]
fn a_hold_of_nobody_is_named() {
    let mut r = sound();
    put(
        &mut r,
        keys::hold_page("A", 1),
        &vec![hold("cart_missing", 1)],
    );
    put(&mut r, keys::inventory("A"), &sku(10, 3, 3, 4));
    assert_one(&r, "inv/A", "neither an order nor a cart");
}

#[test]
fn a_receipt_of_a_missing_order_is_named() {
    let mut r = sound();
    let receipt = Receipt {
        request_digest: [0; 32],
        at: 1,
        outcome: order("ord_never", "paid", &[("A", 1)]),
    };
    put(&mut r, keys::receipt("refund_01"), &receipt);
    assert_one(&r, "idem/refund_01", "ord/ord_never, which does not exist");
}

#[test]
fn a_record_that_does_not_decode_exactly_is_named() {
    let mut r = sound();
    let key = keys::inventory("A");
    let mut bytes = r[&key].clone();
    bytes.push(0);
    r.insert(key.clone(), bytes.clone());
    assert_one(&r, "inv/A", "1 bytes follow");
    bytes[0] ^= 0x01;
    r.insert(key, bytes);
    let found = problems(&r);
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("inv/A: does not decode")),
        "{found:#?}"
    );
}

#[test]
fn a_journal_record_left_unindexed_is_named_when_it_cannot_be_read() {
    let mut r = sound();
    // A copy's journal is indexed when it is opened; one that stays was
    // unreadable. A readable one left over is no problem of its own.
    r.insert(
        b"jrnl/\0\0\0\0\0\0\0\x09\0\0\0\0".to_vec(),
        vec![1, 3, 0, 0],
    );
    assert_one(&r, "jrnl/", "journal record: a key runs past the end");
}

#[test]
fn a_key_of_no_kind_is_named() {
    let mut r = sound();
    r.insert(b"journal/1".to_vec(), vec![1]);
    assert_one(&r, "journal/1", "no kind of record");
}

#[test]
fn a_checkout_midway_accounts_only_for_the_lines_it_sold() {
    let mut r = Records::new();
    put(&mut r, keys::product("p1"), &product("p1", &["A", "B"]));
    put(&mut r, keys::inventory("A"), &sku(5, 4, 0, 1));
    put(&mut r, keys::inventory("B"), &sku(5, 4, 1, 0));
    put(&mut r, keys::hold_page("B", 0), &vec![hold("cart_1", 1)]);
    let paid = order("ord_co", "paid", &[("A", 1), ("B", 1)]);
    put(&mut r, keys::order("ord_co"), &paid);
    let record = json!({
        "order": serde_json::to_value(&paid).unwrap(), "cart_id": "cart_1", "token": "tok_ok",
        "step": {"Authorized": {"auth": {"id": "auth_1", "amount": {"amount": 200, "currency": "EUR"}, "gateway": "simulated"}, "sold": 1}}
    });
    let record: crate::checkout::CheckoutRecord = serde_json::from_value(record).unwrap();
    put(&mut r, keys::checkout("ord_co"), &record);
    let checking_out = cart("cart_1", json!({"CheckingOut": "ord_co"}));
    put(&mut r, keys::cart("cart_1"), &checking_out);
    assert_eq!(problems(&r), Vec::<String>::new());
}
