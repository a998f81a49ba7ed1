//! Catalog export: each live product as one JSON line, in the shape
//! `POST /v1/admin/products` (and the import) takes, so an export imported
//! again changes nothing, and imported into an empty store recreates the
//! catalog. Its `stock` is the SKU's units not sold yet (available and
//! held), what a new store would start with.

use super::model::Product;
use crate::domain::{Money, Sku};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Serialize)]
struct Line<'a> {
    id: &'a str,
    title: &'a str,
    description: &'a str,
    category: &'a str,
    attributes: BTreeMap<&'a str, &'a str>,
    variants: Vec<VariantLine<'a>>,
}

#[derive(Serialize)]
struct VariantLine<'a> {
    sku: &'a str,
    title: &'a str,
    price: &'a Money,
    stock: u64,
}

/// Appends `product` as one JSON line (ending in a newline) to `out`;
/// `stock` gives each SKU's units.
pub fn write_line(
    product: &Product,
    mut stock: impl FnMut(&Sku) -> u64,
    out: &mut Vec<u8>,
) -> Result<(), serde_json::Error> {
    let line = Line {
        id: product.id.as_str(),
        title: product.title.as_str(),
        description: product.description.as_str(),
        category: product.category.as_str(),
        attributes: product
            .attributes
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect(),
        variants: product
            .variants
            .iter()
            .map(|v| VariantLine {
                sku: v.sku.as_str(),
                title: v.title.as_str(),
                price: &v.price,
                stock: stock(&v.sku),
            })
            .collect(),
    };
    serde_json::to_writer(&mut *out, &line)?;
    out.push(b'\n');
    Ok(())
}
