//! The indexer: moves journaled writes to their keyed homes.
//!
//! It takes every batch waiting in the [`Backlog`], oldest first, and writes
//! them as one sled batch together with the removal of their journal
//! records. sled's batch keeps the last write per key, so a key written by
//! many commits (a hot SKU's record) is written once, and a key written and
//! removed in between (a hold released before it was indexed) costs one
//! removal of an absent key. It waits `index_delay` after the first batch
//! arrives so that several commits are indexed together, and it never
//! flushes: a write it loses in a crash is still in the journal, whose
//! records it removed in the same lost batch.
//!
//! The backlog is bounded (`journal_lag_max_bytes`): a committer that finds
//! it full waits for the indexer, so memory stays bounded under any load.

use super::journal::Overlay;
use super::tap::{self, Op};
use super::StoreError;
use parking_lot::{Condvar, Mutex};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// A committed batch whose writes have not reached their homes yet.
pub(super) struct Journaled {
    pub seq: u64,
    pub ops: Vec<Op>,
    /// Its journal records' keys.
    pub records: Vec<sled::IVec>,
}

impl Journaled {
    fn bytes(&self) -> usize {
        let op = |(k, v): &Op| k.len() + v.as_ref().map_or(0, |v| v.len()) + 64;
        self.ops.iter().map(op).sum()
    }
}

/// What the committer hands the indexer, and the room left.
#[derive(Default)]
pub(super) struct Backlog {
    state: Mutex<BacklogState>,
    /// Signalled when a batch arrives or the indexer should stop.
    work: Condvar,
    /// Signalled when the indexer has written batches (or stopped).
    room: Condvar,
}

#[derive(Default)]
struct BacklogState {
    batches: VecDeque<Journaled>,
    bytes: usize,
    stopping: bool,
    /// The indexer is gone: nobody will make room.
    gone: bool,
}

impl Backlog {
    pub fn push(&self, batch: Journaled) {
        let mut state = self.state.lock();
        state.bytes += batch.bytes();
        state.batches.push_back(batch);
        drop(state);
        self.work.notify_one();
    }

    /// Waits while the backlog holds more than `max_bytes`. False when the
    /// indexer is gone and never will make room.
    pub fn wait_for_room(&self, max_bytes: usize) -> bool {
        let mut state = self.state.lock();
        if state.bytes > max_bytes {
            metrics::counter!("surge_journal_full_waits_total").increment(1);
        }
        while state.bytes > max_bytes {
            if state.gone {
                return false;
            }
            self.room.wait(&mut state);
        }
        true
    }

    /// Takes every batch waiting, as the indexer would.
    pub fn take_all(&self) -> Vec<Journaled> {
        let mut state = self.state.lock();
        state.bytes = 0;
        state.batches.drain(..).collect()
    }

    /// Bytes of writes waiting to be indexed.
    pub fn bytes(&self) -> usize {
        self.state.lock().bytes
    }

    /// Waits until every batch pushed so far is indexed (or `timeout`).
    pub fn wait_empty(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        let mut state = self.state.lock();
        while !state.batches.is_empty() || state.bytes > 0 {
            if state.gone || self.room.wait_until(&mut state, deadline).timed_out() {
                return state.batches.is_empty() && state.bytes == 0;
            }
        }
        true
    }
}

/// Handle to the indexer thread.
pub(super) struct Indexer {
    backlog: Arc<Backlog>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Indexer {
    /// Starts indexing what `backlog` holds and receives. A failed write
    /// sets `failed`, which makes the committer refuse writes (the journal
    /// keeps everything for the next start).
    pub fn start(
        db: sled::Db,
        overlay: Arc<Overlay>,
        backlog: Arc<Backlog>,
        delay: Duration,
        failed: Arc<AtomicBool>,
    ) -> Result<Self, StoreError> {
        let shared = backlog.clone();
        let thread = std::thread::Builder::new()
            .name("surge-indexer".into())
            .spawn(move || run(&db, &overlay, &shared, delay, &failed))
            .map_err(|e| StoreError::io(format!("starting the indexer thread: {e}")))?;
        Ok(Self {
            backlog,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Indexes everything waiting, then stops the thread. Idempotent.
    pub fn stop(&self) {
        let Some(thread) = self.thread.lock().take() else {
            return;
        };
        self.backlog.state.lock().stopping = true;
        self.backlog.work.notify_all();
        let _ = thread.join();
    }
}

impl Drop for Indexer {
    /// A store dropped without `close` still lets its indexer (and with it
    /// sled's files) go.
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(db: &sled::Db, overlay: &Overlay, backlog: &Backlog, delay: Duration, failed: &AtomicBool) {
    loop {
        let mut state = backlog.state.lock();
        while state.batches.is_empty() && !state.stopping {
            backlog.work.wait(&mut state);
        }
        if state.batches.is_empty() {
            break;
        }
        // Let more commits arrive: indexed together, a key written by many
        // of them is written once. A stop cuts the wait short.
        let deadline = std::time::Instant::now() + delay;
        while !state.stopping && !backlog.work.wait_until(&mut state, deadline).timed_out() {}
        let batches: Vec<Journaled> = state.batches.drain(..).collect();
        drop(state);
        let indexed = index(db, overlay, &batches);
        let mut state = backlog.state.lock();
        match indexed {
            Ok(()) => {
                state.bytes -= batches.iter().map(Journaled::bytes).sum::<usize>();
                metrics::gauge!("surge_journal_backlog_bytes").set(state.bytes as f64);
            }
            Err(e) => {
                tracing::error!(error = %e, "indexing the journal failed; the store refuses writes until restarted (the journal keeps every acknowledged write)");
                failed.store(true, Ordering::Release);
                state.gone = true;
                drop(state);
                backlog.room.notify_all();
                return;
            }
        }
        drop(state);
        backlog.room.notify_all();
        super::thread_cpu::publish("surge_indexer_cpu_seconds");
    }
    backlog.state.lock().gone = true;
    backlog.room.notify_all();
}

/// Writes `batches` (oldest first) to their homes and removes their journal
/// records, atomically; then drops what sled now holds from the overlay.
pub(super) fn index(
    db: &sled::Db,
    overlay: &Overlay,
    batches: &[Journaled],
) -> Result<(), StoreError> {
    let Some(last) = batches.last() else {
        return Ok(());
    };
    let mut batch = sled::Batch::default();
    let mut writes = 0;
    for journaled in batches {
        for op in &journaled.ops {
            tap::add(&mut batch, op.clone());
            writes += 1;
        }
        for record in &journaled.records {
            batch.remove(record.clone());
        }
    }
    db.apply_batch(batch)?;
    // Only now: a read that misses the overlay must find the write in sled.
    for journaled in batches {
        for (key, _) in &journaled.ops {
            overlay.forget(key, last.seq);
        }
    }
    metrics::counter!("surge_journal_indexed_writes_total").increment(writes);
    metrics::gauge!("surge_journal_overlay_versions").set(overlay.len() as f64);
    metrics::histogram!("surge_journal_index_batch_commits").record(batches.len() as f64);
    Ok(())
}
