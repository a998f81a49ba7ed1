//! The journal seen through the store: reads before and after indexing, and
//! a start after a crash at any point of indexing.

use super::*;
use std::time::Duration;

fn settings(index_delay_ms: u64) -> CommitterSettings {
    CommitterSettings {
        commit_window_us: 0,
        journal: true,
        index_delay_ms,
        ..CommitterSettings::default()
    }
}

async fn commit_orders(store: &Store, range: std::ops::Range<u32>) {
    for i in range {
        let mut group = WriteGroup::new();
        group.put(format!("ord/{i:04}").into_bytes(), &i).unwrap();
        group.put(b"inv/HOT".to_vec(), &i).unwrap();
        if i % 2 == 1 {
            // A hold taken and released before anything was indexed.
            group.remove(format!("ord/{:04}", i - 1).into_bytes());
        }
        store.commit(group).await.unwrap();
    }
}

/// What a reader sees: every `ord/` record and the hot record.
fn seen(store: &Store) -> (Vec<(Vec<u8>, u32)>, Option<u32>) {
    (
        store.scan(keys::ORDER).unwrap(),
        store.get(b"inv/HOT").unwrap(),
    )
}

/// sled lets go of a directory's lock when its last thread ends, which can
/// be a moment after the handle is dropped.
fn retry<T, E: std::fmt::Display>(mut open: impl FnMut() -> Result<T, E>) -> Result<T, E> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match open() {
            Err(e) if std::time::Instant::now() < deadline && e.to_string().contains("lock") => {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

fn journal_records(db: &sled::Db) -> usize {
    db.scan_prefix(keys::JOURNAL).count()
}

#[tokio::test]
async fn writes_read_the_same_before_and_after_they_are_indexed() {
    let dir = tempfile::tempdir().unwrap();
    // An hour: nothing is indexed until the store closes.
    let store = Store::open(dir.path(), settings(3_600_000)).unwrap();
    commit_orders(&store, 0..40).await;
    let before = seen(&store);
    assert_eq!(before.0.len(), 20, "odd orders removed their predecessor");
    assert_eq!(before.1, Some(39));
    assert!(store.contains(b"ord/0039").unwrap());
    assert!(!store.contains(b"ord/0038").unwrap());
    assert_eq!(store.get::<u32>(b"ord/0038").unwrap(), None);
    let page: Vec<u32> = store
        .scan_page(keys::ORDER, Some(b"0010"), 3, |_| true)
        .unwrap();
    assert_eq!(page, [11, 13, 15]);
    assert!(journal_records(&store.db) >= 1);
    assert!(
        store.db.get(b"ord/0039").unwrap().is_none(),
        "not indexed yet"
    );
    assert!(store.journal_backlog_bytes() > 0);

    store.close().unwrap();
    assert_eq!(journal_records(&store.db), 0, "a clean close indexes all");
    assert!(store.db.get(b"ord/0039").unwrap().is_some());
    assert!(store.db.get(b"ord/0038").unwrap().is_none());
    assert_eq!(seen(&store), before);
}

#[tokio::test]
async fn the_indexer_catches_up_by_itself_and_readers_never_see_a_gap() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), settings(1)).unwrap();
    let reader = {
        let store = store.clone();
        std::thread::spawn(move || {
            // Every order committed stays readable while the indexer moves
            // it: the count of odd orders never goes down.
            // A scan is not a snapshot (it may see an even order and its
            // removal's successor), but odd orders are never removed: a
            // scan that misses one lost a write on its way to sled.
            let mut most = 0;
            for _ in 0..2000 {
                let (orders, _) = seen(&store);
                let odd = orders.iter().filter(|(_, i)| i % 2 == 1).count();
                assert!(odd >= most, "{odd} odd orders after {most}");
                most = odd;
            }
        })
    };
    commit_orders(&store, 0..400).await;
    assert!(store.wait_indexed(Duration::from_secs(10)));
    assert_eq!(journal_records(&store.db), 0);
    assert_eq!(store.journal.overlay.len(), 0, "sled holds everything");
    assert_eq!(seen(&store).0.len(), 200);
    reader.join().unwrap();
    store.close().unwrap();
}

/// Commits through a committer alone (no indexer): everything stays in the
/// journal, as in a process killed before indexing. Then indexes the first
/// `indexed` commits the way the indexer does, as if killed after that
/// many of its batches had landed.
fn crashed_store(dir: &std::path::Path, indexed: usize) {
    let db = retry(|| sled::Config::new().path(dir).open()).unwrap();
    let journal = Journal::default();
    let committer = Committer::start(db.clone(), settings(0), journal.clone()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for i in 0..30u32 {
        let mut group = WriteGroup::new();
        group.put(format!("ord/{i:04}").into_bytes(), &i).unwrap();
        group.put(b"inv/HOT".to_vec(), &i).unwrap();
        if i % 2 == 1 {
            group.remove(format!("ord/{:04}", i - 1).into_bytes());
        }
        runtime
            .block_on(committer.submit(group).unwrap().wait())
            .unwrap();
    }
    committer.stop();
    let mut batches = Vec::new();
    let replay_into = Journal::default();
    replay(&db, &replay_into).unwrap();
    let mut state = replay_into.backlog.take_all();
    batches.extend(state.drain(..indexed.min(state.len())));
    indexer::index(&db, &replay_into.overlay, &batches).unwrap();
    db.flush().unwrap();
}

#[test]
fn a_start_after_a_crash_at_any_point_of_indexing_loses_and_repeats_nothing() {
    for indexed in [0, 1, 17, 30] {
        let dir = tempfile::tempdir().unwrap();
        crashed_store(dir.path(), indexed);
        let store = retry(|| Store::open(dir.path(), settings(3_600_000))).unwrap();
        let (orders, hot) = seen(&store);
        let want: Vec<(Vec<u8>, u32)> = (0..30)
            .filter(|i| i % 2 == 1)
            .map(|i| (format!("ord/{i:04}").into_bytes(), i))
            .collect();
        assert_eq!(orders, want, "after {indexed} indexed");
        assert_eq!(hot, Some(29));
        assert_eq!(journal_records(&store.db), 30 - indexed);
        store.close().unwrap();
        assert_eq!(journal_records(&store.db), 0);
        assert_eq!(seen(&store).0, want);
        assert_eq!(store.committer().last_seq(), 30);
    }
}

#[test]
fn a_journal_left_by_a_crash_is_indexed_at_a_start_without_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    crashed_store(dir.path(), 4);
    let keyed = CommitterSettings {
        journal: false,
        ..settings(0)
    };
    let store = retry(|| Store::open(dir.path(), keyed.clone())).unwrap();
    assert_eq!(journal_records(&store.db), 0, "indexed before serving");
    assert_eq!(store.journal.overlay.len(), 0);
    assert_eq!(seen(&store).0.len(), 15);
    let mut group = WriteGroup::new();
    group.remove(b"ord/0029".to_vec());
    group.put(b"inv/HOT".to_vec(), &100u32).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(store.commit(group)).unwrap();
    assert_eq!(journal_records(&store.db), 0, "written at its keys");
    assert_eq!(seen(&store).0.len(), 14);
    assert_eq!(seen(&store).1, Some(100));
    store.close().unwrap();
}

#[test]
fn an_unreadable_journal_record_stops_the_start_and_names_itself() {
    let dir = tempfile::tempdir().unwrap();
    crashed_store(dir.path(), 0);
    {
        let db = retry(|| sled::Config::new().path(dir.path()).open()).unwrap();
        db.insert(journal::key(5, 0), &b"\x01\x09"[..]).unwrap();
        db.flush().unwrap();
    }
    let e = retry(|| match Store::open(dir.path(), settings(0)) {
        Err(e) if e.to_string().contains("lock") => Err(e),
        other => Ok(other),
    })
    .unwrap()
    .err()
    .expect("refused");
    assert!(e.to_string().contains("jrnl/"), "{e}");
}
