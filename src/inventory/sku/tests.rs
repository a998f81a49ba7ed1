//! Tests of the SKU state machine: one test per refusal (each also proves
//! the refusal changed nothing), then a property test that drives random
//! operation sequences through `SkuState` and through a deliberately naive
//! model, comparing them after every step. Time is a number the sequence
//! advances; nothing sleeps.

mod holds;
mod model;
mod sequences;
mod stock;
mod storage;

use super::{Levels, Millis, SaleRules, SkuError, SkuState};
use crate::domain::{CustomerId, HoldId, ProductId};
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
