//! A deliberately naive model of one SKU for the property test.

use super::{cid, hid, levels};
use crate::domain::{CustomerId, HoldId};
use crate::inventory::sku::{Hold, Levels, Millis, SaleRules, SkuError};

pub(super) const HOLDERS: usize = 4;
pub(super) const CUSTOMERS: usize = 3;

pub(super) fn holder_id(i: usize) -> HoldId {
    hid(&format!("h{i}"))
}

pub(super) fn customer_id(i: usize) -> CustomerId {
    cid(&format!("c{i}"))
}

/// A deliberately naive SKU: a list of holds and two plain counters, in u128
/// so nothing can wrap unnoticed. Reserved, available and per-customer
/// counts are recomputed by summing every time they are needed.
#[derive(Debug, Clone)]
pub(super) struct Model {
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
pub(super) enum Out {
    Levels(Levels),
    Hold(Hold),
    Holds(Vec<Hold>),
    Nothing,
}

impl Model {
    pub(super) fn new(stocked: u64) -> Self {
        Self {
            stocked: stocked.into(),
            sold: 0,
            holds: Vec::new(),
            bought: [0; CUSTOMERS],
            sale: SaleRules::default(),
        }
    }

    pub(super) fn set_sale(&mut self, rules: SaleRules) {
        self.sale = rules;
    }

    pub(super) fn hold_of(&self, holder: usize) -> Option<Hold> {
        self.find(holder).map(|i| self.holds[i].real())
    }

    pub(super) fn hold_count(&self) -> usize {
        self.holds.len()
    }

    pub(super) fn bought(&self, customer: usize) -> u64 {
        self.bought[customer]
    }

    fn reserved(&self) -> u128 {
        self.holds.iter().map(|h| h.quantity).sum()
    }

    fn available(&self) -> u128 {
        self.stocked - self.reserved() - self.sold
    }

    pub(super) fn levels(&self) -> Levels {
        levels(
            small(self.stocked),
            small(self.available()),
            small(self.reserved()),
            small(self.sold),
        )
    }

    /// Held plus bought, saturating like the real count.
    pub(super) fn units(&self, customer: usize) -> u64 {
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

    pub(super) fn next_expiry(&self) -> Option<Millis> {
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
    pub(super) fn hold(
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

    pub(super) fn resize(
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

    pub(super) fn release(&mut self, holder: usize) -> Result<Out, SkuError> {
        let i = self
            .find(holder)
            .ok_or(SkuError::UnknownHold(holder_id(holder)))?;
        Ok(Out::Hold(self.holds.remove(i).real()))
    }

    pub(super) fn commit(&mut self, holder: usize, now: Millis) -> Result<Out, SkuError> {
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

    pub(super) fn unsell(&mut self, customer: Option<usize>, q: u64) -> Result<Out, SkuError> {
        if q == 0 || u128::from(q) > self.sold {
            return Err(SkuError::InvalidQuantity);
        }
        self.sold -= u128::from(q);
        if let Some(c) = customer {
            self.bought[c] = self.bought[c].saturating_sub(q);
        }
        Ok(Out::Levels(self.levels()))
    }

    pub(super) fn restock(&mut self, q: u64) -> Result<Out, SkuError> {
        if q == 0 || self.stocked + u128::from(q) > u128::from(u64::MAX) {
            return Err(SkuError::InvalidQuantity);
        }
        self.stocked += u128::from(q);
        Ok(Out::Levels(self.levels()))
    }

    pub(super) fn set_stocked(&mut self, stocked: u64) -> Result<Out, SkuError> {
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

    pub(super) fn expire(&mut self, now: Millis) -> Vec<Hold> {
        let (mut due, kept): (Vec<_>, Vec<_>) =
            self.holds.drain(..).partition(|h| h.expires_at <= now);
        self.holds = kept;
        due.sort_by_key(|h| (h.expires_at, h.holder));
        due.iter().map(ModelHold::real).collect()
    }
}
