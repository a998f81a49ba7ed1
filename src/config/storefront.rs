//! The sections of the storefront's capabilities: the catalog, the
//! inventory and the carts, each with its defaults and limits, and the
//! checks that refuse limits the server could not honour.

use super::first_failure;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Upper bound of `inventory.purchase_quantity_max` and `cart.quantity_max`:
/// with prices capped at 10^12 minor units, no order total can overflow.
const PURCHASE_QUANTITY_LIMIT: u64 = 1_000_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogSettings {
    /// Seed catalog loaded on first start; empty means start with no products.
    pub seed_file: PathBuf,
    /// Page size when a list request gives no `limit`.
    pub page_limit_default: usize,
    /// Largest `limit` a list request may ask for.
    pub page_limit_max: usize,
    /// `max-age` of catalog reads, in seconds; 0 makes caches revalidate.
    pub cache_max_age_secs: u64,
    /// Largest body `POST /v1/admin/catalog/import` reads (it streams, so
    /// this bounds an import's length, not its memory).
    pub import_body_max_bytes: u64,
}

impl Default for CatalogSettings {
    fn default() -> Self {
        Self {
            seed_file: PathBuf::from("data/catalog.json"),
            page_limit_default: 20,
            page_limit_max: 100,
            cache_max_age_secs: 0,
            import_body_max_bytes: 256 * 1024 * 1024,
        }
    }
}

impl CatalogSettings {
    pub(super) fn validate(&self) -> Result<(), String> {
        first_failure(&[
            (
                "catalog.page_limit_max must be at least 1",
                self.page_limit_max >= 1,
            ),
            (
                "catalog.page_limit_default must be between 1 and catalog.page_limit_max",
                (1..=self.page_limit_max).contains(&self.page_limit_default),
            ),
            (
                "catalog.import_body_max_bytes must be at least 1024",
                self.import_body_max_bytes >= 1024,
            ),
        ])
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InventorySettings {
    /// How long a flash-sale order holds its stock awaiting payment.
    pub payment_window_secs: u64,
    /// Most messages waiting for one SKU actor; beyond it callers get 503.
    pub mailbox_capacity: usize,
    /// Arbiter threads the SKU actors are sharded over; 0 means one per core.
    pub shards: usize,
    /// A SKU actor with nothing to do for this long is passivated.
    pub idle_passivate_secs: u64,
    /// Most units one purchase may ask for.
    pub purchase_quantity_max: u64,
    /// Orders the idempotency filter is sized for (about 1.2 bytes each);
    /// beyond it, retried keys cost a store read more often, never a mistake.
    pub order_filter_items: usize,
}

impl Default for InventorySettings {
    fn default() -> Self {
        Self {
            payment_window_secs: 600,
            mailbox_capacity: 1024,
            shards: 0,
            idle_passivate_secs: 60,
            purchase_quantity_max: 100,
            order_filter_items: 10_000_000,
        }
    }
}

impl InventorySettings {
    pub(super) fn validate(&self) -> Result<(), String> {
        first_failure(&[
            (
                "inventory.payment_window_secs must be at least 1",
                self.payment_window_secs >= 1,
            ),
            (
                "inventory.mailbox_capacity must be at least 1",
                self.mailbox_capacity >= 1,
            ),
            (
                "inventory.idle_passivate_secs must be at least 1",
                self.idle_passivate_secs >= 1,
            ),
            (
                "inventory.purchase_quantity_max must be between 1 and 1000000",
                (1..=PURCHASE_QUANTITY_LIMIT).contains(&self.purchase_quantity_max),
            ),
            (
                "inventory.order_filter_items must be at least 1",
                self.order_filter_items >= 1,
            ),
        ])
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CartSettings {
    /// How long a cart line holds its stock, renewed by every change to it.
    pub reservation_ttl_secs: u64,
    /// How long every hold must still last when checkout starts (longer
    /// than a payment can take): shorter holds are extended to it.
    pub checkout_hold_secs: u64,
    /// Most lines in one cart.
    pub lines_max: usize,
    /// Most units in one line.
    pub quantity_max: u64,
    /// Currency of a cart created without one.
    pub default_currency: crate::domain::Currency,
    /// A cart actor idle for this long is passivated.
    pub idle_passivate_secs: u64,
    /// Most calls waiting for one cart actor; beyond it callers get 503.
    pub mailbox_capacity: usize,
}

impl Default for CartSettings {
    fn default() -> Self {
        Self {
            reservation_ttl_secs: 900,
            checkout_hold_secs: 300,
            lines_max: 50,
            quantity_max: 100,
            default_currency: crate::domain::Currency::parse("EUR")
                .unwrap_or_else(|_| unreachable!("EUR is an ISO 4217 code")),
            idle_passivate_secs: 60,
            mailbox_capacity: 32,
        }
    }
}

impl CartSettings {
    pub(super) fn validate(&self) -> Result<(), String> {
        first_failure(&[
            (
                "cart.reservation_ttl_secs must be at least 1",
                self.reservation_ttl_secs >= 1,
            ),
            (
                "cart.checkout_hold_secs must be at least 1",
                self.checkout_hold_secs >= 1,
            ),
            ("cart.lines_max must be at least 1", self.lines_max >= 1),
            (
                "cart.quantity_max must be between 1 and 1000000",
                (1..=PURCHASE_QUANTITY_LIMIT).contains(&self.quantity_max),
            ),
            (
                "cart.idle_passivate_secs must be at least 1",
                self.idle_passivate_secs >= 1,
            ),
            (
                "cart.mailbox_capacity must be at least 1",
                self.mailbox_capacity >= 1,
            ),
        ])
    }
}
