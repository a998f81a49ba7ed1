//! Inventory: how many units of each SKU exist and where they are
//! (available, reserved, sold). The durable per-SKU record lives here, and so
//! do the published availability counts that read paths use without asking
//! the SKU's owner.

mod availability;
mod record;

pub use availability::Availability;
pub use record::StockRecord;
