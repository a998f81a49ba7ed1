//! Products and variants as the catalog stores them, and the validated input
//! that creates or replaces one.

use crate::domain::{BoundedText, Money, ProductId, Sku};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Most variants one product may have.
pub const VARIANTS_MAX: usize = 100;
/// Most attributes one product may have.
pub const ATTRIBUTES_MAX: usize = 32;

/// A product as stored. `revision` grows by one on every replace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub id: ProductId,
    pub title: BoundedText,
    pub description: BoundedText,
    pub category: BoundedText,
    pub attributes: BTreeMap<BoundedText, BoundedText>,
    pub variants: Vec<Variant>,
    pub archived: bool,
    pub revision: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    pub sku: Sku,
    pub title: BoundedText,
    pub price: Money,
}

/// A validated product definition from a client or the seed file. It
/// serializes only to identify a request (an Idempotency-Key's digest).
#[derive(Debug, Clone, Serialize)]
pub struct NewProduct {
    pub id: Option<ProductId>,
    pub title: BoundedText,
    pub description: BoundedText,
    pub category: BoundedText,
    pub attributes: BTreeMap<BoundedText, BoundedText>,
    pub variants: Vec<NewVariant>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NewVariant {
    pub sku: Sku,
    pub title: BoundedText,
    pub price: Money,
    /// Units in stock when the SKU is first created (the seed sets it; the
    /// admin API creates SKUs with none and restocks them).
    pub initial_stock: u64,
}

impl NewProduct {
    /// The stored product this definition describes.
    pub fn into_product(self, id: ProductId, revision: u64) -> Product {
        Product {
            id,
            title: self.title,
            description: self.description,
            category: self.category,
            attributes: self.attributes,
            variants: self
                .variants
                .into_iter()
                .map(|v| Variant {
                    sku: v.sku,
                    title: v.title,
                    price: v.price,
                })
                .collect(),
            archived: false,
            revision,
        }
    }
}
