//! How a SKU is laid out in the store. The hot record (`inv/<sku>`) holds only
//! counters and sale rules, so it stays a few dozen bytes however many buyers
//! hold stock, and the committer coalesces it to one write per batch. Holds
//! (`hold/<sku>/<holder>`) and per-customer sold counts (`cust/<sku>/<id>`)
//! are records of their own, written only when they change.

use super::error::InventoryError;
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

/// Loads a SKU's whole state, or `None` if the SKU was never created.
pub fn load(store: &Store, sku: &Sku) -> Result<Option<SkuState>, InventoryError> {
    let Some(record) = store.get::<SkuRecord>(&keys::inventory(sku.as_str()))? else {
        return Ok(None);
    };
    let holds: Vec<Hold> = store
        .scan::<Hold>(&keys::holds_of(sku.as_str()))?
        .into_iter()
        .map(|(_, hold)| hold)
        .collect();
    let prefix = keys::customers_of(sku.as_str());
    let mut sold = BTreeMap::new();
    for (key, units) in store.scan::<u64>(&prefix)? {
        let raw = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
        let customer = CustomerId::parse(&raw).map_err(|e| corrupt(&key, e.0))?;
        sold.insert(customer, units);
    }
    SkuState::from_parts(record.product_id, record.levels, record.sale, holds, sold)
        .map(Some)
        .ok_or_else(|| {
            corrupt(
                &keys::inventory(sku.as_str()),
                "holds do not add up to the reserved count".into(),
            )
        })
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

pub fn put_hold(group: &mut WriteGroup, sku: &Sku, hold: &Hold) -> Result<(), StoreError> {
    group.put(keys::hold(sku.as_str(), hold.holder.as_str()), hold)
}

pub fn remove_hold(group: &mut WriteGroup, sku: &Sku, hold: &Hold) {
    group.remove(keys::hold(sku.as_str(), hold.holder.as_str()));
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
    let mut state = load(store, sku)?.ok_or_else(|| InventoryError::UnknownSku(sku.clone()))?;
    let hold = match state.commit_recovered(holder) {
        Ok(hold) => hold,
        Err(SkuError::UnknownHold(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let mut group = WriteGroup::new();
    put_record(&mut group, sku, &state)?;
    remove_hold(&mut group, sku, &hold);
    put_sold(&mut group, sku, &state, hold.customer.as_ref())?;
    group.append(attach);
    store.commit(group).await?;
    Ok(Some(state.levels()))
}
