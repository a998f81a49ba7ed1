//! Store micro-benchmarks.
//! - `commit/N`: one atomic batch of N single-key groups through the
//!   store's Committer, including its flush (fsync): the cost of group
//!   commit per batch size. Divide by N for the cost per acknowledged
//!   write. The indexer runs beside it, as in a server.
//! - `codec/*`: encoding and decoding one order-sized record.
//! - `hold_page/*`: what a purchase pays to write its SKU's open page of 16
//!   holds (half of a full page): encoding the whole page, against appending
//!   its one new hold to the page's kept bytes and framing them (what the
//!   SKU actor does while holds only join the page).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use surge::store::{codec, CommitterSettings, Durability, Store, WriteGroup};

fn commit(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(
        dir.path(),
        CommitterSettings {
            durability: Durability::Strict,
            commit_window_us: 0,
            commit_batch_max: 4096,
            commit_queue_max: 8192,
            ..CommitterSettings::default()
        },
    )
    .expect("store");
    let committer = store.committer();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("commit");
    group.sample_size(20);
    for batch in [1usize, 64, 1024] {
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_with_input(BenchmarkId::from_parameter(batch), &batch, |b, &batch| {
            let mut n = 0u64;
            b.iter(|| {
                let tickets: Vec<_> = (0..batch)
                    .map(|_| {
                        n += 1;
                        let mut g = WriteGroup::new();
                        g.put(format!("k{}", n % 100_000).into_bytes(), &vec![7u8; 96])
                            .expect("encode");
                        committer.submit(g).expect("queue")
                    })
                    .collect();
                runtime.block_on(async {
                    for t in tickets {
                        t.wait().await.expect("commit");
                    }
                });
            });
        });
    }
    group.finish();
    store.close().expect("close");
}

fn codec_bench(c: &mut Criterion) {
    #[derive(serde::Serialize, serde::Deserialize)]
    struct OrderLike {
        id: String,
        sku: String,
        customer: String,
        quantity: u64,
        amount: i64,
        currency: [u8; 3],
        created_at: u64,
        digest: [u8; 32],
    }
    let record = OrderLike {
        id: "ord_8f14e45fceea167a5a36dedd4bea2543".into(),
        sku: "FLASH-001".into(),
        customer: "customer-123456".into(),
        quantity: 1,
        amount: 2999,
        currency: *b"EUR",
        created_at: 1_795_000_000_000,
        digest: [9; 32],
    };
    let bytes = codec::encode(&record).expect("encode");
    c.bench_function("codec/encode_order", |b| {
        b.iter(|| codec::encode(black_box(&record)))
    });
    c.bench_function("codec/decode_order", |b| {
        b.iter(|| codec::decode::<OrderLike>(b"k", black_box(&bytes)))
    });
}

fn hold_page(c: &mut Criterion) {
    use surge::domain::{CustomerId, HoldId};
    use surge::inventory::Hold;
    let hold = |n: usize| Hold {
        holder: HoldId::parse(&format!("ord_{n:032x}")).expect("holder"),
        customer: Some(CustomerId::parse(&format!("customer-{n:06}")).expect("customer")),
        quantity: 1,
        expires_at: 1_795_000_000_000,
    };
    let page: Vec<Hold> = (0..16).map(hold).collect();
    c.bench_function("hold_page/encode_whole_16", |b| {
        b.iter(|| codec::encode(black_box(&page)))
    });
    let mut kept = Vec::new();
    for h in &page[..15] {
        codec::append(h, &mut kept).expect("append");
    }
    let joining = hold(15);
    let base = kept.len();
    c.bench_function("hold_page/append_one_and_frame_16", |b| {
        b.iter(|| {
            codec::append(black_box(&joining), &mut kept).expect("append");
            let framed = codec::encode_seq(16, &kept);
            kept.truncate(base);
            framed
        })
    });
}

criterion_group!(benches, commit, codec_bench, hold_page);
criterion_main!(benches);
