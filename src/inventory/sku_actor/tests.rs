//! The actor shell's one failure path, seen from callers and readers: a
//! change that cannot be made durable is answered with the error, shows
//! nowhere, and the SKU goes on from what is on disk.

use crate::clock::{ManualClock, Millis};
use crate::config::InventorySettings;
use crate::domain::{CustomerId, OrderId, ProductId, Sku};
use crate::events::Outbox;
use crate::idempotency::Idempotency;
use crate::inventory::{
    Availability, Hold, Inventory, InventoryError, InventoryParts, LapsedHolds, Reserve, SkuRecord,
};
use crate::store::{keys, CommitterSettings, Durability, Store, StoreError, WriteGroup};
use std::sync::Arc;

const NOW: u64 = 1_000_000;

/// Holders here are nobody: a lapsed hold adds nothing to its expiry.
struct Nobody;

impl LapsedHolds for Nobody {
    fn lapsed(&self, _: &Hold, _: &mut WriteGroup, _: Millis) -> Result<(), StoreError> {
        Ok(())
    }
}

/// A store holding one SKU with `units`, and the inventory over it.
async fn one_sku(dir: &std::path::Path, units: u64) -> (Inventory, Store, Sku) {
    let settings = CommitterSettings {
        durability: Durability::Strict,
        commit_window_us: 0,
        commit_batch_max: 64,
        commit_queue_max: 64,
        ..CommitterSettings::default()
    };
    let store = Store::open(dir, settings).unwrap();
    let sku = Sku::parse("LAST-1").unwrap();
    let record = SkuRecord::new(ProductId::parse("p").unwrap(), units);
    let mut group = WriteGroup::new();
    group.put(keys::inventory(sku.as_str()), &record).unwrap();
    store.commit(group).await.unwrap();
    let outbox = Outbox::load(&store).unwrap();
    let inventory = Inventory::start(InventoryParts {
        store: store.clone(),
        availability: Availability::default(),
        outbox,
        idempotency: Idempotency::load(&store, 1024, Arc::new(ManualClock::new(NOW)))
            .await
            .unwrap(),
        lapsed: Arc::new(Nobody),
        clock: Arc::new(ManualClock::new(NOW)),
        settings: InventorySettings::default(),
    });
    (inventory, store, sku)
}

fn reserve(order: &str) -> Reserve {
    Reserve {
        holder: OrderId::parse(order).unwrap().hold(),
        customer: Some(CustomerId::parse("alice").unwrap()),
        quantity: 1,
        expires_at: NOW + 60_000,
        attach: WriteGroup::new(),
    }
}

#[actix_rt::test]
async fn a_purchase_of_the_last_unit_that_cannot_be_queued_leaves_it_on_sale() {
    let dir = tempfile::tempdir().unwrap();
    let (inventory, store, sku) = one_sku(dir.path(), 1).await;
    inventory.inspect(&sku).await.unwrap();
    // The committer takes nothing more: every change fails to be queued.
    store.committer().stop();

    let refused = inventory.reserve(&sku, reserve("ord_1")).await;
    assert!(
        matches!(refused, Err(InventoryError::Store(StoreError::Closed))),
        "{refused:?}"
    );
    assert_eq!(
        inventory.availability().get(&sku),
        Some(1),
        "readers (and the sold-out fast path) still see the unit"
    );
    let (levels, _) = inventory.inspect(&sku).await.unwrap();
    assert_eq!(
        (levels.available, levels.reserved),
        (1, 0),
        "reloaded from disk"
    );
    inventory.stop();
}

#[actix_rt::test]
async fn after_a_failed_change_the_sku_takes_work_again_from_what_is_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let (inventory, store, sku) = one_sku(dir.path(), 3).await;
    inventory.reserve(&sku, reserve("ord_1")).await.unwrap();
    store.committer().stop();
    assert!(inventory.reserve(&sku, reserve("ord_2")).await.is_err());
    assert!(inventory.restock(&sku, 5, WriteGroup::new()).await.is_err());

    let (levels, _) = inventory.inspect(&sku).await.unwrap();
    assert_eq!(
        (levels.stocked, levels.available, levels.reserved),
        (3, 2, 1),
        "only the acknowledged hold is there"
    );
    assert_eq!(inventory.availability().get(&sku), Some(2));
    inventory.stop();
}
