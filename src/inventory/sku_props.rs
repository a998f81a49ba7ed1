//! Tests of the SKU state machine: one test per refusal (each also proves the
//! refusal changed nothing), then a property test that drives random
//! operation sequences through `SkuState` and through a deliberately naive
//! model, comparing them after every step. Time is a number the sequence
//! advances; nothing sleeps.

use super::sku::{Hold, Levels, Millis, SaleRules, SkuError, SkuState};
use crate::domain::{CustomerId, HoldId, ProductId};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::fmt::Debug;

const NOW: Millis = 1_000_000;
const LATER: Millis = NOW + 60_000;

fn hid(name: &str) -> HoldId {
    HoldId::parse(name).unwrap()
}

fn cid(name: &str) -> CustomerId {
    CustomerId::parse(name).unwrap()
}

fn sku(stocked: u64) -> SkuState {
    SkuState::new(ProductId::parse("prod-1").unwrap(), stocked)
}

fn levels(stocked: u64, available: u64, reserved: u64, sold: u64) -> Levels {
    Levels {
        stocked,
        available,
        reserved,
        sold,
    }
}

/// Runs an operation that must be refused; asserts it changed nothing.
fn refused<T: Debug>(
    state: &mut SkuState,
    op: impl FnOnce(&mut SkuState) -> Result<T, SkuError>,
) -> SkuError {
    let before = state.clone();
    let error = op(state).expect_err("the operation should have been refused");
    assert_eq!(*state, before, "a refused operation changed the state");
    error
}

fn limited(limit: u64) -> SaleRules {
    SaleRules {
        per_customer_limit: Some(limit),
        ..SaleRules::default()
    }
}

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

#[test]
fn restoring_expired_holds_undoes_the_expiry_exactly() {
    let mut s = sku(10);
    s.set_sale(limited(3));
    s.hold(hid("a"), Some(cid("c")), 3, NOW + 10, NOW).unwrap();
    s.hold(hid("b"), None, 2, NOW + 10, NOW).unwrap();
    let before = s.clone();
    for hold in s.expire(NOW + 10) {
        s.restore(hold).unwrap();
    }
    assert_eq!(s, before);
}

#[test]
fn restoring_needs_a_free_holder_and_free_stock() {
    let mut s = sku(2);
    s.hold(hid("a"), None, 2, NOW + 10, NOW).unwrap();
    let hold = s.expire(NOW + 10).remove(0);
    s.hold(hid("a"), None, 1, LATER, NOW + 10).unwrap();
    let e = refused(&mut s, |s| s.restore(hold.clone()));
    assert_eq!(e, SkuError::HoldExists(hid("a")));
    s.release(&hid("a")).unwrap();
    s.hold(hid("b"), None, 1, LATER, NOW + 10).unwrap();
    let e = refused(&mut s, |s| s.restore(hold));
    assert_eq!(
        e,
        SkuError::InsufficientStock {
            available: 1,
            requested: 2
        }
    );
}

#[test]
fn every_refusal_has_a_stable_code() {
    let h = hid("h");
    let codes = [
        (
            SkuError::InsufficientStock {
                available: 0,
                requested: 1,
            },
            "sold-out",
        ),
        (
            SkuError::LimitExceeded {
                limit: 1,
                already: 1,
                requested: 1,
            },
            "limit-exceeded",
        ),
        (
            SkuError::SaleNotStarted { starts_at: 1 },
            "sale-not-started",
        ),
        (SkuError::SaleEnded { ended_at: 1 }, "sale-ended"),
        (SkuError::HoldExists(h.clone()), "hold-exists"),
        (SkuError::UnknownHold(h.clone()), "hold-not-found"),
        (SkuError::HoldExpired(h), "hold-expired"),
        (
            SkuError::StockBelowCommitted {
                requested: 0,
                reserved: 1,
                sold: 0,
            },
            "stock-below-committed",
        ),
        (SkuError::InvalidQuantity, "invalid-quantity"),
    ];
    for (error, code) in codes {
        assert_eq!(error.code(), code, "{error}");
    }
}

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
fn stored_parts_whose_holds_do_not_add_up_are_refused() {
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
    assert_eq!(rebuild(wrong, holds.clone()), None);
    let mut twice = holds.clone();
    twice.push(holds[0].clone());
    assert_eq!(rebuild(s.levels(), twice), None, "one holder, two holds");
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

// ---------------------------------------------------------------------------
// Model-based property test.

const HOLDERS: usize = 4;
const CUSTOMERS: usize = 3;

fn holder_id(i: usize) -> HoldId {
    hid(&format!("h{i}"))
}

fn customer_id(i: usize) -> CustomerId {
    cid(&format!("c{i}"))
}

/// A deliberately naive SKU: a list of holds and two plain counters, in u128
/// so nothing can wrap unnoticed. Reserved, available and per-customer
/// counts are recomputed by summing every time they are needed.
#[derive(Debug, Clone)]
struct Model {
    stocked: u128,
    sold: u128,
    holds: Vec<ModelHold>,
    /// Units each customer bought (saturating, as documented).
    bought: [u64; CUSTOMERS],
    sale: SaleRules,
}

#[derive(Debug, Clone)]
struct ModelHold {
    holder: usize,
    customer: Option<usize>,
    quantity: u128,
    expires_at: Millis,
}

impl ModelHold {
    fn real(&self) -> Hold {
        Hold {
            holder: holder_id(self.holder),
            customer: self.customer.map(customer_id),
            quantity: small(self.quantity),
            expires_at: self.expires_at,
        }
    }
}

fn small(n: u128) -> u64 {
    u64::try_from(n).expect("the model's counts fit in u64")
}

/// What an operation answered.
#[derive(Debug, Clone, PartialEq)]
enum Out {
    Levels(Levels),
    Hold(Hold),
    Holds(Vec<Hold>),
    Nothing,
}

impl Model {
    fn reserved(&self) -> u128 {
        self.holds.iter().map(|h| h.quantity).sum()
    }

    fn available(&self) -> u128 {
        self.stocked - self.reserved() - self.sold
    }

    fn levels(&self) -> Levels {
        levels(
            small(self.stocked),
            small(self.available()),
            small(self.reserved()),
            small(self.sold),
        )
    }

    /// Held plus bought, saturating like the real count.
    fn units(&self, customer: usize) -> u64 {
        let held: u128 = self
            .holds
            .iter()
            .filter(|h| h.customer == Some(customer))
            .map(|h| h.quantity)
            .sum();
        small((held + u128::from(self.bought[customer])).min(u128::from(u64::MAX)))
    }

    fn find(&self, holder: usize) -> Option<usize> {
        self.holds.iter().position(|h| h.holder == holder)
    }

    fn next_expiry(&self) -> Option<Millis> {
        self.holds.iter().map(|h| h.expires_at).min()
    }

    fn window(&self, now: Millis) -> Result<(), SkuError> {
        if let Some(starts_at) = self.sale.starts_at.filter(|&s| now < s) {
            return Err(SkuError::SaleNotStarted { starts_at });
        }
        if let Some(ended_at) = self.sale.ends_at.filter(|&e| e <= now) {
            return Err(SkuError::SaleEnded { ended_at });
        }
        Ok(())
    }

    /// Window, limit and availability for `extra` more units.
    fn may_take(&self, customer: Option<usize>, extra: u128, now: Millis) -> Result<(), SkuError> {
        self.window(now)?;
        self.limit(customer, extra)?;
        if extra > self.available() {
            return Err(SkuError::InsufficientStock {
                available: small(self.available()),
                requested: small(extra),
            });
        }
        Ok(())
    }

    fn limit(&self, customer: Option<usize>, extra: u128) -> Result<(), SkuError> {
        let (Some(c), Some(limit)) = (customer, self.sale.per_customer_limit) else {
            return Ok(());
        };
        let already = self.units(c);
        if u128::from(already) + extra > u128::from(limit) {
            return Err(SkuError::LimitExceeded {
                limit,
                already,
                requested: small(extra),
            });
        }
        Ok(())
    }
}

impl Model {
    fn hold(
        &mut self,
        holder: usize,
        customer: Option<usize>,
        q: u64,
        expires_at: Millis,
        now: Millis,
    ) -> Result<Out, SkuError> {
        if q == 0 {
            return Err(SkuError::InvalidQuantity);
        }
        self.window(now)?;
        if self.find(holder).is_some() {
            return Err(SkuError::HoldExists(holder_id(holder)));
        }
        self.may_take(customer, q.into(), now)?;
        self.holds.push(ModelHold {
            holder,
            customer,
            quantity: q.into(),
            expires_at,
        });
        Ok(Out::Levels(self.levels()))
    }

    fn resize(
        &mut self,
        holder: usize,
        q: u64,
        expires_at: Millis,
        now: Millis,
    ) -> Result<Out, SkuError> {
        if q == 0 {
            return Err(SkuError::InvalidQuantity);
        }
        let i = self
            .find(holder)
            .ok_or(SkuError::UnknownHold(holder_id(holder)))?;
        if self.holds[i].expires_at <= now {
            return Err(SkuError::HoldExpired(holder_id(holder)));
        }
        let old = self.holds[i].quantity;
        if u128::from(q) > old {
            self.may_take(self.holds[i].customer, u128::from(q) - old, now)?;
        }
        self.holds[i].quantity = q.into();
        self.holds[i].expires_at = expires_at;
        Ok(Out::Levels(self.levels()))
    }

    fn release(&mut self, holder: usize) -> Result<Out, SkuError> {
        let i = self
            .find(holder)
            .ok_or(SkuError::UnknownHold(holder_id(holder)))?;
        Ok(Out::Hold(self.holds.remove(i).real()))
    }

    fn commit(&mut self, holder: usize, now: Millis) -> Result<Out, SkuError> {
        let i = self
            .find(holder)
            .ok_or(SkuError::UnknownHold(holder_id(holder)))?;
        if self.holds[i].expires_at <= now {
            return Err(SkuError::HoldExpired(holder_id(holder)));
        }
        let hold = self.holds.remove(i);
        self.sold += hold.quantity;
        if let Some(c) = hold.customer {
            self.bought[c] = self.bought[c].saturating_add(small(hold.quantity));
        }
        Ok(Out::Hold(hold.real()))
    }

    fn unsell(&mut self, customer: Option<usize>, q: u64) -> Result<Out, SkuError> {
        if q == 0 || u128::from(q) > self.sold {
            return Err(SkuError::InvalidQuantity);
        }
        self.sold -= u128::from(q);
        if let Some(c) = customer {
            self.bought[c] = self.bought[c].saturating_sub(q);
        }
        Ok(Out::Levels(self.levels()))
    }

    fn restock(&mut self, q: u64) -> Result<Out, SkuError> {
        if q == 0 || self.stocked + u128::from(q) > u128::from(u64::MAX) {
            return Err(SkuError::InvalidQuantity);
        }
        self.stocked += u128::from(q);
        Ok(Out::Levels(self.levels()))
    }

    fn set_stocked(&mut self, stocked: u64) -> Result<Out, SkuError> {
        if u128::from(stocked) < self.reserved() + self.sold {
            let (reserved, sold) = (small(self.reserved()), small(self.sold));
            return Err(SkuError::StockBelowCommitted {
                requested: stocked,
                reserved,
                sold,
            });
        }
        self.stocked = stocked.into();
        Ok(Out::Levels(self.levels()))
    }

    fn expire(&mut self, now: Millis) -> Vec<Hold> {
        let (mut due, kept): (Vec<_>, Vec<_>) =
            self.holds.drain(..).partition(|h| h.expires_at <= now);
        self.holds = kept;
        due.sort_by_key(|h| (h.expires_at, h.holder));
        due.iter().map(ModelHold::real).collect()
    }
}

#[derive(Debug, Clone)]
enum Op {
    Hold {
        holder: usize,
        customer: Option<usize>,
        quantity: u64,
        ttl: Millis,
    },
    Resize {
        holder: usize,
        quantity: u64,
        ttl: Millis,
    },
    Release {
        holder: usize,
    },
    Commit {
        holder: usize,
    },
    Unsell {
        customer: Option<usize>,
        quantity: u64,
    },
    Restock {
        quantity: u64,
    },
    SetStocked {
        stocked: u64,
    },
    SetSale {
        limit: Option<u64>,
        starts_in: Option<i64>,
        ends_in: Option<i64>,
    },
    Expire,
    /// Expire, then restore every expired hold: must be a no-op.
    ExpireAndRestore,
    AdvanceTime {
        ms: Millis,
    },
}

/// Mostly small quantities (they collide with stock and limits), sometimes
/// huge ones (they probe overflow).
fn quantity() -> impl Strategy<Value = u64> {
    prop_oneof![12 => 0..=6u64, 1 => Just(u64::MAX), 1 => (u64::MAX - 2)..=u64::MAX]
}

fn op() -> impl Strategy<Value = Op> {
    let holder = 0..HOLDERS;
    let customer = proptest::option::of(0..CUSTOMERS);
    let offset = proptest::option::weighted(0.3, -30..=60i64);
    prop_oneof![
        6 => (holder.clone(), customer.clone(), quantity(), 0..=60u64)
            .prop_map(|(holder, customer, quantity, ttl)| Op::Hold { holder, customer, quantity, ttl }),
        3 => (holder.clone(), quantity(), 0..=60u64).prop_map(|(holder, quantity, ttl)| Op::Resize { holder, quantity, ttl }),
        2 => holder.clone().prop_map(|holder| Op::Release { holder }),
        3 => holder.prop_map(|holder| Op::Commit { holder }),
        2 => (customer, quantity()).prop_map(|(customer, quantity)| Op::Unsell { customer, quantity }),
        1 => quantity().prop_map(|quantity| Op::Restock { quantity }),
        1 => prop_oneof![0..=40u64, Just(u64::MAX)].prop_map(|stocked| Op::SetStocked { stocked }),
        1 => (proptest::option::of(0..=8u64), offset.clone(), offset)
            .prop_map(|(limit, starts_in, ends_in)| Op::SetSale { limit, starts_in, ends_in }),
        2 => Just(Op::Expire),
        1 => Just(Op::ExpireAndRestore),
        3 => (0..=25u64).prop_map(|ms| Op::AdvanceTime { ms }),
    ]
}

/// Applies `op` to the real SKU.
fn apply(s: &mut SkuState, op: &Op, now: &mut Millis) -> Result<Out, SkuError> {
    let levels = Out::Levels;
    match *op {
        Op::Hold {
            holder,
            customer,
            quantity,
            ttl,
        } => s
            .hold(
                holder_id(holder),
                customer.map(customer_id),
                quantity,
                *now + ttl,
                *now,
            )
            .map(levels),
        Op::Resize {
            holder,
            quantity,
            ttl,
        } => s
            .resize(&holder_id(holder), quantity, *now + ttl, *now)
            .map(levels),
        Op::Release { holder } => s.release(&holder_id(holder)).map(Out::Hold),
        Op::Commit { holder } => s.commit(&holder_id(holder), *now).map(Out::Hold),
        Op::Unsell { customer, quantity } => s
            .unsell(customer.map(customer_id).as_ref(), quantity)
            .map(levels),
        Op::Restock { quantity } => s.restock(quantity).map(levels),
        Op::SetStocked { stocked } => s.set_stocked(stocked).map(levels),
        Op::SetSale { .. } => {
            s.set_sale(sale_rules(op, *now));
            Ok(Out::Nothing)
        }
        Op::Expire => Ok(Out::Holds(s.expire(*now))),
        Op::ExpireAndRestore => {
            let before = s.clone();
            for hold in s.expire(*now) {
                s.restore(hold)
                    .expect("an expired hold can be restored at once");
            }
            assert_eq!(*s, before, "expire then restore is not a no-op");
            Ok(Out::Nothing)
        }
        Op::AdvanceTime { ms } => {
            *now += ms;
            Ok(Out::Nothing)
        }
    }
}

/// Applies `op` to the model.
fn apply_model(m: &mut Model, op: &Op, now: Millis) -> Result<Out, SkuError> {
    match *op {
        Op::Hold {
            holder,
            customer,
            quantity,
            ttl,
        } => m.hold(holder, customer, quantity, now + ttl, now),
        Op::Resize {
            holder,
            quantity,
            ttl,
        } => m.resize(holder, quantity, now + ttl, now),
        Op::Release { holder } => m.release(holder),
        Op::Commit { holder } => m.commit(holder, now),
        Op::Unsell { customer, quantity } => m.unsell(customer, quantity),
        Op::Restock { quantity } => m.restock(quantity),
        Op::SetStocked { stocked } => m.set_stocked(stocked),
        Op::SetSale { .. } => {
            m.sale = sale_rules(op, now);
            Ok(Out::Nothing)
        }
        Op::Expire => Ok(Out::Holds(m.expire(now))),
        Op::ExpireAndRestore | Op::AdvanceTime { .. } => Ok(Out::Nothing),
    }
}

fn sale_rules(op: &Op, now: Millis) -> SaleRules {
    let Op::SetSale {
        limit,
        starts_in,
        ends_in,
    } = *op
    else {
        unreachable!("not a sale op")
    };
    SaleRules {
        per_customer_limit: limit,
        starts_at: starts_in.map(|d| now.saturating_add_signed(d)),
        ends_at: ends_in.map(|d| now.saturating_add_signed(d)),
    }
}

/// The customer that `op` made acquire units, if it succeeded in doing so.
fn acquirer(op: &Op, before: &SkuState) -> Option<usize> {
    match *op {
        Op::Hold { customer, .. } => customer,
        Op::Resize {
            holder, quantity, ..
        } => {
            let hold = before.hold_of(&holder_id(holder))?;
            let customer = hold.customer.as_ref()?;
            let grew = quantity > hold.quantity;
            (0..CUSTOMERS).find(|&c| grew && customer_id(c) == *customer)
        }
        _ => None,
    }
}

/// Everything that must agree between the SKU and the model after a step.
fn check_agreement(s: &SkuState, m: &Model) {
    assert!(
        s.is_conserved(),
        "conservation law broken: {:?}",
        s.levels()
    );
    assert_eq!(s.check_integrity(), Ok(()));
    assert_eq!(s.levels(), m.levels());
    assert_eq!(s.next_expiry(), m.next_expiry());
    assert_eq!(s.holds().count(), m.holds.len());
    for holder in 0..HOLDERS {
        let expected = m.find(holder).map(|i| m.holds[i].real());
        assert_eq!(
            s.hold_of(&holder_id(holder)),
            expected.as_ref(),
            "hold of h{holder}"
        );
    }
    for c in 0..CUSTOMERS {
        assert_eq!(
            s.customer_units(&customer_id(c)),
            m.units(c),
            "units of c{c}"
        );
        assert_eq!(
            s.customer_sold(&customer_id(c)),
            m.bought[c],
            "bought by c{c}"
        );
    }
}

/// The SKU as the store would give it back: through postcard, and through
/// the separately stored parts.
fn check_storage(s: &SkuState) {
    let bytes = postcard::to_stdvec(s).expect("encodes");
    assert_eq!(postcard::from_bytes::<SkuState>(&bytes).as_ref(), Ok(s));
    let sold: BTreeMap<_, _> = (0..CUSTOMERS)
        .map(|c| (customer_id(c), s.customer_sold(&customer_id(c))))
        .collect();
    let holds = s.holds().cloned().collect();
    let rebuilt = SkuState::from_parts(
        s.product_id.clone(),
        s.levels(),
        s.sale().clone(),
        holds,
        sold,
    );
    assert_eq!(rebuilt.as_ref(), Some(s));
}

fn run(stocked: u64, ops: &[Op]) {
    let mut s = sku(stocked);
    let mut m = Model {
        stocked: stocked.into(),
        sold: 0,
        holds: Vec::new(),
        bought: [0; CUSTOMERS],
        sale: SaleRules::default(),
    };
    let mut now = NOW;
    for op in ops {
        let before = s.clone();
        let expected = apply_model(&mut m, op, now);
        let limit = s.sale().per_customer_limit;
        let actual = apply(&mut s, op, &mut now);
        assert_eq!(actual, expected, "outcome of {op:?}");
        if actual.is_err() {
            assert_eq!(s, before, "refused {op:?} changed the state");
        }
        if let (Ok(_), Some(c), Some(limit)) = (&actual, acquirer(op, &before), limit) {
            assert!(
                s.customer_units(&customer_id(c)) <= limit,
                "c{c} acquired past its limit of {limit}"
            );
        }
        check_agreement(&s, &m);
        check_storage(&s);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Failures are shrunk and saved under `proptest-regressions/`, which
    /// replays them first on the next run.
    #[test]
    fn random_operations_agree_with_the_naive_model(stocked in 0..=30u64, ops in prop::collection::vec(op(), 1..=60)) {
        run(stocked, &ops);
    }
}
