//! How a SKU is laid out in the store. The hot record (`inv/<sku>`) holds only
//! counters and sale rules, so it stays a few dozen bytes however many buyers
//! hold stock, and the committer coalesces it to one write per batch. Holds
//! (in pages, see [`hold_pages`](super::hold_pages)) and per-customer sold
//! counts (`cust/<sku>/<id>`) are records of their own, written only when
//! they change.

use super::error::InventoryError;
use super::hold_pages::HoldPages;
use super::sku::{Hold, Levels, SaleRules, SkuError, SkuState};
use crate::domain::{CustomerId, HoldId, ProductId, Sku};
use crate::store::{keys, Store, StoreError, WriteGroup};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The counters and rules of one SKU as stored under `inv/<sku>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkuRecord {
    /// The product that created this SKU; it owns it forever (history).
    pub product_id: ProductId,
    pub levels: Levels,
    pub sale: SaleRules,
}

impl SkuRecord {
    /// A new SKU with `stocked` units, all available.
    pub fn new(product_id: ProductId, stocked: u64) -> Self {
        let levels = Levels {
            stocked,
            available: stocked,
            reserved: 0,
            sold: 0,
        };
        Self {
            product_id,
            levels,
            sale: SaleRules::default(),
        }
    }
}

/// A SKU's counters as last committed, `None` if it was never created: for
/// readers that need no live answer from its actor (the catalog export).
pub fn stored_levels(store: &Store, sku: &Sku) -> Result<Option<Levels>, StoreError> {
    let record = store.get::<SkuRecord>(&keys::inventory(sku.as_str()))?;
    Ok(record.map(|r| r.levels))
}

/// A SKU as loaded: its state and where its holds are stored.
pub struct Loaded {
    pub state: SkuState,
    pub pages: HoldPages,
}

/// Loads a SKU's whole state, or `None` if the SKU was never created.
pub fn load(store: &Store, sku: &Sku) -> Result<Option<Loaded>, InventoryError> {
    let Some(record) = store.get::<SkuRecord>(&keys::inventory(sku.as_str()))? else {
        return Ok(None);
    };
    let mut holds: Vec<Hold> = store
        .scan::<Hold>(&keys::holds_of(sku.as_str()))?
        .into_iter()
        .map(|(_, hold)| hold)
        .collect();
    let own: Vec<HoldId> = holds.iter().map(|h| h.holder.clone()).collect();
    let prefix = keys::hold_pages_of(sku.as_str());
    let mut pages = Vec::new();
    for (key, page) in store.scan::<Vec<Hold>>(&prefix)? {
        let number = <[u8; 8]>::try_from(&key[prefix.len()..])
            .map_err(|_| corrupt(&key, "not a hold page number".into()))?;
        pages.push((
            u64::from_be_bytes(number),
            page.iter().map(|h| h.holder.clone()).collect(),
        ));
        holds.extend(page);
    }
    let prefix = keys::customers_of(sku.as_str());
    let mut sold = BTreeMap::new();
    for (key, units) in store.scan::<u64>(&prefix)? {
        let raw = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
        let customer = CustomerId::parse(&raw).map_err(|e| corrupt(&key, e.0))?;
        sold.insert(customer, units);
    }
    // A holder stored twice (two pages, or a page and its own key) makes
    // `from_parts` refuse the SKU: it is never silently merged.
    let state = SkuState::from_parts(record.product_id, record.levels, record.sale, holds, sold)
        .ok_or_else(|| {
            corrupt(
                &keys::inventory(sku.as_str()),
                "its holds are malformed, stored twice, or do not add up to its counts".into(),
            )
        })?;
    Ok(Some(Loaded {
        state,
        pages: HoldPages::loaded(own, pages),
    }))
}

fn corrupt(key: &[u8], reason: String) -> InventoryError {
    InventoryError::Store(StoreError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        reason,
    })
}

/// Adds the SKU's hot record to `group`.
pub fn put_record(group: &mut WriteGroup, sku: &Sku, state: &SkuState) -> Result<(), StoreError> {
    let record = SkuRecord {
        product_id: state.product_id.clone(),
        levels: state.levels(),
        sale: state.sale().clone(),
    };
    group.put(keys::inventory(sku.as_str()), &record)
}

/// Writes `customer`'s bought count on this SKU (removing it at zero).
pub fn put_sold(
    group: &mut WriteGroup,
    sku: &Sku,
    state: &SkuState,
    customer: Option<&CustomerId>,
) -> Result<(), StoreError> {
    let Some(customer) = customer else {
        return Ok(());
    };
    let key = keys::customer(sku.as_str(), customer.as_str());
    match state.customer_sold(customer) {
        0 => group.remove(key),
        units => group.put(key, &units)?,
    }
    Ok(())
}

/// Sells `holder`'s hold on `sku` whatever its expiry, with `attach`, straight
/// to the store: start-up recovery, before any actor runs. `None` if the
/// holder holds nothing there.
pub async fn sell_offline(
    store: &Store,
    sku: &Sku,
    holder: &HoldId,
    attach: WriteGroup,
) -> Result<Option<Levels>, InventoryError> {
    let Loaded {
        mut state,
        mut pages,
    } = load(store, sku)?.ok_or_else(|| InventoryError::UnknownSku(sku.clone()))?;
    let hold = match state.commit_recovered(holder) {
        Ok(hold) => hold,
        Err(SkuError::UnknownHold(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let mut group = WriteGroup::new();
    put_record(&mut group, sku, &state)?;
    let place = pages.remove(holder);
    pages.write(&mut group, sku, &state, holder, place)?;
    put_sold(&mut group, sku, &state, hold.customer.as_ref())?;
    group.append(attach);
    store.commit(group).await?;
    Ok(Some(state.levels()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{CommitterSettings, Durability};

    fn store(dir: &std::path::Path) -> Store {
        let settings = CommitterSettings {
            durability: Durability::Strict,
            commit_window_us: 0,
            commit_batch_max: 1024,
            commit_queue_max: 64,
            ..CommitterSettings::default()
        };
        Store::open(dir, settings).unwrap()
    }

    fn hold(holder: &str) -> Hold {
        Hold {
            holder: HoldId::parse(holder).unwrap(),
            customer: None,
            quantity: 1,
            expires_at: 1_000,
        }
    }

    /// A SKU with one hold in its own key (as releases before hold pages
    /// wrote it) and one in a page.
    async fn mixed_sku(store: &Store, sku: &Sku) {
        let mut record = SkuRecord::new(ProductId::parse("p").unwrap(), 10);
        record.levels.available = 8;
        record.levels.reserved = 2;
        let mut group = WriteGroup::new();
        group.put(keys::inventory(sku.as_str()), &record).unwrap();
        group
            .put(keys::hold(sku.as_str(), "old"), &hold("old"))
            .unwrap();
        let page = vec![hold("new")];
        group.put(keys::hold_page(sku.as_str(), 3), &page).unwrap();
        store.commit(group).await.unwrap();
    }

    #[tokio::test]
    async fn holds_load_from_their_own_keys_and_from_pages_and_are_removed_where_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let sku = Sku::parse("S-1").unwrap();
        mixed_sku(&store, &sku).await;

        let Loaded {
            mut state,
            mut pages,
        } = load(&store, &sku).unwrap().unwrap();
        assert_eq!(state.levels().reserved, 2);
        let mut group = WriteGroup::new();
        for holder in ["old", "new"] {
            let holder = HoldId::parse(holder).unwrap();
            state.release(&holder).unwrap();
            let place = pages.remove(&holder);
            pages
                .write(&mut group, &sku, &state, &holder, place)
                .unwrap();
        }
        put_record(&mut group, &sku, &state).unwrap();
        store.commit(group).await.unwrap();

        let mut left = 0;
        for prefix in [
            keys::holds_of(sku.as_str()),
            keys::hold_pages_of(sku.as_str()),
        ] {
            store.for_each_key(&prefix, |_| left += 1).unwrap();
        }
        assert_eq!(left, 0, "both keys removed");
        let reloaded = load(&store, &sku).unwrap().unwrap();
        assert_eq!(reloaded.state.levels().available, 10);
    }

    #[tokio::test]
    async fn a_holder_stored_twice_is_refused_not_merged() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let sku = Sku::parse("S-1").unwrap();
        mixed_sku(&store, &sku).await;
        let mut group = WriteGroup::new();
        let page = vec![hold("old")];
        group.put(keys::hold_page(sku.as_str(), 4), &page).unwrap();
        store.commit(group).await.unwrap();
        assert!(matches!(
            load(&store, &sku),
            Err(InventoryError::Store(StoreError::Corrupt { .. }))
        ));
    }
}
