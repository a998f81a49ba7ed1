//! Products put in bulk (a catalog import): many definitions, each created,
//! updated or left alone, in one commit and one new snapshot. A product
//! created one call at a time costs a commit and a copy of the whole
//! snapshot; an import of 100,000 would spend most of its time there.
//!
//! Each definition is judged on its own against the catalog as the batch
//! leaves it so far (so two products of one batch cannot claim the same
//! SKU): a refused one leaves the others alone. An unchanged definition
//! writes nothing, and a batch with nothing to write neither commits nor
//! publishes a snapshot, so importing the same file again changes nothing
//! (no revision, no ETag, no stock). Stock given for a SKU that exists is
//! ignored: an import sets the catalog, the inventory endpoints set stock.

use super::model::{NewProduct, Product};
use super::service::{claim_skus, Catalog};
use super::snapshot::Snapshot;
use super::CatalogError;
use crate::domain::Sku;
use crate::inventory::SkuRecord;
use crate::store::{keys, WriteGroup};
use std::sync::Arc;

/// What became of one definition of a batch.
#[derive(Debug)]
pub enum Put {
    Created,
    Updated,
    Unchanged,
    Refused(CatalogError),
}

/// What a definition asks of the catalog, decided before anything changes.
enum Plan {
    Write {
        product: Product,
        /// SKUs it creates, with their initial stock.
        fresh: Vec<(Sku, u64)>,
        put: Put,
    },
    Done(Put),
}

impl Catalog {
    /// Creates or updates each of `news` (each has an id), atomically for
    /// those written. `Err` only when the commit fails (then nothing of the
    /// batch is written).
    pub async fn put_all(&self, news: Vec<NewProduct>) -> Result<Vec<Put>, CatalogError> {
        let _writer = self.writer.lock().await;
        let current = self.snapshot();
        let mut next: Option<Snapshot> = None;
        let mut group = WriteGroup::new();
        let mut stock = Vec::new();
        let mut outcomes = Vec::with_capacity(news.len());
        for new in news {
            let plan = plan(next.as_ref().unwrap_or(&current), new);
            let (product, fresh, put) = match plan {
                Plan::Done(put) => {
                    outcomes.push(put);
                    continue;
                }
                Plan::Write {
                    product,
                    fresh,
                    put,
                } => (product, fresh, put),
            };
            for (sku, units) in &fresh {
                let record = SkuRecord::new(product.id.clone(), *units);
                group.put(keys::inventory(sku.as_str()), &record)?;
                stock.push((sku.clone(), *units));
            }
            group.put(keys::product(product.id.as_str()), &product)?;
            let skus: Vec<Sku> = fresh.into_iter().map(|(sku, _)| sku).collect();
            next.get_or_insert_with(|| current.successor())
                .insert(product, &skus);
            outcomes.push(put);
        }
        let Some(next) = next else {
            return Ok(outcomes);
        };
        self.store.commit(group).await?;
        for (sku, units) in stock {
            self.availability.publish(&sku, units);
        }
        *self.snapshot.write() = Arc::new(next);
        Ok(outcomes)
    }
}

/// What `new` asks of the catalog `view`.
fn plan(view: &Snapshot, new: NewProduct) -> Plan {
    let Some(id) = new.id.clone() else {
        let missing = crate::domain::FieldError::new("id", "an imported product needs an id");
        return Plan::Done(Put::Refused(CatalogError::Invalid(vec![missing])));
    };
    let existing = view.product(&id).map(|e| e.product.clone());
    if let Some(old) = &existing {
        if old.archived {
            return Plan::Done(Put::Refused(CatalogError::ProductArchived(id)));
        }
        if same_definition(old, &new) {
            return Plan::Done(Put::Unchanged);
        }
    }
    let fresh = match claim_skus(view, &id, &new) {
        Ok(fresh) => fresh,
        Err(e) => return Plan::Done(Put::Refused(e)),
    };
    let fresh: Vec<(Sku, u64)> = new
        .variants
        .iter()
        .filter(|v| fresh.contains(&v.sku))
        .map(|v| (v.sku.clone(), v.initial_stock))
        .collect();
    match existing {
        None => Plan::Write {
            product: new.into_product(id, 1),
            fresh,
            put: Put::Created,
        },
        Some(old) => Plan::Write {
            product: new.into_product(id, old.revision + 1),
            fresh,
            put: Put::Updated,
        },
    }
}

/// Whether `new` defines exactly what `product` is (stock aside).
fn same_definition(product: &Product, new: &NewProduct) -> bool {
    product.title == new.title
        && product.description == new.description
        && product.category == new.category
        && product.attributes == new.attributes
        && product.variants.len() == new.variants.len()
        && product
            .variants
            .iter()
            .zip(&new.variants)
            .all(|(v, n)| v.sku == n.sku && v.title == n.title && v.price == n.price)
}
