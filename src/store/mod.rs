//! The store: the only module that knows sled. Everything durable lives in one
//! sled tree under prefixed keys (see [`keys`]), encoded by [`codec`], and every
//! write goes through the [`Committer`], the durability boundary of the
//! process. Keeping one tree means one atomic batch can carry an inventory
//! record, an order and an idempotency record together.
//!
//! With `journal` on, the committer journals each batch as one record
//! ([`journal`]) and the indexer moves the writes to their keys afterwards
//! (so sled then has a second writer, which only moves committed bytes).
//! Reads here see both alike: the overlay of writes not yet indexed first,
//! then sled.

pub mod codec;
mod committer;
mod error;
mod image;
mod indexer;
pub mod journal;
pub mod keys;
mod offline;
mod tap;
#[cfg(test)]
mod tests;
mod thread_cpu;
mod view;

use committer::Journal;
use indexer::{Indexer, Journaled};
use view::Merged;

pub use committer::{Committer, CommitterSettings, Completion, Durability, Ticket, WriteGroup};
pub use error::StoreError;
pub use image::StoreImage;
pub use offline::{in_use, OfflineError, RawRecord, StoreCopy};
pub use tap::{CopyError, OnlineCopy, TappedBatch};

use serde::de::DeserializeOwned;
use std::path::Path;
use std::sync::Arc;

/// What [`Store::scan_page_salvaging`] or [`Store::scan_salvaging`] read.
pub struct Salvaged<T> {
    pub records: Vec<T>,
    pub unreadable: Vec<Unreadable>,
}

/// A stored record that could not be decoded, as it is on disk.
pub struct Unreadable {
    pub key: Vec<u8>,
    pub bytes: Vec<u8>,
    pub error: StoreError,
}

impl Unreadable {
    fn new(key: &[u8], bytes: &[u8], error: StoreError) -> Self {
        Self {
            key: key.to_vec(),
            bytes: bytes.to_vec(),
            error,
        }
    }
}

/// An open store: writes go through the committer; reads see the writes
/// not yet indexed, then sled.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    committer: Arc<Committer>,
    indexer: Arc<Indexer>,
    journal: Journal,
}

impl Store {
    /// Opens (or creates) the store in `dir` and starts its committer thread.
    pub fn open(dir: &Path, settings: CommitterSettings) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::io(format!("{}: {e}", dir.display())))?;
        let db = open_sled(dir)?;
        let journal = Journal::default();
        let replayed = replay(&db, &journal)?;
        if replayed > 0 {
            tracing::info!(
                commits = replayed,
                "replayed the journal's unindexed commits"
            );
        }
        if !settings.journal {
            // Writes will go straight to their keys, under any overlay
            // version: what the journal holds must reach its keys first.
            let batches = journal.backlog.take_all();
            indexer::index(&db, &journal.overlay, &batches)?;
            db.flush()?;
        }
        let delay = std::time::Duration::from_millis(settings.index_delay_ms);
        let committer = Arc::new(Committer::start(db.clone(), settings, journal.clone())?);
        let indexer = Arc::new(Indexer::start(
            db.clone(),
            journal.overlay.clone(),
            journal.backlog.clone(),
            delay,
            committer.failed_flag(),
        )?);
        Ok(Self {
            db,
            committer,
            indexer,
            journal,
        })
    }

    /// Bytes of committed writes the indexer has yet to move to their keys.
    pub fn journal_backlog_bytes(&self) -> usize {
        self.journal.backlog.bytes()
    }

    /// Waits (up to `timeout`) until every write committed so far has been
    /// indexed; whether it has.
    pub fn wait_indexed(&self, timeout: std::time::Duration) -> bool {
        self.journal.backlog.wait_empty(timeout)
    }

    /// Whether a write failed (the store then refuses writes until restart).
    pub fn failed(&self) -> bool {
        self.committer.failed()
    }

    pub fn committer(&self) -> &Committer {
        &self.committer
    }

    /// Starts an online copy of the whole store (see [`OnlineCopy`]); the
    /// writes committed meanwhile are kept up to `tap_bytes_max`.
    pub fn begin_copy(&self, tap_bytes_max: usize) -> Result<OnlineCopy, CopyError> {
        OnlineCopy::begin(
            self.db.clone(),
            self.journal.overlay.clone(),
            self.committer.tap().clone(),
            tap_bytes_max,
        )
    }

    /// Hands `group` to the committer and waits until it is durable (or, in
    /// relaxed mode, applied).
    pub async fn commit(&self, group: WriteGroup) -> Result<(), StoreError> {
        self.committer.submit(group)?.wait().await
    }

    /// The stored bytes at `key`: the newest unindexed write, else sled's.
    fn raw(&self, key: &[u8]) -> Result<Option<sled::IVec>, StoreError> {
        match self.journal.overlay.get(key) {
            Some(newest) => Ok(newest),
            None => self.db.get(key).map_err(StoreError::from),
        }
    }

    /// The records under `prefix` from the key `from` on, in key order.
    fn range(&self, prefix: &[u8], from: Vec<u8>) -> Merged<'_> {
        Merged::new(&self.db, &self.journal.overlay, prefix, from)
    }

    /// Reads and decodes one record.
    pub fn get<T: DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, StoreError> {
        match self.raw(key)? {
            Some(bytes) => codec::decode(key, &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Reads one record that may not decode: the record, or what is stored
    /// when it cannot be decoded, so the caller can set it aside.
    pub fn get_salvaging<T: DeserializeOwned>(
        &self,
        key: &[u8],
    ) -> Result<Option<Result<T, Unreadable>>, StoreError> {
        let Some(bytes) = self.raw(key)? else {
            return Ok(None);
        };
        Ok(Some(
            codec::decode(key, &bytes).map_err(|error| Unreadable::new(key, &bytes, error)),
        ))
    }

    /// Whether a key is present, without decoding it.
    pub fn contains(&self, key: &[u8]) -> Result<bool, StoreError> {
        self.raw(key).map(|bytes| bytes.is_some())
    }

    /// Every record under `prefix`, in key order, decoded. Stops at the first
    /// record that cannot be read: a corrupt store is an error, not a gap.
    pub fn scan<T: DeserializeOwned>(
        &self,
        prefix: &[u8],
    ) -> Result<Vec<(Vec<u8>, T)>, StoreError> {
        let mut out = Vec::new();
        for item in self.range(prefix, prefix.to_vec()) {
            let (key, bytes) = item?;
            let record = codec::decode(&key, &bytes)?;
            out.push((key.to_vec(), record));
        }
        Ok(out)
    }

    /// Up to `limit` records under `prefix` that pass `keep`, in key order,
    /// starting after the key `prefix + after` (or at the first).
    pub fn scan_page<T: DeserializeOwned>(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
        keep: impl FnMut(&T) -> bool,
    ) -> Result<Vec<T>, StoreError> {
        self.page(prefix, after, limit, keep, |_, _, e| Err(e))
    }

    /// Like [`scan_page`](Self::scan_page) from the first key, but a record
    /// that cannot be decoded does not end the read: its key and bytes are
    /// returned beside the records (and count towards `limit`), for a
    /// caller that must not let one bad record stop everything behind it.
    pub fn scan_page_salvaging<T: DeserializeOwned>(
        &self,
        prefix: &[u8],
        limit: usize,
        keep: impl FnMut(&T) -> bool,
    ) -> Result<Salvaged<T>, StoreError> {
        let mut unreadable = Vec::new();
        let records = self.page(prefix, None, limit, keep, |key, bytes, e| {
            unreadable.push(Unreadable::new(key, bytes, e));
            Ok(())
        })?;
        Ok(Salvaged {
            records,
            unreadable,
        })
    }

    /// Every record under `prefix`, with those that cannot be decoded
    /// returned beside them rather than ending the read.
    pub fn scan_salvaging<T: DeserializeOwned>(
        &self,
        prefix: &[u8],
    ) -> Result<Salvaged<T>, StoreError> {
        self.scan_page_salvaging(prefix, usize::MAX, |_| true)
    }

    /// Every record under `prefix` with its key, with those that cannot be
    /// decoded returned beside them rather than ending the read.
    pub fn scan_keyed_salvaging<T: DeserializeOwned>(
        &self,
        prefix: &[u8],
    ) -> Result<Salvaged<(Vec<u8>, T)>, StoreError> {
        let mut salvaged = Salvaged {
            records: Vec::new(),
            unreadable: Vec::new(),
        };
        for item in self.range(prefix, prefix.to_vec()) {
            let (key, bytes) = item?;
            match codec::decode(&key, &bytes) {
                Ok(record) => salvaged.records.push((key.to_vec(), record)),
                Err(e) => salvaged.unreadable.push(Unreadable::new(&key, &bytes, e)),
            }
        }
        Ok(salvaged)
    }

    fn page<T: DeserializeOwned>(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
        mut keep: impl FnMut(&T) -> bool,
        mut unreadable: impl FnMut(&[u8], &[u8], StoreError) -> Result<(), StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let start = match after {
            Some(after) => {
                let mut key = [prefix, after].concat();
                key.push(0);
                key
            }
            None => prefix.to_vec(),
        };
        let mut out = Vec::new();
        let mut bad = 0;
        for item in self.range(prefix, start) {
            let (key, bytes) = item?;
            if out.len() + bad >= limit {
                break;
            }
            match codec::decode::<T>(&key, &bytes) {
                Ok(record) if keep(&record) => out.push(record),
                Ok(_) => {}
                Err(e) => {
                    unreadable(&key, &bytes, e)?;
                    bad += 1;
                }
            }
        }
        Ok(out)
    }

    /// Calls `f` with every key under `prefix`, the prefix stripped.
    pub fn for_each_key(&self, prefix: &[u8], mut f: impl FnMut(&[u8])) -> Result<(), StoreError> {
        for item in self.range(prefix, prefix.to_vec()) {
            let (key, _) = item?;
            f(&key[prefix.len()..]);
        }
        Ok(())
    }

    /// Waits (up to `timeout`) until this is the last handle to the store,
    /// so that dropping it releases sled's file lock. HTTP workers drop their
    /// handles a moment after the server reports it stopped.
    pub async fn wait_released(&self, timeout: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        while Arc::strong_count(&self.committer) > 1 {
            if std::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        true
    }

    /// Stops the committer after it has written everything queued and the
    /// indexer after it has indexed it, then flushes: a store closed cleanly
    /// has an empty journal. Called once at shutdown; later commits fail
    /// with `Closed`.
    pub fn close(&self) -> Result<(), StoreError> {
        self.committer.stop();
        self.indexer.stop();
        self.db.flush().map_err(StoreError::from)?;
        Ok(())
    }
}

/// How long an open waits for the directory's lock: sled lets go of it when
/// the last of its background writes ends, which can be a moment after a
/// store in this process (or one that just exited) closed.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

fn open_sled(dir: &Path) -> Result<sled::Db, StoreError> {
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        let opened = sled::Config::new()
            .path(dir)
            // The committer flushes once per batch; a background flush on a
            // timer would only add fsyncs.
            .flush_every_ms(None)
            .mode(sled::Mode::HighThroughput)
            .open();
        match opened {
            // sled reports the lock as an `Other` error with this text.
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => {
                return other.map_err(|e| StoreError::io(format!("opening {}: {e}", dir.display())))
            }
        }
    }
}

/// Reads the journal's records (commits not indexed when the store was last
/// closed or killed) into the overlay and the indexer's backlog, in commit
/// order. Returns the commits found. A record that cannot be read stops the
/// start: it holds acknowledged writes (`surge check` names it).
fn replay(db: &sled::Db, journal: &Journal) -> Result<usize, StoreError> {
    let mut pending: Option<Journaled> = None;
    let mut commits = 0;
    for item in db.scan_prefix(keys::JOURNAL) {
        let (key, bytes) = item?;
        let seq = journal::seq_of(&key).ok_or_else(|| StoreError::Corrupt {
            key: String::from_utf8_lossy(&key).into_owned(),
            reason: "not a journal key".into(),
        })?;
        let ops = journal::decode(&key, &bytes)?;
        match pending.as_mut() {
            Some(p) if p.seq == seq => {
                p.ops.extend(ops);
                p.records.push(key);
            }
            _ => {
                if let Some(done) = pending.take() {
                    journal.overlay.put(done.seq, &done.ops);
                    journal.backlog.push(done);
                    commits += 1;
                }
                pending = Some(Journaled {
                    seq,
                    ops,
                    records: vec![key],
                });
            }
        }
    }
    if let Some(done) = pending {
        journal.overlay.put(done.seq, &done.ops);
        journal.backlog.push(done);
        commits += 1;
    }
    Ok(commits)
}
