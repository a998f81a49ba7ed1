//! Inventory: how many units of each SKU exist and where they are
//! (available, reserved, sold). One actor per SKU owns that state
//! ([`sku_actor`]), backed by a pure state machine ([`sku`]); [`Inventory`]
//! is the handle everything else uses. Published availability counts let
//! read paths answer without messaging the owner.

mod availability;
mod error;
mod hold_pages;
mod persist;
mod registry;
mod restock;
pub mod sku;
mod sku_actor;

pub use availability::{Availability, StockUpdate};
pub use error::InventoryError;
pub use persist::{sell_offline, stored_levels, SkuRecord};
pub use registry::{Inventory, InventoryParts};
pub use restock::{RestockReceipt, Restocked};
pub use sku::{Hold, Levels, SaleRules, SkuError, SkuState};
pub use sku_actor::{LapsedHolds, Reserve, Standing, TakeHold};
