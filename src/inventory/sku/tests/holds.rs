//! Taking, resizing, releasing, committing, expiring and restoring holds.

use super::{cid, hid, levels, limited, refused, sku, LATER, NOW};
use crate::inventory::sku::{SaleRules, SkuError};

#[test]
fn a_new_sku_has_all_its_stock_available() {
    let s = sku(7);
    assert_eq!(s.levels(), levels(7, 7, 0, 0));
    assert_eq!(s.next_expiry(), None);
    assert!(s.is_conserved());
}

#[test]
fn holding_zero_units_is_an_invalid_quantity() {
    let mut s = sku(5);
    let e = refused(&mut s, |s| s.hold(hid("a"), None, 0, LATER, NOW));
    assert_eq!(e, SkuError::InvalidQuantity);
}

#[test]
fn holding_more_than_available_fails_and_changes_nothing() {
    let mut s = sku(5);
    s.hold(hid("a"), None, 3, LATER, NOW).unwrap();
    let e = refused(&mut s, |s| s.hold(hid("b"), None, 3, LATER, NOW));
    assert_eq!(
        e,
        SkuError::InsufficientStock {
            available: 2,
            requested: 3
        }
    );
    assert_eq!(e.code(), "sold-out");
}

#[test]
fn holding_moves_units_from_available_to_reserved() {
    let mut s = sku(5);
    assert_eq!(
        s.hold(hid("a"), Some(cid("c")), 2, LATER, NOW),
        Ok(levels(5, 3, 2, 0))
    );
    assert_eq!(s.customer_units(&cid("c")), 2);
    assert_eq!(s.next_expiry(), Some(LATER));
}

#[test]
fn holding_before_the_sale_starts_fails_with_the_start_time() {
    let mut s = sku(5);
    s.set_sale(SaleRules {
        starts_at: Some(NOW + 1),
        ..SaleRules::default()
    });
    let e = refused(&mut s, |s| s.hold(hid("a"), None, 1, LATER, NOW));
    assert_eq!(e, SkuError::SaleNotStarted { starts_at: NOW + 1 });
    assert!(s.hold(hid("a"), None, 1, LATER, NOW + 1).is_ok());
}

#[test]
fn holding_at_or_after_the_sale_end_fails() {
    let mut s = sku(5);
    s.set_sale(SaleRules {
        ends_at: Some(NOW),
        ..SaleRules::default()
    });
    let e = refused(&mut s, |s| s.hold(hid("a"), None, 1, LATER, NOW));
    assert_eq!(e, SkuError::SaleEnded { ended_at: NOW });
    assert!(s.hold(hid("a"), None, 1, LATER, NOW - 1).is_ok());
}

#[test]
fn holding_twice_for_one_holder_fails_and_keeps_the_first_hold() {
    let mut s = sku(5);
    s.hold(hid("a"), None, 1, LATER, NOW).unwrap();
    let e = refused(&mut s, |s| s.hold(hid("a"), None, 2, LATER, NOW));
    assert_eq!(e, SkuError::HoldExists(hid("a")));
    assert_eq!(s.hold_of(&hid("a")).map(|h| h.quantity), Some(1));
}

#[test]
fn holding_past_the_customer_limit_fails_counting_held_and_bought_units() {
    let mut s = sku(10);
    s.set_sale(limited(3));
    s.hold(hid("a"), Some(cid("c")), 1, LATER, NOW).unwrap();
    s.commit(&hid("a"), NOW).unwrap();
    s.hold(hid("b"), Some(cid("c")), 1, LATER, NOW).unwrap();
    let e = refused(&mut s, |s| s.hold(hid("x"), Some(cid("c")), 2, LATER, NOW));
    assert_eq!(
        e,
        SkuError::LimitExceeded {
            limit: 3,
            already: 2,
            requested: 2
        }
    );
    assert!(s.hold(hid("y"), Some(cid("other")), 3, LATER, NOW).is_ok());
    assert!(
        s.hold(hid("z"), None, 4, LATER, NOW).is_ok(),
        "anonymous holds have no limit"
    );
}

#[test]
fn the_limit_is_checked_before_availability() {
    let mut s = sku(1);
    s.set_sale(limited(1));
    let e = refused(&mut s, |s| s.hold(hid("a"), Some(cid("c")), 2, LATER, NOW));
    assert_eq!(e.code(), "limit-exceeded");
}

#[test]
fn growing_a_hold_needs_the_extra_units_to_be_available() {
    let mut s = sku(5);
    s.hold(hid("a"), None, 2, LATER, NOW).unwrap();
    let e = refused(&mut s, |s| s.resize(&hid("a"), 6, LATER, NOW));
    assert_eq!(
        e,
        SkuError::InsufficientStock {
            available: 3,
            requested: 4
        }
    );
    assert_eq!(
        s.resize(&hid("a"), 5, LATER + 1, NOW),
        Ok(levels(5, 0, 5, 0))
    );
    assert_eq!(s.next_expiry(), Some(LATER + 1));
}

#[test]
fn growing_a_hold_past_the_limit_fails() {
    let mut s = sku(5);
    s.set_sale(limited(2));
    s.hold(hid("a"), Some(cid("c")), 2, LATER, NOW).unwrap();
    let e = refused(&mut s, |s| s.resize(&hid("a"), 3, LATER, NOW));
    assert_eq!(
        e,
        SkuError::LimitExceeded {
            limit: 2,
            already: 2,
            requested: 1
        }
    );
}

#[test]
fn growing_a_hold_after_the_sale_ended_fails_but_shrinking_it_works() {
    let mut s = sku(5);
    s.hold(hid("a"), None, 2, LATER, NOW).unwrap();
    s.set_sale(SaleRules {
        ends_at: Some(NOW),
        ..SaleRules::default()
    });
    let e = refused(&mut s, |s| s.resize(&hid("a"), 3, LATER, NOW));
    assert_eq!(e, SkuError::SaleEnded { ended_at: NOW });
    assert_eq!(s.resize(&hid("a"), 1, LATER, NOW), Ok(levels(5, 4, 1, 0)));
}

#[test]
fn resizing_to_zero_is_an_invalid_quantity() {
    let mut s = sku(5);
    s.hold(hid("a"), None, 2, LATER, NOW).unwrap();
    assert_eq!(
        refused(&mut s, |s| s.resize(&hid("a"), 0, LATER, NOW)),
        SkuError::InvalidQuantity
    );
}

#[test]
fn resizing_an_unknown_hold_fails() {
    let mut s = sku(5);
    let e = refused(&mut s, |s| s.resize(&hid("a"), 1, LATER, NOW));
    assert_eq!(e, SkuError::UnknownHold(hid("a")));
}

#[test]
fn resizing_an_expired_hold_fails_and_keeps_it_for_expiry() {
    let mut s = sku(5);
    s.hold(hid("a"), None, 2, NOW, NOW - 1).unwrap();
    let e = refused(&mut s, |s| s.resize(&hid("a"), 1, LATER, NOW));
    assert_eq!(e, SkuError::HoldExpired(hid("a")));
}

#[test]
fn releasing_returns_the_stock_and_frees_the_customer_limit() {
    let mut s = sku(5);
    s.set_sale(limited(2));
    s.hold(hid("a"), Some(cid("c")), 2, LATER, NOW).unwrap();
    let hold = s.release(&hid("a")).unwrap();
    assert_eq!(hold.quantity, 2);
    assert_eq!(s.levels(), levels(5, 5, 0, 0));
    assert_eq!(s.customer_units(&cid("c")), 0);
    assert_eq!(s.next_expiry(), None);
}

#[test]
fn releasing_an_unknown_hold_fails() {
    let mut s = sku(5);
    assert_eq!(
        refused(&mut s, |s| s.release(&hid("a"))),
        SkuError::UnknownHold(hid("a"))
    );
}

#[test]
fn committing_moves_reserved_to_sold_and_keeps_the_customer_count() {
    let mut s = sku(5);
    s.hold(hid("a"), Some(cid("c")), 2, LATER, NOW).unwrap();
    assert_eq!(s.commit(&hid("a"), LATER - 1).map(|h| h.quantity), Ok(2));
    assert_eq!(s.levels(), levels(5, 3, 0, 2));
    assert_eq!(s.customer_units(&cid("c")), 2);
    assert_eq!(s.customer_sold(&cid("c")), 2);
    assert_eq!(s.hold_of(&hid("a")), None);
}

#[test]
fn committing_an_expired_hold_fails_and_keeps_the_hold() {
    let mut s = sku(5);
    s.hold(hid("a"), None, 2, LATER, NOW).unwrap();
    let e = refused(&mut s, |s| s.commit(&hid("a"), LATER));
    assert_eq!(e, SkuError::HoldExpired(hid("a")));
    assert_eq!(e.code(), "hold-expired");
}

#[test]
fn committing_an_unknown_hold_fails() {
    let mut s = sku(5);
    assert_eq!(
        refused(&mut s, |s| s.commit(&hid("a"), NOW)),
        SkuError::UnknownHold(hid("a"))
    );
}

#[test]
fn expiring_removes_only_the_holds_due_by_now_earliest_first() {
    let mut s = sku(10);
    s.hold(hid("late"), Some(cid("c")), 1, NOW + 30, NOW)
        .unwrap();
    s.hold(hid("b"), Some(cid("c")), 2, NOW + 20, NOW).unwrap();
    s.hold(hid("a"), None, 3, NOW + 10, NOW).unwrap();
    assert_eq!(s.next_expiry(), Some(NOW + 10));
    let expired: Vec<_> = s.expire(NOW + 20).into_iter().map(|h| h.holder).collect();
    assert_eq!(expired, vec![hid("a"), hid("b")]);
    assert_eq!(s.levels(), levels(10, 9, 1, 0));
    assert_eq!(s.customer_units(&cid("c")), 1);
    assert_eq!(s.next_expiry(), Some(NOW + 30));
    assert!(s.expire(NOW + 29).is_empty());
}
