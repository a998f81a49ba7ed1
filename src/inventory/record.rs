//! The durable per-SKU stock record and its conservation law.

use crate::domain::ProductId;
use serde::{Deserialize, Serialize};

/// Stock of one SKU. `available + reserved + sold == stocked` always holds;
/// unsigned fields make "none negative" hold by construction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockRecord {
    /// The product that created this SKU. A SKU belongs to it forever, also
    /// after it is archived, so order history never points at a stranger.
    pub product_id: ProductId,
    pub stocked: u64,
    pub available: u64,
    pub reserved: u64,
    pub sold: u64,
}

impl StockRecord {
    /// A new SKU with `stocked` units, all available.
    pub fn new(product_id: ProductId, stocked: u64) -> Self {
        Self {
            product_id,
            stocked,
            available: stocked,
            reserved: 0,
            sold: 0,
        }
    }

    /// The conservation law. A record read from disk that breaks it is corrupt.
    pub fn is_conserved(&self) -> bool {
        self.available
            .checked_add(self.reserved)
            .and_then(|n| n.checked_add(self.sold))
            == Some(self.stocked)
    }
}
