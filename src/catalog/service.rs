//! The catalog service: the single writer of products. Admin writes are rare,
//! so they are serialized by one async lock; each one is made durable by the
//! committer before the new snapshot is published, so a client is never shown
//! (or acknowledged) a change that a crash could undo.

use super::error::CatalogError;
use super::model::{NewProduct, Product};
use super::snapshot::Snapshot;
use crate::domain::{ProductId, Sku};
use crate::idempotency::{request_digest, Answered, Idempotency, IdempotencyKey};
use crate::inventory::{Availability, SkuRecord};
use crate::store::{keys, Store, StoreError, WriteGroup};
use parking_lot::RwLock;
use std::collections::HashSet;
use std::sync::Arc;

pub struct Catalog {
    pub(super) store: Store,
    pub(super) availability: Availability,
    idempotency: Idempotency,
    pub(super) snapshot: RwLock<Arc<Snapshot>>,
    /// Serializes writers; readers never take it.
    pub(super) writer: tokio::sync::Mutex<()>,
}

impl Catalog {
    /// Loads every product and stock record from the store, publishing each
    /// SKU's available count.
    pub fn load(
        store: Store,
        availability: Availability,
        idempotency: Idempotency,
    ) -> Result<Self, CatalogError> {
        let mut snapshot = Snapshot::default();
        let stock: Vec<(Vec<u8>, SkuRecord)> = store.scan(keys::INVENTORY)?;
        let mut owned: std::collections::HashMap<ProductId, Vec<Sku>> = Default::default();
        for (key, record) in stock {
            let sku = sku_of(&key)?;
            availability.publish(&sku, record.levels.available);
            owned.entry(record.product_id).or_default().push(sku);
        }
        for (_, product) in store.scan::<Product>(keys::PRODUCT)? {
            let skus = owned.remove(&product.id).unwrap_or_default();
            snapshot.insert(product, &skus);
        }
        Ok(Self {
            store,
            availability,
            idempotency,
            snapshot: RwLock::new(Arc::new(snapshot)),
            writer: tokio::sync::Mutex::new(()),
        })
    }

    /// The current snapshot. Cheap: one `Arc` clone under a read lock.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.read().clone()
    }

    pub fn availability(&self) -> &Availability {
        &self.availability
    }

    /// Creates a product and its SKUs (with their initial stock) in one
    /// commit, once per Idempotency-Key: a retry answers the id of the
    /// product the key created.
    pub async fn create(
        &self,
        mut new: NewProduct,
        key: Option<&IdempotencyKey>,
    ) -> Result<Answered<ProductId>, CatalogError> {
        let encoded = postcard::to_stdvec(&new)
            .map_err(|e| StoreError::io(format!("encoding a product: {e}")))?;
        let digest = request_digest(&[&encoded]);
        self.idempotency
            .once(&self.store, "product", key, digest, |keyed| async move {
                // The id is fixed first: the receipt names it.
                let id = new.id.get_or_insert_with(ProductId::generate).clone();
                let mut extra = WriteGroup::new();
                if let Some(keyed) = keyed {
                    keyed.record(&mut extra, &id)?;
                }
                self.create_all(vec![new], extra).await?;
                Ok(id)
            })
            .await
    }

    /// Creates several products atomically, together with the `extra` writes:
    /// all of them or none (the seed and its marker).
    pub async fn create_all(
        &self,
        news: Vec<NewProduct>,
        extra: WriteGroup,
    ) -> Result<Vec<Arc<Product>>, CatalogError> {
        let _writer = self.writer.lock().await;
        let current = self.snapshot();
        let mut next = current.successor();
        let mut group = extra;
        let mut created = Vec::new();
        let mut stock = Vec::new();
        for new in news {
            let id = new.id.clone().unwrap_or_else(ProductId::generate);
            if next.product(&id).is_some() {
                return Err(CatalogError::ProductExists(id));
            }
            let new_skus = claim_skus(&next, &id, &new)?;
            for v in &new.variants {
                let record = SkuRecord::new(id.clone(), v.initial_stock);
                group.put(keys::inventory(v.sku.as_str()), &record)?;
                stock.push((v.sku.clone(), v.initial_stock));
            }
            let product = new.into_product(id, 1);
            group.put(keys::product(product.id.as_str()), &product)?;
            next.insert(product.clone(), &new_skus);
            created.push(product);
        }
        self.store.commit(group).await?;
        for (sku, units) in stock {
            self.availability.publish(&sku, units);
        }
        *self.snapshot.write() = Arc::new(next);
        let snapshot = self.snapshot();
        Ok(created
            .iter()
            .filter_map(|p| snapshot.product(&p.id).map(|e| e.product.clone()))
            .collect())
    }

    /// Replaces a live product's definition if `precondition` accepts the
    /// product's current definition tag (the HTTP layer's If-Match). New SKUs start with their given
    /// stock; removed ones stay owned by this product (history) but are not sold.
    pub async fn replace(
        &self,
        id: &ProductId,
        new: NewProduct,
        precondition: impl Fn(&str) -> bool,
    ) -> Result<Arc<Product>, CatalogError> {
        let _writer = self.writer.lock().await;
        let current = self.snapshot();
        let entry = live(&current, id)?;
        if !precondition(&entry.definition_tag) {
            return Err(CatalogError::PreconditionFailed {
                current: entry.definition_tag.clone(),
            });
        }
        let new_skus = claim_skus(&current, id, &new)?;
        let mut group = WriteGroup::new();
        let mut stock = Vec::new();
        for (index, v) in new.variants.iter().enumerate() {
            if new_skus.contains(&v.sku) {
                group.put(
                    keys::inventory(v.sku.as_str()),
                    &SkuRecord::new(id.clone(), v.initial_stock),
                )?;
                stock.push((v.sku.clone(), v.initial_stock));
            } else if v.initial_stock > 0 {
                return Err(CatalogError::StockOfExistingSku { index });
            }
        }
        let product = new.into_product(id.clone(), entry.product.revision + 1);
        group.put(keys::product(id.as_str()), &product)?;
        self.store.commit(group).await?;
        for (sku, units) in stock {
            self.availability.publish(&sku, units);
        }
        self.publish(current.with(product, &new_skus), id)
    }

    /// Archives a product: no longer listed, its SKUs no longer sold, its
    /// record kept for history. Archiving an archived product is a no-op.
    pub async fn archive(&self, id: &ProductId) -> Result<(), CatalogError> {
        let _writer = self.writer.lock().await;
        let current = self.snapshot();
        let entry = current
            .product(id)
            .ok_or_else(|| CatalogError::ProductNotFound(id.to_string()))?;
        if entry.product.archived {
            return Ok(());
        }
        let mut product = (*entry.product).clone();
        product.archived = true;
        product.revision += 1;
        let mut group = WriteGroup::new();
        group.put(keys::product(id.as_str()), &product)?;
        self.store.commit(group).await?;
        self.publish(current.with(product, &[]), id).map(drop)
    }

    fn publish(&self, next: Snapshot, id: &ProductId) -> Result<Arc<Product>, CatalogError> {
        let product = next
            .product(id)
            .map(|e| e.product.clone())
            .ok_or_else(|| CatalogError::ProductNotFound(id.to_string()));
        *self.snapshot.write() = Arc::new(next);
        product
    }
}

/// A live (not archived) product, or why there is none.
pub fn live<'a>(
    snapshot: &'a Snapshot,
    id: &ProductId,
) -> Result<&'a super::snapshot::Entry, CatalogError> {
    match snapshot.product(id) {
        None => Err(CatalogError::ProductNotFound(id.to_string())),
        Some(e) if e.product.archived => Err(CatalogError::ProductArchived(id.clone())),
        Some(e) => Ok(e),
    }
}

/// Checks that `new`'s SKUs are unique and free for product `id`; returns
/// those that do not exist yet.
pub(super) fn claim_skus(
    snapshot: &Snapshot,
    id: &ProductId,
    new: &NewProduct,
) -> Result<Vec<Sku>, CatalogError> {
    let mut seen = HashSet::new();
    let mut fresh = Vec::new();
    for v in &new.variants {
        if !seen.insert(&v.sku) {
            return Err(CatalogError::RepeatedSku(v.sku.clone()));
        }
        match snapshot.owner(&v.sku) {
            Some(owner) if owner != id => {
                return Err(CatalogError::DuplicateSku {
                    sku: v.sku.clone(),
                    owner: owner.clone(),
                })
            }
            Some(_) => {}
            None => fresh.push(v.sku.clone()),
        }
    }
    Ok(fresh)
}

fn sku_of(key: &[u8]) -> Result<Sku, CatalogError> {
    let raw = key.strip_prefix(keys::INVENTORY).unwrap_or(key);
    let corrupt = |reason: String| {
        CatalogError::Store(crate::store::StoreError::Corrupt {
            key: String::from_utf8_lossy(key).into_owned(),
            reason,
        })
    };
    let text = std::str::from_utf8(raw).map_err(|e| corrupt(e.to_string()))?;
    Sku::parse(text).map_err(|e| corrupt(e.to_string()))
}
