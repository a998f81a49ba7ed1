//! Inventory micro-benchmarks.
//! - `sku/hold_then_release`: the pure state machine, one hold and its
//!   release (two conservation checks included): the CPU floor of a purchase.
//! - `actor/inspect_round_trip`: one message to a SKU actor on its arbiter
//!   thread and the answer back, no disk: the cost of the actor hop.
//! - `actor/purchase_strict`: a purchase's actor step (a new hold, with an
//!   order-sized record attached) through the actor and the Committer with a
//!   real flush, one at a time: latency of one durable purchase alone
//!   (throughput comes from many in flight; see BENCHMARKS.md).

use criterion::{criterion_group, criterion_main, Criterion};
use std::sync::Arc;
use surge::clock::SystemClock;
use surge::config::InventorySettings;
use surge::domain::{CustomerId, HoldId, OrderId, ProductId, Sku};
use surge::events::Outbox;
use surge::idempotency::Idempotency;
use surge::inventory::{Availability, Inventory, InventoryParts, Reserve, SkuRecord, SkuState};
use surge::order::UnpaidOrders;
use surge::store::{keys, CommitterSettings, Durability, Store, WriteGroup};

fn state_machine(c: &mut Criterion) {
    let mut state = SkuState::new(ProductId::parse("p").expect("id"), 1_000_000);
    let holder = HoldId::parse("ord_1").expect("id");
    let customer = CustomerId::parse("c1").expect("id");
    c.bench_function("sku/hold_then_release", |b| {
        b.iter(|| {
            state
                .hold(holder.clone(), Some(customer.clone()), 1, 10_000, 1)
                .expect("hold");
            state.release(&holder).expect("release")
        })
    });
}

fn actor(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let system = actix_rt::System::new();
    let (inventory, sku) = system.block_on(async {
        let settings = CommitterSettings {
            durability: Durability::Strict,
            commit_window_us: 0,
            commit_batch_max: 4096,
            commit_queue_max: 8192,
            ..CommitterSettings::default()
        };
        let store = Store::open(dir.path(), settings).expect("store");
        let sku = Sku::parse("BENCH-1").expect("sku");
        let mut group = WriteGroup::new();
        let record = SkuRecord::new(ProductId::parse("p").expect("id"), u64::MAX / 4);
        group
            .put(keys::inventory(sku.as_str()), &record)
            .expect("encode");
        store.commit(group).await.expect("commit");
        let outbox = Outbox::load(&store).expect("outbox");
        let idempotency = Idempotency::load(&store, 1024, Arc::new(SystemClock))
            .await
            .expect("secret");
        let inventory = Inventory::start(InventoryParts {
            store: store.clone(),
            availability: Availability::default(),
            outbox: outbox.clone(),
            idempotency,
            lapsed: Arc::new(UnpaidOrders::new(store, outbox)),
            clock: Arc::new(SystemClock),
            settings: InventorySettings::default(),
        });
        (inventory, sku)
    });
    c.bench_function("actor/inspect_round_trip", |b| {
        b.iter(|| system.block_on(inventory.inspect(&sku)).expect("inspect"))
    });
    let mut n = 0u64;
    let mut group = c.benchmark_group("actor");
    group.sample_size(20);
    group.bench_function("purchase_strict", |b| {
        b.iter(|| {
            n += 1;
            let order = OrderId::parse(&format!("ord_bench_{n}")).expect("id");
            let mut attach = WriteGroup::new();
            attach
                .put(keys::order(order.as_str()), &[7u8; 200].to_vec())
                .expect("encode");
            let req = Reserve {
                holder: order.hold(),
                customer: Some(CustomerId::parse(&format!("c{n}")).expect("id")),
                quantity: 1,
                expires_at: u64::MAX / 2,
                attach,
            };
            system
                .block_on(inventory.reserve(&sku, req))
                .expect("purchase")
        })
    });
    group.finish();
    inventory.stop();
}

criterion_group!(benches, state_machine, actor);
criterion_main!(benches);
