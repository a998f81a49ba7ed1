//! How a SKU is rebuilt from what was stored: the serialized record (via
//! serde) or the separately stored parts the actor loads. Both paths derive
//! the indexes from the holds and refuse anything inconsistent, so a corrupt
//! record never becomes a live SKU.

use super::{add_units, Hold, Levels, SaleRules, SkuState};
use crate::domain::{CustomerId, HoldId, ProductId};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

/// The stored form of a [`SkuState`] (same fields, same order, no indexes).
#[derive(Deserialize)]
pub(super) struct StoredSku {
    product_id: ProductId,
    stocked: u64,
    available: u64,
    reserved: u64,
    sold: u64,
    holds: BTreeMap<HoldId, Hold>,
    sold_by: BTreeMap<CustomerId, u64>,
    sale: SaleRules,
}

impl TryFrom<StoredSku> for SkuState {
    type Error = &'static str;

    /// Rebuilds the indexes and refuses a record that breaks any invariant:
    /// a corrupt record must never become a live SKU.
    fn try_from(stored: StoredSku) -> Result<Self, Self::Error> {
        if stored.sold_by.values().any(|&units| units == 0) {
            return Err("a customer is recorded with 0 units");
        }
        let mut state = SkuState {
            product_id: stored.product_id,
            stocked: stored.stocked,
            available: stored.available,
            reserved: 0,
            sold: stored.sold,
            holds: BTreeMap::new(),
            sold_by: stored.sold_by,
            sale: stored.sale,
            held_by: BTreeMap::new(),
            expiries: BTreeSet::new(),
        };
        for (holder, hold) in stored.holds {
            if holder != hold.holder || hold.quantity == 0 {
                return Err("a hold is malformed");
            }
            state.reserved = state
                .reserved
                .checked_add(hold.quantity)
                .ok_or("holds overflow")?;
            add_units(&mut state.held_by, hold.customer.as_ref(), hold.quantity);
            state.insert_hold(hold);
        }
        if state.reserved != stored.reserved {
            return Err("holds do not add up to the reserved count");
        }
        if !state.is_conserved() {
            return Err("available + reserved + sold != stocked");
        }
        Ok(state)
    }
}

impl SkuState {
    /// Reassembles a SKU from its stored pieces (counters, holds, per-customer
    /// sold counts; zero counts are ignored). `None` if they are inconsistent.
    pub fn from_parts(
        product_id: ProductId,
        levels: Levels,
        sale: SaleRules,
        holds: Vec<Hold>,
        sold: BTreeMap<CustomerId, u64>,
    ) -> Option<Self> {
        let count = holds.len();
        let holds: BTreeMap<_, _> = holds.into_iter().map(|h| (h.holder.clone(), h)).collect();
        if holds.len() != count {
            return None;
        }
        let stored = StoredSku {
            product_id,
            stocked: levels.stocked,
            available: levels.available,
            reserved: levels.reserved,
            sold: levels.sold,
            holds,
            sold_by: sold.into_iter().filter(|&(_, units)| units > 0).collect(),
            sale,
        };
        Self::try_from(stored).ok()
    }

    /// Deep check that the derived indexes agree with the holds and every
    /// invariant holds. O(holds + customers): for tests and audits, not for
    /// every operation.
    pub fn check_integrity(&self) -> Result<(), &'static str> {
        let stored = StoredSku {
            product_id: self.product_id.clone(),
            stocked: self.stocked,
            available: self.available,
            reserved: self.reserved,
            sold: self.sold,
            holds: self.holds.clone(),
            sold_by: self.sold_by.clone(),
            sale: self.sale.clone(),
        };
        let rebuilt = Self::try_from(stored)?;
        if rebuilt != *self {
            return Err("the indexes disagree with the holds");
        }
        Ok(())
    }
}
