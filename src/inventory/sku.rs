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

use crate::domain::{CustomerId, HoldId, ProductId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

pub use crate::clock::Millis;

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

/// Why a SKU refused an operation. Each variant carries the facts a client
/// needs to act on the refusal; `code()` is its stable machine-readable name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkuError {
    #[error("only {available} available, {requested} requested")]
    InsufficientStock { available: u64, requested: u64 },
    #[error("at most {limit} per customer: {already} already held or bought, {requested} more requested")]
    LimitExceeded {
        limit: u64,
        already: u64,
        requested: u64,
    },
    #[error("the sale starts at {starts_at} ms")]
    SaleNotStarted { starts_at: Millis },
    #[error("the sale ended at {ended_at} ms")]
    SaleEnded { ended_at: Millis },
    #[error("'{0}' already holds stock of this SKU")]
    HoldExists(HoldId),
    #[error("'{0}' holds no stock of this SKU")]
    UnknownHold(HoldId),
    #[error("the hold of '{0}' has expired")]
    HoldExpired(HoldId),
    #[error("cannot stock {requested}: {reserved} reserved and {sold} sold")]
    StockBelowCommitted {
        requested: u64,
        reserved: u64,
        sold: u64,
    },
    #[error("quantity must be at least 1 and within range")]
    InvalidQuantity,
}

impl SkuError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::InsufficientStock { .. } => "sold-out",
            Self::LimitExceeded { .. } => "limit-exceeded",
            Self::SaleNotStarted { .. } => "sale-not-started",
            Self::SaleEnded { .. } => "sale-ended",
            Self::HoldExists(_) => "hold-exists",
            Self::UnknownHold(_) => "hold-not-found",
            Self::HoldExpired(_) => "hold-expired",
            Self::StockBelowCommitted { .. } => "stock-below-committed",
            Self::InvalidQuantity => "invalid-quantity",
        }
    }
}

/// One SKU's stock. Serialized fields come first and in the order of
/// [`StoredSku`]; the two indexes after them are derived from `holds` and
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

/// The stored form of a [`SkuState`] (same fields, same order, no indexes).
#[derive(Deserialize)]
struct StoredSku {
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

/// Operations on holds.
impl SkuState {
    /// Reserves `quantity` for `holder` until `expires_at`. Checks, in order:
    /// quantity, sale window, holder not already holding, customer limit,
    /// availability.
    pub fn hold(
        &mut self,
        holder: HoldId,
        customer: Option<CustomerId>,
        quantity: u64,
        expires_at: Millis,
        now: Millis,
    ) -> Result<Levels, SkuError> {
        if quantity == 0 {
            return Err(SkuError::InvalidQuantity);
        }
        self.sale.check_window(now)?;
        if self.holds.contains_key(&holder) {
            return Err(SkuError::HoldExists(holder));
        }
        self.check_limit(customer.as_ref(), quantity)?;
        self.check_available(quantity)?;
        self.reserve_units(customer.as_ref(), quantity);
        self.insert_hold(Hold {
            holder,
            customer,
            quantity,
            expires_at,
        });
        Ok(self.settled())
    }

    /// Sets an unexpired hold to `quantity` units until `expires_at`. Growing
    /// is acquiring, so it passes the sale window, the limit and availability
    /// (for the extra units only: errors report those as `requested`);
    /// shrinking returns stock and always succeeds.
    pub fn resize(
        &mut self,
        holder: &HoldId,
        quantity: u64,
        expires_at: Millis,
        now: Millis,
    ) -> Result<Levels, SkuError> {
        if quantity == 0 {
            return Err(SkuError::InvalidQuantity);
        }
        let hold = self.live_hold(holder, now)?;
        let (old, customer) = (hold.quantity, hold.customer.clone());
        if quantity > old {
            let extra = quantity - old;
            self.sale.check_window(now)?;
            self.check_limit(customer.as_ref(), extra)?;
            self.check_available(extra)?;
            self.reserve_units(customer.as_ref(), extra);
        } else {
            self.unreserve_units(customer.as_ref(), old - quantity);
        }
        self.rewrite_hold(holder, quantity, expires_at);
        Ok(self.settled())
    }

    /// Ends a hold whatever its expiry: its units return to available and
    /// stop counting against its customer.
    pub fn release(&mut self, holder: &HoldId) -> Result<Hold, SkuError> {
        let hold = self
            .remove_hold(holder)
            .ok_or_else(|| SkuError::UnknownHold(holder.clone()))?;
        self.unreserve_units(hold.customer.as_ref(), hold.quantity);
        self.settled();
        Ok(hold)
    }

    /// Sells a hold: reserved -> sold. Its units keep counting against its
    /// customer, now as bought. An expired hold is refused and kept, so the
    /// caller expires it through the one path that also expires its order.
    pub fn commit(&mut self, holder: &HoldId, now: Millis) -> Result<Hold, SkuError> {
        let hold = self
            .remove_hold(holder)
            .ok_or_else(|| SkuError::UnknownHold(holder.clone()))?;
        let units = hold.quantity;
        // Cannot wrap: reserved holds these units and sold + reserved <= stocked.
        self.reserved = self.reserved.saturating_sub(units);
        self.sold = self.sold.saturating_add(units);
        sub_units(&mut self.held_by, hold.customer.as_ref(), units);
        // Only a caller that keeps un-selling anonymously could reach u64::MAX here.
        add_units(&mut self.sold_by, hold.customer.as_ref(), units);
        self.settled();
        Ok(hold)
    }

    /// Puts back a hold that [`expire`](Self::expire) just removed, when its
    /// expiry could not be made durable. No sale-window or limit check: the
    /// units were granted before; the holder and the stock must still be free.
    pub fn restore(&mut self, hold: Hold) -> Result<Levels, SkuError> {
        if hold.quantity == 0 {
            return Err(SkuError::InvalidQuantity);
        }
        if self.holds.contains_key(&hold.holder) {
            return Err(SkuError::HoldExists(hold.holder));
        }
        self.check_available(hold.quantity)?;
        self.reserve_units(hold.customer.as_ref(), hold.quantity);
        self.insert_hold(hold);
        Ok(self.settled())
    }

    /// Removes and returns every hold with `expires_at <= now`, earliest
    /// first, returning their units to available.
    pub fn expire(&mut self, now: Millis) -> Vec<Hold> {
        let due: Vec<HoldId> = self
            .expiries
            .iter()
            .take_while(|(at, _)| *at <= now)
            .map(|(_, holder)| holder.clone())
            .collect();
        let expired: Vec<Hold> = due
            .iter()
            .filter_map(|holder| self.remove_hold(holder))
            .collect();
        for hold in &expired {
            self.unreserve_units(hold.customer.as_ref(), hold.quantity);
        }
        self.settled();
        expired
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
