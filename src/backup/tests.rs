//! A backup taken while a writer commits is the store at one commit: the
//! writer's groups make every prefix of them recognisable, and a restored
//! image must be exactly one such prefix. Damage anywhere in the file is
//! refused and named.

use super::format::{self, FormatError};
use super::take::{take, Order};
use super::{restore, BackupSettings};
use crate::store::{codec, keys, CommitterSettings, Durability, Store, WriteGroup};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const SLOTS: u64 = 500;
const DOOMED: u64 = 20_000;

fn settings() -> CommitterSettings {
    CommitterSettings {
        durability: Durability::Strict,
        commit_window_us: 0,
        commit_batch_max: 4096,
        commit_queue_max: 1024,
        ..CommitterSettings::default()
    }
}

/// Group `i` writes `slot/<i % SLOTS>` = i and removes `doomed/<i>`: the
/// store after groups 1..=h has a value that says h in every key.
fn group(i: u64) -> WriteGroup {
    let mut g = WriteGroup::new();
    g.put(keys::numbered(b"slot/", i % SLOTS), &i).unwrap();
    g.remove(keys::numbered(b"doomed/", i));
    g
}

async fn seeded(dir: &Path) -> Store {
    let store = Store::open(&dir.join("sled"), settings()).unwrap();
    let mut g = WriteGroup::new();
    for i in 0..=DOOMED {
        // Values big enough that the copy spans many blocks.
        g.put(keys::numbered(b"doomed/", i), &vec![7u8; 200])
            .unwrap();
    }
    store.commit(g).await.unwrap();
    store
}

fn read_all(data_dir: &Path) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let db = sled::open(data_dir.join("sled")).unwrap();
    db.iter()
        .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
        .collect()
}

/// The highest group the image holds, asserting it holds exactly 1..=h.
fn assert_a_prefix(image: &BTreeMap<Vec<u8>, Vec<u8>>) -> u64 {
    let slot = |j: u64| -> Option<u64> {
        let bytes = image.get(&keys::numbered(b"slot/", j))?;
        Some(codec::decode::<u64>(b"slot", bytes).unwrap())
    };
    let h = (0..SLOTS).filter_map(slot).max().unwrap_or(0);
    for j in 0..SLOTS {
        let expected = (1..=h).rev().find(|i| i % SLOTS == j);
        assert_eq!(slot(j), expected, "slot {j} in an image of groups 1..={h}");
    }
    for i in 1..=DOOMED {
        let present = image.contains_key(&keys::numbered(b"doomed/", i));
        assert_eq!(present, i > h, "doomed/{i} in an image of groups 1..={h}");
    }
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_writes_restores_to_the_store_at_its_last_commit() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded(dir.path()).await;
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (store, stop) = (store.clone(), stop.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Acquire) && i < DOOMED {
                i += 1;
                store.commit(group(i)).await.unwrap();
            }
            i
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let backups = dir.path().join("backups");
    let taken = {
        let (store, backups) = (store.clone(), backups.clone());
        tokio::task::spawn_blocking(move || {
            let settings = BackupSettings::default();
            let order = Order {
                dir: &backups,
                id: "b1",
                created_at_ms: 1,
                settings: &settings,
                stop: &AtomicBool::new(false),
            };
            take(&store, &order).unwrap()
        })
        .await
        .unwrap()
    };
    stop.store(true, Ordering::Release);
    let written = writer.await.unwrap();
    let m = &taken.manifest;
    assert!(
        m.tail_batches > 0,
        "the writer committed during the copy: {m:?}"
    );

    let restored = tempfile::tempdir().unwrap();
    let done = restore::restore(&taken.path, restored.path(), false).unwrap();
    let image = read_all(restored.path());
    let h = assert_a_prefix(&image);
    assert!(h > 0 && h <= written, "{h} of {written}");
    let seq = codec::decode::<u64>(b"seq", &image[keys::COMMIT_SEQ]).unwrap();
    assert_eq!(
        seq, m.last_commit_seq,
        "the image is at the manifest's commit"
    );
    assert_eq!(done.records, image.len() as u64);
    // The seeding commit, then one per group (each waited for in turn).
    assert_eq!(seq, h + 1, "seq {seq} for {h} groups");
    store.close().unwrap();
}

/// Takes a small backup of a quiet store; returns its path.
async fn small_backup(dir: &Path) -> std::path::PathBuf {
    let store = Store::open(&dir.join("sled"), settings()).unwrap();
    let mut g = WriteGroup::new();
    for i in 0..3000u64 {
        g.put(format!("ord/{i:05}").into_bytes(), &vec![1u8; 500])
            .unwrap();
    }
    store.commit(g).await.unwrap();
    let backups = dir.join("backups");
    let settings = BackupSettings::default();
    let order = Order {
        dir: &backups,
        id: "b2",
        created_at_ms: 1,
        settings: &settings,
        stop: &AtomicBool::new(false),
    };
    let taken = take(&store, &order).unwrap();
    store.close().unwrap();
    assert!(taken.manifest.blocks >= 2, "{:?}", taken.manifest);
    taken.path
}

fn flipped(path: &Path, at: u64) -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at as usize] ^= 0x20;
    std::fs::write(copy.path().join("x.backup"), bytes).unwrap();
    copy
}

#[tokio::test]
async fn a_flipped_byte_anywhere_is_refused_and_a_damaged_record_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = small_backup(dir.path()).await;
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(format::walk(&path, |_| Ok(())).is_ok());
    // Inside a record's value: its own checksum names it.
    let bytes = std::fs::read(&path).unwrap();
    let key_at = bytes.windows(9).position(|w| w == b"ord/00000").unwrap();
    let copy = flipped(&path, (key_at + 9 + 4 + 10) as u64);
    let err = format::walk(&copy.path().join("x.backup"), |_| Ok(())).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, FormatError::Block { .. }), "{text}");
    assert!(text.contains("record 'ord/00000' is damaged"), "{text}");
    // Every other spot: refused, whatever the damage reads as.
    for at in (0..size).step_by(size as usize / 97) {
        let copy = flipped(&path, at);
        let got = format::walk(&copy.path().join("x.backup"), |_| Ok(()));
        assert!(got.is_err(), "a flip at byte {at} of {size} went unseen");
    }
}

#[tokio::test]
async fn a_damaged_backup_restores_nothing_and_a_full_directory_needs_force() {
    let dir = tempfile::tempdir().unwrap();
    let path = small_backup(dir.path()).await;
    let size = std::fs::metadata(&path).unwrap().len();
    let copy = flipped(&path, size / 2);
    let target = tempfile::tempdir().unwrap();
    let got = restore::restore(&copy.path().join("x.backup"), target.path(), false);
    assert!(matches!(got, Err(restore::RestoreError::Damaged { .. })));
    assert_eq!(std::fs::read_dir(target.path()).unwrap().count(), 0);

    restore::restore(&path, target.path(), false).unwrap();
    let again = restore::restore(&path, target.path(), false);
    let Err(e @ restore::RestoreError::NotEmpty(..)) = again else {
        panic!("a full directory was not refused");
    };
    assert!(e.to_string().contains("--force"), "{e}");
    let forced = restore::restore(&path, target.path(), true).unwrap();
    assert_eq!(forced.records, 3001, "3000 records and the commit sequence");
}

#[tokio::test]
async fn a_backup_stopped_by_shutdown_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded(dir.path()).await;
    let backups = dir.path().join("backups");
    let settings = BackupSettings::default();
    let order = Order {
        dir: &backups,
        id: "b3",
        created_at_ms: 1,
        settings: &settings,
        stop: &AtomicBool::new(true),
    };
    let got = take(&store, &order);
    assert!(
        matches!(
            got,
            Err(super::BackupError::Store(crate::store::StoreError::Closed))
        ),
        "{:?}",
        got.err()
    );
    assert_eq!(std::fs::read_dir(&backups).unwrap().count(), 0);
    store.close().unwrap();
}
