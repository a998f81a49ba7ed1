//! What the store gives back is the SKU that was put in, and what is
//! inconsistent is refused.

use super::{cid, hid, levels, sku, LATER, NOW};
use crate::domain::{CustomerId, HoldId, ProductId};
use crate::inventory::sku::{Hold, SaleRules, SkuState};
use std::collections::BTreeMap;

fn busy_sku() -> SkuState {
    let mut s = sku(20);
    s.set_sale(SaleRules {
        per_customer_limit: Some(5),
        starts_at: Some(1),
        ends_at: Some(LATER),
    });
    s.hold(hid("a"), Some(cid("c")), 2, LATER, NOW).unwrap();
    s.hold(hid("b"), None, 3, NOW + 5, NOW).unwrap();
    s.hold(hid("x"), Some(cid("d")), 1, NOW + 7, NOW).unwrap();
    s.commit(&hid("x"), NOW).unwrap();
    s
}

#[test]
fn a_sku_survives_a_postcard_round_trip() {
    let s = busy_sku();
    let bytes = postcard::to_stdvec(&s).unwrap();
    let back: SkuState = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(back, s);
    assert_eq!(back.next_expiry(), Some(NOW + 5));
    assert_eq!(back.customer_units(&cid("c")), 2);
}

#[test]
fn a_sku_rebuilt_from_its_stored_parts_is_the_same_sku() {
    let s = busy_sku();
    let sold = BTreeMap::from([(cid("d"), 1), (cid("nobody"), 0)]);
    let holds = s.holds().cloned().collect();
    let rebuilt = SkuState::from_parts(
        s.product_id.clone(),
        s.levels(),
        s.sale().clone(),
        holds,
        sold,
    );
    assert_eq!(rebuilt, Some(s));
}

#[test]
fn stored_parts_with_inconsistent_holds_are_refused() {
    let s = busy_sku();
    let mut wrong = s.levels();
    wrong.reserved += 1;
    wrong.available -= 1;
    let holds: Vec<Hold> = s.holds().cloned().collect();
    let rebuild = |levels, holds| {
        SkuState::from_parts(
            s.product_id.clone(),
            levels,
            SaleRules::default(),
            holds,
            BTreeMap::new(),
        )
    };
    assert!(
        rebuild(s.levels(), holds.clone()).is_some(),
        "the honest parts"
    );
    assert_eq!(rebuild(wrong, holds.clone()), None);
    let mut twice = holds.clone();
    twice.push(holds[0].clone());
    assert_eq!(rebuild(s.levels(), twice), None, "one holder, two holds");
    let mut empty = holds;
    empty.push(Hold {
        holder: hid("empty"),
        customer: None,
        quantity: 0,
        expires_at: LATER,
    });
    assert_eq!(rebuild(s.levels(), empty), None, "a hold of nothing");
}

/// The stored layout of `SkuState`, written independently, to forge records.
#[derive(serde::Serialize)]
struct Forged {
    product_id: ProductId,
    stocked: u64,
    available: u64,
    reserved: u64,
    sold: u64,
    holds: BTreeMap<HoldId, Hold>,
    sold_by: BTreeMap<CustomerId, u64>,
    sale: SaleRules,
}

#[test]
fn a_stored_record_that_breaks_conservation_is_refused_when_decoded() {
    let forge = |stocked, available| Forged {
        product_id: ProductId::parse("p").unwrap(),
        stocked,
        available,
        reserved: 0,
        sold: 0,
        holds: BTreeMap::new(),
        sold_by: BTreeMap::new(),
        sale: SaleRules::default(),
    };
    let good = postcard::to_stdvec(&forge(5, 5)).unwrap();
    assert_eq!(
        postcard::from_bytes::<SkuState>(&good).map(|s| s.levels()),
        Ok(levels(5, 5, 0, 0))
    );
    let bad = postcard::to_stdvec(&forge(5, 6)).unwrap();
    assert!(postcard::from_bytes::<SkuState>(&bad).is_err());
}
