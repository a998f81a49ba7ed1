//! What clients read: the JSON shapes of catalog resources.

use super::cache::Shown;
use crate::catalog::{Product, Variant};
use crate::domain::{Money, ProductId};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct ProductView {
    pub id: String,
    pub title: String,
    pub description: String,
    pub category: String,
    pub attributes: BTreeMap<String, String>,
    pub variants: Vec<VariantView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VariantView {
    pub sku: String,
    pub title: String,
    pub price: Money,
    /// Units that can be bought now.
    pub available: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SkuView {
    pub sku: String,
    pub product_id: String,
    pub title: String,
    pub price: Money,
    pub available: u64,
}

/// A page of a list; pass `next_cursor` as `?cursor=` for the next page.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductPage {
    pub items: Vec<ProductView>,
    pub next_cursor: Option<String>,
}

impl ProductView {
    pub fn new(p: &Product, shown: &mut Shown<'_>) -> Self {
        Self {
            id: p.id.to_string(),
            title: p.title.as_str().to_owned(),
            description: p.description.as_str().to_owned(),
            category: p.category.as_str().to_owned(),
            attributes: p
                .attributes
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.as_str().to_owned()))
                .collect(),
            variants: p
                .variants
                .iter()
                .map(|v| VariantView::new(v, shown))
                .collect(),
        }
    }
}

impl VariantView {
    fn new(v: &Variant, shown: &mut Shown<'_>) -> Self {
        Self {
            sku: v.sku.to_string(),
            title: v.title.as_str().to_owned(),
            price: v.price,
            available: shown.available(&v.sku),
        }
    }
}

impl SkuView {
    pub fn new(p: &Product, v: &Variant, shown: &mut Shown<'_>) -> Self {
        Self {
            sku: v.sku.to_string(),
            product_id: p.id.to_string(),
            title: v.title.as_str().to_owned(),
            price: v.price,
            available: shown.available(&v.sku),
        }
    }
}

/// Cursors are opaque to clients: the hex of the last id seen.
pub fn encode_cursor(after: &ProductId) -> String {
    hex::encode(after.as_str())
}

pub fn decode_cursor(cursor: &str) -> Option<ProductId> {
    let bytes = hex::decode(cursor).ok()?;
    ProductId::parse(std::str::from_utf8(&bytes).ok()?).ok()
}
