//! Returning sold units, restocking and counting stock.

use super::{cid, hid, levels, refused, sku, LATER, NOW};
use crate::inventory::sku::SkuError;

#[test]
fn unselling_returns_sold_units_and_frees_the_customer_limit() {
    let mut s = sku(5);
    s.hold(hid("a"), Some(cid("c")), 3, LATER, NOW).unwrap();
    s.commit(&hid("a"), NOW).unwrap();
    assert_eq!(s.unsell(Some(&cid("c")), 2), Ok(levels(5, 4, 0, 1)));
    assert_eq!(s.customer_units(&cid("c")), 1);
}

#[test]
fn unselling_zero_or_more_than_sold_is_an_invalid_quantity() {
    let mut s = sku(5);
    s.hold(hid("a"), None, 2, LATER, NOW).unwrap();
    s.commit(&hid("a"), NOW).unwrap();
    assert_eq!(
        refused(&mut s, |s| s.unsell(None, 3)),
        SkuError::InvalidQuantity
    );
    assert_eq!(
        refused(&mut s, |s| s.unsell(None, 0)),
        SkuError::InvalidQuantity
    );
}

#[test]
fn unselling_never_uncounts_units_the_customer_still_holds() {
    let mut s = sku(10);
    s.hold(hid("other"), None, 4, LATER, NOW).unwrap();
    s.commit(&hid("other"), NOW).unwrap();
    s.hold(hid("a"), Some(cid("c")), 2, LATER, NOW).unwrap();
    s.unsell(Some(&cid("c")), 4).unwrap();
    assert_eq!(
        s.customer_units(&cid("c")),
        2,
        "c bought nothing, so nothing was returned"
    );
    s.release(&hid("a")).unwrap();
    assert_eq!(s.customer_units(&cid("c")), 0);
}

#[test]
fn restocking_adds_available_units() {
    let mut s = sku(5);
    s.hold(hid("a"), None, 2, LATER, NOW).unwrap();
    assert_eq!(s.restock(3), Ok(levels(8, 6, 2, 0)));
}

#[test]
fn restocking_zero_or_past_the_largest_count_is_an_invalid_quantity() {
    let mut s = sku(5);
    assert_eq!(refused(&mut s, |s| s.restock(0)), SkuError::InvalidQuantity);
    assert_eq!(
        refused(&mut s, |s| s.restock(u64::MAX)),
        SkuError::InvalidQuantity
    );
}

#[test]
fn setting_stock_below_reserved_plus_sold_fails_and_changes_nothing() {
    let mut s = sku(5);
    s.hold(hid("a"), None, 2, LATER, NOW).unwrap();
    s.hold(hid("b"), None, 1, LATER, NOW).unwrap();
    s.commit(&hid("b"), NOW).unwrap();
    let e = refused(&mut s, |s| s.set_stocked(2));
    assert_eq!(
        e,
        SkuError::StockBelowCommitted {
            requested: 2,
            reserved: 2,
            sold: 1
        }
    );
    assert_eq!(s.set_stocked(3), Ok(levels(3, 0, 2, 1)));
    assert_eq!(s.set_stocked(9), Ok(levels(9, 6, 2, 1)));
}
