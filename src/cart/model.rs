//! The cart record and how it reads: lines with their holds, prices and
//! status, the subtotal, and where the cart stands (open, checking out,
//! checked out).

use crate::clock::Millis;
use crate::domain::{CartId, Currency, CustomerId, Money, OrderId, ProductId, Sku};
use crate::idempotency::IdempotencyKey;
use serde::{Deserialize, Serialize};

/// Idempotency-Keys a cart remembers (its most recent unsafe calls).
pub const RECENT_KEYS: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CartState {
    Open,
    /// A checkout saga for this order is running: lines are frozen.
    CheckingOut(OrderId),
    CheckedOut(OrderId),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartLine {
    pub sku: Sku,
    pub product_id: ProductId,
    pub title: String,
    pub quantity: u64,
    pub unit_price: Money,
    /// When the stock held for this line returns to the shelf.
    pub hold_expires_at: Millis,
    /// Set when the line holds no stock (and why): the SKU refused a change.
    pub unavailable: Option<String>,
}

impl CartLine {
    /// Why the line holds no stock at `now`, if it does not.
    pub fn unavailable_reason(&self, now: Millis) -> Option<&str> {
        if let Some(reason) = &self.unavailable {
            return Some(reason);
        }
        (self.hold_expires_at <= now).then_some("reservation-expired")
    }

    pub fn line_total(&self) -> Option<Money> {
        self.unit_price.times(self.quantity)
    }
}

/// An unsafe call the cart has answered, for Idempotency-Key replays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentKey {
    pub key: IdempotencyKey,
    pub digest: [u8; 32],
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cart {
    pub id: CartId,
    pub currency: Currency,
    pub customer_id: Option<CustomerId>,
    pub lines: Vec<CartLine>,
    pub state: CartState,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// Digest of the create request (a keyed create retried must match).
    pub create_digest: [u8; 32],
    pub recent_keys: Vec<RecentKey>,
}

impl Cart {
    pub fn line(&self, sku: &Sku) -> Option<&CartLine> {
        self.lines.iter().find(|l| l.sku == *sku)
    }

    pub fn line_mut(&mut self, sku: &Sku) -> Option<&mut CartLine> {
        self.lines.iter_mut().find(|l| l.sku == *sku)
    }

    /// The total of the lines that hold stock at `now`.
    pub fn subtotal(&self, now: Millis) -> Money {
        let zero = Money {
            amount: 0,
            currency: self.currency,
        };
        self.lines
            .iter()
            .filter(|l| l.unavailable_reason(now).is_none())
            .filter_map(CartLine::line_total)
            .fold(zero, |sum, t| sum.plus(t).unwrap_or(sum))
    }

    /// Whether `key` answered a call already: `Some(true)` for the same
    /// request, `Some(false)` for a different one.
    pub fn replay(&self, key: &IdempotencyKey, digest: &[u8; 32]) -> Option<bool> {
        self.recent_keys
            .iter()
            .find(|k| k.key == *key)
            .map(|k| k.digest == *digest)
    }

    /// Remembers a key, forgetting the oldest beyond [`RECENT_KEYS`].
    pub fn remember(&mut self, key: IdempotencyKey, digest: [u8; 32]) {
        if self.recent_keys.len() >= RECENT_KEYS {
            self.recent_keys.remove(0);
        }
        self.recent_keys.push(RecentKey { key, digest });
    }
}
