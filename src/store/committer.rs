//! The Committer: one thread that owns every write to sled. Callers hand it
//! write groups over a bounded channel; it gathers what arrives within a short
//! window (up to a maximum number of ops), applies it as one atomic sled batch,
//! flushes once, and only then completes every waiter. Many writers thus share
//! one fsync, and a hot key written a thousand times in a window is written
//! once (sled's `Batch` keeps the last write per key).
//!
//! Batches are applied and flushed strictly one after another, so a group
//! completes only after every batch applied before it was queued has been
//! flushed. Callers rely on it: an empty group is a durability barrier for
//! everything already visible in the store (webhook delivery sends events it
//! read before such a commit).
//!
//! Every batch gets the next commit sequence number, written in the batch
//! itself (`meta/commit_seq`), so a store (and a backup of it) says which
//! commits it holds. While an online backup copies the store, the committer
//! also hands each batch it applies to the backup's [`Tap`]: that costs a
//! lock and a `Vec` move per batch, never a wait on the backup.
//!
//! Within a batch the last write to a key wins. By default a batch is one
//! sled batch of its writes at their keys. With `journal` on, it is written
//! as journal records instead (see [`journal`]): the writes of all its
//! groups encoded together under one sequential key (or a few), one sled
//! insert where each write was one; once applied, its writes go to the
//! [`Overlay`] (where reads find them) and to the indexer's [`Backlog`],
//! which moves them to their keys.

use super::indexer::{Backlog, Journaled};
use super::journal::{self, Overlay};
use super::tap::{self, Op, SharedTap};
use super::thread_cpu;
use super::{codec, keys, StoreError};
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// When a write is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// After the batch holding it is flushed to disk (the default).
    Strict,
    /// After the batch is applied in memory, before the flush. A crash can lose
    /// acknowledged writes: for benchmarks only.
    Relaxed,
}

/// Limits of the committer (from `[store]` in the config).
#[derive(Debug, Clone)]
pub struct CommitterSettings {
    pub durability: Durability,
    /// How long to keep gathering groups after the first one arrives.
    pub commit_window_us: u64,
    /// Most ops in one batch; a larger backlog is written in several batches.
    pub commit_batch_max: usize,
    /// Most groups waiting in the queue; beyond it `submit` fails `Overloaded`.
    pub commit_queue_max: usize,
    /// Journal each batch as one record and index it later, rather than
    /// write each key in the batch (see BENCHMARKS.md for when it pays).
    pub journal: bool,
    /// How long the indexer lets commits gather before indexing them.
    pub index_delay_ms: u64,
    /// Most bytes of journaled writes waiting for the indexer; beyond it the
    /// committer waits for the indexer (and the queue fills, then sheds).
    pub journal_lag_max_bytes: usize,
}

impl Default for CommitterSettings {
    fn default() -> Self {
        Self {
            durability: Durability::Strict,
            commit_window_us: 100,
            commit_batch_max: 4096,
            commit_queue_max: 16_384,
            journal: false,
            index_delay_ms: 2,
            journal_lag_max_bytes: 64 << 20,
        }
    }
}

/// Where the committer puts what it wrote, for reads and for the indexer.
#[derive(Clone, Default)]
pub(super) struct Journal {
    pub overlay: Arc<Overlay>,
    pub backlog: Arc<Backlog>,
}

/// An ordered set of writes that become durable together.
#[derive(Debug, Default, Clone)]
pub struct WriteGroup {
    ops: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

impl WriteGroup {
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes `record` (encoded) at `key`.
    pub fn put<T: Serialize>(&mut self, key: Vec<u8>, record: &T) -> Result<(), StoreError> {
        self.ops.push((key, Some(codec::encode(record)?)));
        Ok(())
    }

    /// Writes `bytes` at `key` as they are: for moving a record that cannot
    /// be decoded without losing it.
    pub fn put_raw(&mut self, key: Vec<u8>, bytes: Vec<u8>) {
        self.ops.push((key, Some(bytes)));
    }

    pub fn remove(&mut self, key: Vec<u8>) {
        self.ops.push((key, None));
    }

    /// Adds every write of `other` after this group's own.
    pub fn append(&mut self, other: WriteGroup) {
        self.ops.extend(other.ops);
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// The writes, in order: `None` removes the key.
    #[cfg(test)]
    pub fn into_ops(self) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        self.ops
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// Called on the committer thread once a group is durable (or failed). It
/// must be quick: typically it sends a reply on a channel.
pub type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

enum Job {
    Write { group: WriteGroup, done: Completion },
    Stop,
}

/// A pending commit. Await it to learn whether the group is durable.
pub struct Ticket(oneshot::Receiver<Result<(), StoreError>>);

impl Ticket {
    pub async fn wait(self) -> Result<(), StoreError> {
        // A dropped sender means the committer thread is gone.
        self.0.await.unwrap_or(Err(StoreError::Closed))
    }
}

/// Handle to the committer thread.
pub struct Committer {
    tx: Sender<Job>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Set when a batch failed to apply or flush. The committer then refuses
    /// every later write (fail-stop): a later batch built on the failed one's
    /// state must not land without it, and no client may be told "done".
    failed: Arc<AtomicBool>,
    /// What a running backup is told of each batch.
    tap: SharedTap,
}

/// What the committer thread shares with its handle.
struct Shared {
    failed: Arc<AtomicBool>,
    tap: SharedTap,
    journal: Journal,
}

impl Committer {
    pub(super) fn start(
        db: sled::Db,
        settings: CommitterSettings,
        journal: Journal,
    ) -> Result<Self, StoreError> {
        let (tx, rx) = bounded(settings.commit_queue_max.max(1));
        if settings.durability == Durability::Relaxed {
            tracing::warn!(
                "store.durability = \"relaxed\": writes are acknowledged BEFORE they are flushed; \
                 a crash can lose acknowledged orders. Use only for benchmarks."
            );
        }
        let failed = Arc::new(AtomicBool::new(false));
        let last_seq = match db.get(keys::COMMIT_SEQ)? {
            Some(bytes) => codec::decode::<u64>(keys::COMMIT_SEQ, &bytes)?,
            None => 0,
        };
        let tap = SharedTap::new(last_seq);
        let shared = Shared {
            failed: failed.clone(),
            tap: tap.clone(),
            journal,
        };
        let thread = std::thread::Builder::new()
            .name("surge-committer".into())
            .spawn(move || run(db, rx, settings, shared))
            .map_err(|e| StoreError::io(format!("starting the committer thread: {e}")))?;
        Ok(Self {
            tx,
            thread: Mutex::new(Some(thread)),
            failed,
            tap,
        })
    }

    /// The tap a backup installs to see every batch applied meanwhile.
    pub(super) fn tap(&self) -> &SharedTap {
        &self.tap
    }

    /// The sequence number of the last batch applied.
    pub fn last_seq(&self) -> u64 {
        self.tap.last_seq()
    }

    /// Whether a write failed; the store then takes no more writes.
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// The flag a failed write sets (the indexer's too).
    pub(super) fn failed_flag(&self) -> Arc<AtomicBool> {
        self.failed.clone()
    }

    /// Queues `group` without waiting for room: a full queue is `Overloaded`
    /// at once, so callers can shed load instead of piling up.
    pub fn submit(&self, group: WriteGroup) -> Result<Ticket, StoreError> {
        let (tx, rx) = oneshot::channel();
        let done: Completion = Box::new(move |result| {
            // The waiter may have given up (timeout, dropped request): fine.
            let _ = tx.send(result);
        });
        self.submit_with(group, done).map(|()| Ticket(rx))
    }

    /// Queues `group`; `done` runs on the committer thread when it is durable.
    /// Lets an actor hand its caller's reply straight to the committer.
    /// When the group cannot be queued, `done` has been called with the error
    /// by the time this returns it: every completion runs exactly once.
    pub fn submit_with(&self, group: WriteGroup, done: Completion) -> Result<(), StoreError> {
        if self.failed() {
            done(Err(StoreError::Failed));
            return Err(StoreError::Failed);
        }
        let (error, job) = match self.tx.try_send(Job::Write { group, done }) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Full(job)) => {
                metrics::counter!("surge_commit_rejected_total").increment(1);
                (StoreError::Overloaded, job)
            }
            Err(TrySendError::Disconnected(job)) => (StoreError::Closed, job),
        };
        if let Job::Write { done, .. } = job {
            done(Err(error.clone()));
        }
        Err(error)
    }

    /// Writes everything already queued, then stops the thread. Idempotent.
    pub fn stop(&self) {
        let Some(thread) = self.thread.lock().take() else {
            return;
        };
        // A blocking send: at shutdown we wait for room rather than drop the stop.
        if self.tx.send(Job::Stop).is_ok() {
            let _ = thread.join();
        }
    }
}

/// One batch being gathered: its writes in order (with the journal each key
/// once), and whom to tell when it is durable.
#[derive(Default)]
struct Gathered {
    ops: Vec<Op>,
    positions: HashMap<sled::IVec, usize>,
    waiters: Vec<Completion>,
}

fn run(db: sled::Db, rx: Receiver<Job>, settings: CommitterSettings, shared: Shared) {
    let window = Duration::from_micros(settings.commit_window_us);
    let batch_max = settings.commit_batch_max.max(1);
    let Shared {
        failed,
        tap,
        journal,
    } = shared;
    loop {
        let Ok(first) = rx.recv() else { return };
        let mut gathered = Gathered::default();
        let mut stop = !gather(first, &mut gathered, settings.journal);
        let deadline = Instant::now() + window;
        while !stop && gathered.ops.len() < batch_max {
            let next = match rx.try_recv() {
                Ok(job) => job,
                Err(_) if window.is_zero() => break,
                Err(_) => match rx.recv_deadline(deadline) {
                    Ok(job) => job,
                    Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
                },
            };
            stop = !gather(next, &mut gathered, settings.journal);
        }
        if settings.journal
            && !journal
                .backlog
                .wait_for_room(settings.journal_lag_max_bytes)
        {
            failed.store(true, Ordering::Release);
        }
        if failed.load(Ordering::Acquire) {
            complete(&mut gathered.waiters, &Err(StoreError::Failed));
        } else if !write(&db, gathered, &tap, &journal, &settings) {
            failed.store(true, Ordering::Release);
        }
        thread_cpu::publish("surge_committer_cpu_seconds");
        if stop {
            return;
        }
    }
}

/// Adds a job to the batch; returns false for `Stop`. With `dedupe` (the
/// journal: its record and the overlay take each key once) a later write
/// to a key replaces the earlier one in place; without, sled's batch keeps
/// the last write per key itself.
fn gather(job: Job, gathered: &mut Gathered, dedupe: bool) -> bool {
    match job {
        Job::Write { group, done } => {
            for (key, value) in group.ops {
                // `IVec`s: the overlay's, the indexer's and the tap's copies
                // of a write are reference counts.
                let key = sled::IVec::from(key);
                let value = value.map(sled::IVec::from);
                if !dedupe {
                    gathered.ops.push((key, value));
                    continue;
                }
                match gathered.positions.get(&key) {
                    Some(&at) => gathered.ops[at].1 = value,
                    None => {
                        gathered.positions.insert(key.clone(), gathered.ops.len());
                        gathered.ops.push((key, value));
                    }
                }
            }
            gathered.waiters.push(done);
            true
        }
        Job::Stop => false,
    }
}

fn write(
    db: &sled::Db,
    gathered: Gathered,
    tap: &SharedTap,
    journal: &Journal,
    settings: &CommitterSettings,
) -> bool {
    let durability = settings.durability;
    let Gathered {
        ops, mut waiters, ..
    } = gathered;
    if waiters.is_empty() {
        return true;
    }
    // An empty batch still flushes: an empty group is a barrier that
    // completes only after every group queued before it is durable.
    let started = Instant::now();
    let op_count = ops.len();
    let seq = tap.last_seq() + 1;
    let batch = match settings.journal {
        true => journal_batch(seq, &ops),
        false => keyed_batch(seq, &ops).map(|batch| (batch, Vec::new())),
    };
    let result = batch.and_then(|(batch, records)| {
        db.apply_batch(batch).map_err(StoreError::from)?;
        Ok(records)
    });
    let result = result.map(|records| {
        // Before any waiter hears of it: a backup that ends after an
        // acknowledgement holds the acknowledged write.
        tap.applied(seq, &ops);
        if settings.journal && !ops.is_empty() {
            // Readers find the writes from now on; then the indexer moves them.
            journal.overlay.put(seq, &ops);
            journal.backlog.push(Journaled { seq, ops, records });
        }
    });
    let waiters = &mut waiters;
    if result.is_ok() && durability == Durability::Relaxed {
        complete(waiters, &result);
    }
    let result = result.and_then(|()| db.flush().map(drop).map_err(StoreError::from));
    if let Err(e) = &result {
        tracing::error!(error = %e, ops = op_count, "group commit failed; the store refuses writes until restarted");
    }
    complete(waiters, &result);
    metrics::histogram!("surge_commit_batch_ops").record(op_count as f64);
    metrics::histogram!("surge_commit_flush_seconds").record(started.elapsed().as_secs_f64());
    result.is_ok()
}

/// The sled batch that writes `ops` at their keys as commit `seq`.
fn keyed_batch(seq: u64, ops: &[Op]) -> Result<sled::Batch, StoreError> {
    let mut batch = sled::Batch::default();
    for op in ops {
        tap::add(&mut batch, op.clone());
    }
    batch.insert(keys::COMMIT_SEQ, codec::encode(&seq)?);
    Ok(batch)
}

/// The sled batch that journals `ops` as commit `seq`, and the journal
/// records' keys.
fn journal_batch(seq: u64, ops: &[Op]) -> Result<(sled::Batch, Vec<sled::IVec>), StoreError> {
    let mut batch = sled::Batch::default();
    let mut records = Vec::new();
    for (part, value) in journal::encode(ops)?.into_iter().enumerate() {
        let part = u32::try_from(part).map_err(|_| StoreError::io("a batch of 4 G parts"))?;
        let key = sled::IVec::from(journal::key(seq, part));
        batch.insert(key.clone(), value);
        records.push(key);
    }
    batch.insert(keys::COMMIT_SEQ, codec::encode(&seq)?);
    Ok((batch, records))
}

fn complete(waiters: &mut Vec<Completion>, result: &Result<(), StoreError>) {
    for done in waiters.drain(..) {
        done(result.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(queue: usize) -> CommitterSettings {
        CommitterSettings {
            durability: Durability::Strict,
            commit_window_us: 200,
            commit_batch_max: 1024,
            commit_queue_max: queue,
            journal: true,
            ..CommitterSettings::default()
        }
    }

    fn open() -> (tempfile::TempDir, sled::Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        (dir, db)
    }

    /// A committer with no indexer: what it wrote stays in the journal.
    fn start(db: &sled::Db, queue: usize) -> (Committer, Journal) {
        let journal = Journal::default();
        let committer = Committer::start(db.clone(), settings(queue), journal.clone()).unwrap();
        (committer, journal)
    }

    fn journaled(db: &sled::Db) -> Vec<Op> {
        db.scan_prefix(keys::JOURNAL)
            .flat_map(|item| {
                let (key, bytes) = item.unwrap();
                journal::decode(&key, &bytes).unwrap()
            })
            .collect()
    }

    /// Fifty groups, each writing `hot` and a key of its own, all queued
    /// before any is awaited.
    async fn commit_hot_and_keys(committer: &Committer) {
        let mut tickets = Vec::new();
        for i in 0..50u32 {
            let mut g = WriteGroup::new();
            g.put(b"hot".to_vec(), &i).unwrap();
            g.put(format!("k{i}").into_bytes(), &i).unwrap();
            tickets.push(committer.submit(g).unwrap());
        }
        for t in tickets {
            t.wait().await.unwrap();
        }
    }

    #[tokio::test]
    async fn acknowledged_groups_are_journaled_and_later_writes_win() {
        let (_dir, db) = open();
        let (committer, journal) = start(&db, 64);
        commit_hot_and_keys(&committer).await;
        let newest = journal.overlay.get(b"hot").unwrap().unwrap();
        let hot: u32 = codec::decode(b"hot", &newest).unwrap();
        assert_eq!(hot, 49, "the last write to a key in submission order wins");
        let ops = journaled(&db);
        let batches = committer.last_seq() as usize;
        assert_eq!(
            ops.len(),
            50 + batches,
            "each key once per batch: 50 keys, hot in each"
        );
        let records = db.scan_prefix(keys::JOURNAL).count();
        assert_eq!(
            db.len(),
            records + 1,
            "journal records and the commit sequence, no key of their own yet"
        );
        assert!(committer.last_seq() >= 1);
        committer.stop();
    }

    #[tokio::test]
    async fn without_the_journal_acknowledged_groups_are_at_their_keys() {
        let (_dir, db) = open();
        let journal = Journal::default();
        let keyed = CommitterSettings {
            journal: false,
            ..settings(64)
        };
        let committer = Committer::start(db.clone(), keyed, journal.clone()).unwrap();
        commit_hot_and_keys(&committer).await;
        let hot: u32 = codec::decode(b"hot", &db.get(b"hot").unwrap().unwrap()).unwrap();
        assert_eq!(hot, 49, "the last write to a key in submission order wins");
        assert_eq!(db.len(), 52, "51 keys and the commit sequence");
        assert_eq!(journal.overlay.len(), 0);
        assert!(journal.backlog.take_all().is_empty());
        committer.stop();
    }

    #[tokio::test]
    async fn an_empty_group_completes_only_after_every_group_queued_before_it() {
        use futures_util::FutureExt;
        let (_dir, db) = open();
        let (committer, _journal) = start(&db, 4096);
        let mut tickets = Vec::new();
        for i in 0..2000u32 {
            let mut g = WriteGroup::new();
            g.put(format!("k{i}").into_bytes(), &i).unwrap();
            tickets.push(committer.submit(g).unwrap());
        }
        committer
            .submit(WriteGroup::new())
            .unwrap()
            .wait()
            .await
            .unwrap();
        for t in tickets {
            // Unconstrained: tokio's co-operative budget would make a ready
            // receiver answer Pending after a hundred or so polls.
            let done = tokio::task::unconstrained(t.wait()).now_or_never();
            assert_eq!(done, Some(Ok(())), "an earlier group was still pending");
        }
        committer.stop();
    }

    #[tokio::test]
    async fn after_a_failed_batch_every_write_is_refused() {
        let (_dir, db) = open();
        let (committer, _journal) = start(&db, 8);
        committer.failed.store(true, Ordering::Release);
        let mut g = WriteGroup::new();
        g.put(b"k".to_vec(), &1u8).unwrap();
        assert_eq!(committer.submit(g).err(), Some(StoreError::Failed));
        assert!(committer.failed());
        committer.stop();
    }

    #[test]
    fn a_refused_group_completes_its_waiter_with_the_refusal() {
        let (_dir, db) = open();
        let (committer, _journal) = start(&db, 1);
        committer.stop();
        let (tx, rx) = std::sync::mpsc::channel();
        let done: Completion = Box::new(move |r| tx.send(r).unwrap());
        assert_eq!(
            committer.submit_with(WriteGroup::new(), done),
            Err(StoreError::Closed)
        );
        assert_eq!(rx.try_recv().unwrap(), Err(StoreError::Closed));
    }

    #[tokio::test]
    async fn a_full_queue_is_refused_at_once_and_stop_drains_what_was_queued() {
        let (_dir, db) = open();
        let (committer, journal) = start(&db, 2);
        let mut accepted = Vec::new();
        let mut refused = 0;
        for i in 0..1000u32 {
            let mut g = WriteGroup::new();
            g.put(format!("k{i}").into_bytes(), &i).unwrap();
            match committer.submit(g) {
                Ok(t) => accepted.push(t),
                Err(StoreError::Overloaded) => refused += 1,
                Err(e) => panic!("unexpected {e}"),
            }
        }
        assert!(
            refused > 0,
            "a queue of 2 must refuse some of 1000 instant submits"
        );
        committer.stop();
        let n = accepted.len();
        for t in accepted {
            t.wait().await.unwrap();
        }
        assert_eq!(
            journal.overlay.chunk(b"", b"", usize::MAX).len(),
            n,
            "every accepted group was written, nothing else"
        );
        assert_eq!(journaled(&db).len(), n);
        let mut g = WriteGroup::new();
        g.remove(b"k0".to_vec());
        assert_eq!(committer.submit(g).err(), Some(StoreError::Closed));
    }
}
