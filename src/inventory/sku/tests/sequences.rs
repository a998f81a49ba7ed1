//! The property test: random operation sequences applied to the real SKU
//! and to the model, compared after every step.

use super::model::{customer_id, holder_id, Model, Out, CUSTOMERS, HOLDERS};
use super::{sku, NOW};
use crate::domain::CustomerId;
use crate::inventory::sku::{Millis, SaleRules, SkuError, SkuState};
use proptest::prelude::*;
use std::collections::BTreeMap;

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
            m.set_sale(sale_rules(op, now));
            Ok(Out::Nothing)
        }
        Op::Expire => Ok(Out::Holds(m.expire(now))),
        Op::AdvanceTime { .. } => Ok(Out::Nothing),
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

/// The customer that `op` made acquire units, if it succeeds.
fn acquirer(op: &Op, before: &SkuState) -> Option<CustomerId> {
    match *op {
        Op::Hold { customer, .. } => customer.map(customer_id),
        Op::Resize {
            holder, quantity, ..
        } => {
            let hold = before.hold_of(&holder_id(holder))?;
            hold.customer.clone().filter(|_| quantity > hold.quantity)
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
    assert_eq!(s.holds().count(), m.hold_count());
    for holder in 0..HOLDERS {
        let expected = m.hold_of(holder);
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
            m.bought(c),
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
    let mut m = Model::new(stocked);
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
                s.customer_units(&c) <= limit,
                "{c} acquired past its limit of {limit}"
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
    fn random_operations_agree_with_the_naive_model(
        stocked in 0..=30u64,
        ops in prop::collection::vec(op(), 1..=60),
    ) {
        run(stocked, &ops);
    }
}
