//! An immutable view of the whole catalog. Readers hold an `Arc` to one
//! snapshot for the length of a request; the writer builds the next one and
//! swaps it in, so a read never sees half of a change.
//!
//! The maps are persistent (imbl's, structurally shared): the next
//! snapshot is a copy of the current one that costs what the change
//! touches, not the size of the catalog (a `std` copy of 100,000 SKUs took
//! about 20 ms per product created).

use super::model::{Product, Variant};
use crate::domain::{ProductId, Sku};
use crate::store::codec;
use imbl::{HashMap, OrdMap};
use sha2::{Digest, Sha256};
use std::ops::Bound;
use std::sync::Arc;

/// A product with the tag of its definition (everything but stock levels).
#[derive(Debug, Clone)]
pub struct Entry {
    pub product: Arc<Product>,
    /// Changes exactly when the stored definition changes; survives restarts.
    pub definition_tag: String,
}

/// Where a SKU stands in the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkuStatus<'a> {
    /// Sold by a live product, as this variant.
    Listed(&'a Product, &'a Variant),
    /// Its product is archived, or the variant was removed from it.
    Retired,
}

/// One page of a product listing.
pub struct Page {
    pub items: Vec<Arc<Product>>,
    /// The last id on this page when more may follow.
    pub next_after: Option<ProductId>,
}

#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    products: OrdMap<ProductId, Entry>,
    /// Current variants of every product, live or archived.
    variants: HashMap<Sku, (ProductId, usize)>,
    /// Every SKU ever created, and the product that owns it forever.
    owners: HashMap<Sku, ProductId>,
    /// Counts the snapshots published since the start: equal generations,
    /// equal catalogs (what renderings of reads are checked against).
    generation: u64,
}

impl Snapshot {
    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn product(&self, id: &ProductId) -> Option<&Entry> {
        self.products.get(id)
    }

    /// The owner of `sku` if it was ever created.
    pub fn owner(&self, sku: &Sku) -> Option<&ProductId> {
        self.owners.get(sku)
    }

    pub fn sku(&self, sku: &Sku) -> Option<SkuStatus<'_>> {
        if let Some((id, index)) = self.variants.get(sku) {
            let product = &self.products.get(id)?.product;
            if !product.archived {
                return product
                    .variants
                    .get(*index)
                    .map(|v| SkuStatus::Listed(product, v));
            }
        }
        self.owners.contains_key(sku).then_some(SkuStatus::Retired)
    }

    /// Live products in id order after `after`, optionally in one category.
    pub fn page(&self, category: Option<&str>, after: Option<&ProductId>, limit: usize) -> Page {
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut items: Vec<Arc<Product>> = self
            .products
            .range::<_, ProductId>((start, Bound::Unbounded))
            .map(|(_, e)| &e.product)
            .filter(|p| !p.archived && category.is_none_or(|c| p.category.as_str() == c))
            .take(limit + 1)
            .cloned()
            .collect();
        let more = items.len() > limit;
        items.truncate(limit);
        let next_after = more.then(|| items.last().map(|p| p.id.clone())).flatten();
        Page { items, next_after }
    }

    /// This snapshot with `product` put in (added or replaced), and it
    /// recorded as the owner of the newly created `new_skus`.
    pub fn with(&self, product: Product, new_skus: &[Sku]) -> Snapshot {
        let mut next = self.successor();
        next.insert(product, new_skus);
        next
    }

    /// A copy to build the next published snapshot in.
    pub fn successor(&self) -> Snapshot {
        Snapshot {
            generation: self.generation + 1,
            ..self.clone()
        }
    }

    /// Adds or replaces a product in place (used while loading).
    pub fn insert(&mut self, product: Product, new_skus: &[Sku]) {
        if let Some(old) = self.products.get(&product.id) {
            for v in &old.product.variants {
                self.variants.remove(&v.sku);
            }
        }
        for (index, v) in product.variants.iter().enumerate() {
            self.variants
                .insert(v.sku.clone(), (product.id.clone(), index));
        }
        for sku in new_skus {
            self.owners.insert(sku.clone(), product.id.clone());
        }
        let definition_tag = definition_tag(&product);
        self.products.insert(
            product.id.clone(),
            Entry {
                product: Arc::new(product),
                definition_tag,
            },
        );
    }

    pub fn len(&self) -> usize {
        self.products.len()
    }

    pub fn is_empty(&self) -> bool {
        self.products.is_empty()
    }
}

/// A short digest of the stored encoding: equal definitions, equal tags.
fn definition_tag(product: &Product) -> String {
    let bytes = codec::encode(product).unwrap_or_default();
    hex::encode(&Sha256::digest(&bytes)[..8])
}
