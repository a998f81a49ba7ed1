//! The life of a hold: taken, resized, released, committed (sold), expired.

use super::{Hold, Levels, Millis, SkuError, SkuState};
use crate::domain::{CustomerId, HoldId};

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
        self.live_hold(holder, now)?;
        let hold = self
            .remove_hold(holder)
            .ok_or_else(|| SkuError::UnknownHold(holder.clone()))?;
        self.sell_units(hold.customer.as_ref(), hold.quantity);
        self.settled();
        Ok(hold)
    }

    /// Sells a hold whatever its expiry. Only for start-up recovery, which
    /// finishes sales decided (paid for) before the process stopped, before
    /// any expiry runs.
    pub fn commit_recovered(&mut self, holder: &HoldId) -> Result<Hold, SkuError> {
        let hold = self
            .remove_hold(holder)
            .ok_or_else(|| SkuError::UnknownHold(holder.clone()))?;
        self.sell_units(hold.customer.as_ref(), hold.quantity);
        self.settled();
        Ok(hold)
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
