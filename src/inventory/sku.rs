//! The stock of one SKU as a pure, synchronous state machine: counters
//! (stocked, available, reserved, sold), the holds that make up `reserved`,
//! per-customer counts for purchase limits, and the sale window.
//!
//! It owns this state so that the SKU actor can be a thin shell: every rule
//! that keeps a flash sale from overselling lives here, where tests, the
//! simulation and benches drive it without actix, sled or a clock (time is
//! passed in as `now`). Each operation checks everything before it changes
//! anything, so a refused operation leaves the state exactly as it was, and
//! every change ends by asserting `available + reserved + sold == stocked`
//! (also in release builds: a broken law is a bug that must never be
//! persisted).

mod error;
mod holds;
mod stored;
#[cfg(test)]
mod tests;

use crate::domain::{CustomerId, HoldId, ProductId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use stored::StoredSku;

pub use crate::clock::Millis;
pub use error::SkuError;

/// Who may buy, how much, and when. `None` means "no such rule".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SaleRules {
    /// Most units one customer may hold and own at once (held + bought).
    pub per_customer_limit: Option<u64>,
    /// First instant at which stock may be held.
    pub starts_at: Option<Millis>,
    /// First instant at which stock may no longer be held.
    pub ends_at: Option<Millis>,
}

impl SaleRules {
    fn check_window(&self, now: Millis) -> Result<(), SkuError> {
        match (self.starts_at, self.ends_at) {
            (Some(starts_at), _) if now < starts_at => Err(SkuError::SaleNotStarted { starts_at }),
            (_, Some(ended_at)) if ended_at <= now => Err(SkuError::SaleEnded { ended_at }),
            _ => Ok(()),
        }
    }
}

/// Units set aside for one holder (a cart or an unpaid order) until
/// `expires_at`, when they return to available unless committed first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub holder: HoldId,
    /// Whose limit these units count against; `None` for anonymous holds.
    pub customer: Option<CustomerId>,
    pub quantity: u64,
    pub expires_at: Millis,
}

/// Where the units of a SKU are. `available + reserved + sold == stocked`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Levels {
    pub stocked: u64,
    pub available: u64,
    pub reserved: u64,
    pub sold: u64,
}

/// One SKU's stock. Serialized fields come first and in the order of
/// `StoredSku`; the two indexes after them are derived from `holds` and
/// rebuilt (and the whole record validated) when decoding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StoredSku")]
pub struct SkuState {
    /// The product that created this SKU; it owns it forever (history).
    pub product_id: ProductId,
    stocked: u64,
    available: u64,
    reserved: u64,
    sold: u64,
    holds: BTreeMap<HoldId, Hold>,
    /// Units each customer bought and has not had returned. Kept apart from
    /// held units so a refund can never un-count stock the customer still holds.
    sold_by: BTreeMap<CustomerId, u64>,
    sale: SaleRules,
    /// Units each customer holds: the per-customer sum of `holds`.
    #[serde(skip)]
    held_by: BTreeMap<CustomerId, u64>,
    /// `holds` ordered by expiry, so the next expiry and the due holds are
    /// found without scanning every hold of a hot SKU.
    #[serde(skip)]
    expiries: BTreeSet<(Millis, HoldId)>,
}

impl SkuState {
    /// A new SKU with `stocked` units, all available.
    pub fn new(product_id: ProductId, stocked: u64) -> Self {
        Self {
            product_id,
            stocked,
            available: stocked,
            reserved: 0,
            sold: 0,
            holds: BTreeMap::new(),
            sold_by: BTreeMap::new(),
            sale: SaleRules::default(),
            held_by: BTreeMap::new(),
            expiries: BTreeSet::new(),
        }
    }

    pub fn levels(&self) -> Levels {
        Levels {
            stocked: self.stocked,
            available: self.available,
            reserved: self.reserved,
            sold: self.sold,
        }
    }

    pub fn sale(&self) -> &SaleRules {
        &self.sale
    }

    /// Every hold, in holder order.
    pub fn holds(&self) -> impl Iterator<Item = &Hold> + '_ {
        self.holds.values()
    }

    pub fn hold_of(&self, holder: &HoldId) -> Option<&Hold> {
        self.holds.get(holder)
    }

    /// Units `customer` holds plus units it bought: what its limit counts.
    pub fn customer_units(&self, customer: &CustomerId) -> u64 {
        units_of(&self.held_by, customer).saturating_add(self.customer_sold(customer))
    }

    /// Units `customer` bought and has not had returned (the stored part of
    /// its count; held units are derived from the holds).
    pub fn customer_sold(&self, customer: &CustomerId) -> u64 {
        units_of(&self.sold_by, customer)
    }

    /// The conservation law, without overflow.
    pub fn is_conserved(&self) -> bool {
        self.available
            .checked_add(self.reserved)
            .and_then(|n| n.checked_add(self.sold))
            == Some(self.stocked)
    }

    /// The earliest instant at which some hold expires.
    pub fn next_expiry(&self) -> Option<Millis> {
        self.expiries.first().map(|&(at, _)| at)
    }

    pub fn set_sale(&mut self, rules: SaleRules) {
        self.sale = rules;
        self.settled();
    }
}

/// Operations on sold and stocked units.
impl SkuState {
    /// Returns `quantity` sold units to available (a cancelled or refunded
    /// order, restocked). The customer's bought count drops by as much, but
    /// never below zero: units it still holds keep counting.
    pub fn unsell(
        &mut self,
        customer: Option<&CustomerId>,
        quantity: u64,
    ) -> Result<Levels, SkuError> {
        let Some(sold) = self.sold.checked_sub(quantity).filter(|_| quantity > 0) else {
            return Err(SkuError::InvalidQuantity);
        };
        self.sold = sold;
        // Cannot wrap: available + sold <= stocked held before the move.
        self.available = self.available.saturating_add(quantity);
        // Bought units only: a count that reaches zero stops there, so units
        // the customer still holds keep counting against its limit.
        sub_units(&mut self.sold_by, customer, quantity);
        Ok(self.settled())
    }

    /// Adds `quantity` new units, all available.
    pub fn restock(&mut self, quantity: u64) -> Result<Levels, SkuError> {
        let stocked = self.stocked.checked_add(quantity).filter(|_| quantity > 0);
        let available = self.available.checked_add(quantity);
        let (Some(stocked), Some(available)) = (stocked, available) else {
            return Err(SkuError::InvalidQuantity);
        };
        self.stocked = stocked;
        self.available = available;
        Ok(self.settled())
    }

    /// Sets the stock count (a physical count); held and sold units stay, so
    /// available becomes what is left. Refused below reserved + sold.
    pub fn set_stocked(&mut self, stocked: u64) -> Result<Levels, SkuError> {
        let refused = SkuError::StockBelowCommitted {
            requested: stocked,
            reserved: self.reserved,
            sold: self.sold,
        };
        let committed = self.reserved.checked_add(self.sold);
        let Some(available) = committed.and_then(|c| stocked.checked_sub(c)) else {
            return Err(refused);
        };
        self.stocked = stocked;
        self.available = available;
        Ok(self.settled())
    }
}

/// Private steps. The `*_units` moves run only after their checks passed;
/// they saturate rather than panic, and any resulting imbalance is caught
/// by the conservation assert in `settled`.
impl SkuState {
    fn settled(&self) -> Levels {
        let levels = self.levels();
        assert!(self.is_conserved(), "conservation law broken: {levels:?}");
        levels
    }

    fn live_hold(&self, holder: &HoldId, now: Millis) -> Result<&Hold, SkuError> {
        match self.holds.get(holder) {
            None => Err(SkuError::UnknownHold(holder.clone())),
            Some(hold) if hold.expires_at <= now => Err(SkuError::HoldExpired(holder.clone())),
            Some(hold) => Ok(hold),
        }
    }

    fn check_limit(&self, customer: Option<&CustomerId>, extra: u64) -> Result<(), SkuError> {
        let (Some(customer), Some(limit)) = (customer, self.sale.per_customer_limit) else {
            return Ok(());
        };
        let already = self.customer_units(customer);
        match already.checked_add(extra) {
            Some(total) if total <= limit => Ok(()),
            _ => Err(SkuError::LimitExceeded {
                limit,
                already,
                requested: extra,
            }),
        }
    }

    fn check_available(&self, extra: u64) -> Result<(), SkuError> {
        if extra > self.available {
            return Err(SkuError::InsufficientStock {
                available: self.available,
                requested: extra,
            });
        }
        Ok(())
    }

    fn reserve_units(&mut self, customer: Option<&CustomerId>, units: u64) {
        self.available = self.available.saturating_sub(units);
        self.reserved = self.reserved.saturating_add(units);
        add_units(&mut self.held_by, customer, units);
    }

    fn unreserve_units(&mut self, customer: Option<&CustomerId>, units: u64) {
        self.reserved = self.reserved.saturating_sub(units);
        self.available = self.available.saturating_add(units);
        sub_units(&mut self.held_by, customer, units);
    }

    /// Held units become sold units, and count as bought for the customer.
    fn sell_units(&mut self, customer: Option<&CustomerId>, units: u64) {
        self.reserved = self.reserved.saturating_sub(units);
        self.sold = self.sold.saturating_add(units);
        sub_units(&mut self.held_by, customer, units);
        // Saturates only for a caller that keeps un-selling anonymously.
        add_units(&mut self.sold_by, customer, units);
    }

    fn insert_hold(&mut self, hold: Hold) {
        self.expiries.insert((hold.expires_at, hold.holder.clone()));
        self.holds.insert(hold.holder.clone(), hold);
    }

    fn remove_hold(&mut self, holder: &HoldId) -> Option<Hold> {
        let hold = self.holds.remove(holder)?;
        self.expiries
            .remove(&(hold.expires_at, hold.holder.clone()));
        Some(hold)
    }

    fn rewrite_hold(&mut self, holder: &HoldId, quantity: u64, expires_at: Millis) {
        if let Some(hold) = self.holds.get_mut(holder) {
            self.expiries.remove(&(hold.expires_at, holder.clone()));
            self.expiries.insert((expires_at, holder.clone()));
            hold.quantity = quantity;
            hold.expires_at = expires_at;
        }
    }
}

fn units_of(counts: &BTreeMap<CustomerId, u64>, customer: &CustomerId) -> u64 {
    counts.get(customer).copied().unwrap_or(0)
}

fn add_units(counts: &mut BTreeMap<CustomerId, u64>, customer: Option<&CustomerId>, units: u64) {
    let Some(customer) = customer.filter(|_| units > 0) else {
        return;
    };
    match counts.get_mut(customer) {
        Some(count) => *count = count.saturating_add(units),
        None => {
            counts.insert(customer.clone(), units);
        }
    }
}

/// Lowers a count, dropping the entry at zero so idle customers cost nothing.
fn sub_units(counts: &mut BTreeMap<CustomerId, u64>, customer: Option<&CustomerId>, units: u64) {
    let Some(customer) = customer else { return };
    if let Some(count) = counts.get_mut(customer) {
        *count = count.saturating_sub(units);
        if *count == 0 {
            counts.remove(customer);
        }
    }
}
