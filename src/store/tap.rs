//! An online copy of the store: what a backup reads while the node serves.
//!
//! The committer is the only writer, so a consistent image needs no lock on
//! the store: [`OnlineCopy`] installs a tap on the committer, then reads
//! every record (a fuzzy scan: a batch applied meanwhile may be seen whole,
//! in part, or not at all). Every batch applied after the tap went in is
//! handed to it, in order, with its commit sequence number. Replaying those
//! batches over the scanned records gives exactly the store as it was after
//! the last of them: a key no batch touched was stable for the whole scan,
//! and for a key one did, the last tapped write wins.
//!
//! The committer never waits for the copy: handing a batch over is a lock
//! held for a `Vec` push. The tapped batches are bounded (`max_bytes`); a
//! backup that falls that far behind is abandoned, not the writes.

use super::journal::Overlay;
use super::view::Merged;
use super::{codec, keys, RawRecord, StoreError};
use parking_lot::Mutex;
use std::sync::Arc;

/// One write of a batch: the key, and the value (`None` removes it).
pub(super) type Op = (sled::IVec, Option<sled::IVec>);

/// Adds `op` to a sled batch: its value at its key, or the key's removal.
pub(super) fn add(batch: &mut sled::Batch, (key, value): Op) {
    match value {
        Some(value) => batch.insert(key, value),
        None => batch.remove(key),
    }
}

/// A batch the committer applied while a copy was being taken.
pub struct TappedBatch {
    pub seq: u64,
    ops: Vec<Op>,
}

impl TappedBatch {
    /// The writes, in the order they were made.
    pub fn ops(&self) -> impl ExactSizeIterator<Item = (&[u8], Option<&[u8]>)> {
        self.ops.iter().map(|(k, v)| (&k[..], v.as_deref()))
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    fn bytes(&self) -> usize {
        let op = |(k, v): &Op| k.len() + v.as_ref().map_or(0, |v| v.len()) + 16;
        self.ops.iter().map(op).sum()
    }
}

/// What the committer and a copy share: the last commit sequence, and the
/// tap while a copy runs.
#[derive(Clone)]
pub(crate) struct SharedTap(Arc<Mutex<TapState>>);

struct TapState {
    last_seq: u64,
    tap: Option<Tap>,
}

struct Tap {
    batches: Vec<TappedBatch>,
    bytes: usize,
    max_bytes: usize,
    /// Set when the batches outgrew `max_bytes`; they were dropped.
    overflowed: bool,
}

impl SharedTap {
    pub(super) fn new(last_seq: u64) -> Self {
        Self(Arc::new(Mutex::new(TapState {
            last_seq,
            tap: None,
        })))
    }

    pub(super) fn last_seq(&self) -> u64 {
        self.0.lock().last_seq
    }

    /// Called by the committer once batch `seq` is applied: its writes, and
    /// the commit sequence it stores beside them.
    pub(super) fn applied(&self, seq: u64, ops: &[Op]) {
        let mut state = self.0.lock();
        state.last_seq = seq;
        let Some(tap) = state.tap.as_mut() else {
            return;
        };
        if tap.overflowed {
            return;
        }
        let mut ops = ops.to_vec();
        match codec::encode(&seq) {
            Ok(bytes) => ops.push((keys::COMMIT_SEQ.into(), Some(bytes.into()))),
            // Encoding a u64 cannot fail; the copy is abandoned if it does.
            Err(_) => tap.overflowed = true,
        }
        let batch = TappedBatch { seq, ops };
        tap.bytes += batch.bytes();
        if tap.bytes > tap.max_bytes {
            tap.overflowed = true;
        }
        if tap.overflowed {
            tap.batches = Vec::new();
        } else {
            tap.batches.push(batch);
        }
    }
}

/// Why an online copy failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CopyError {
    #[error("another backup is being taken")]
    Busy,
    #[error("writes committed during the copy outgrew {max_bytes} bytes before the backup caught up with them")]
    Overflow { max_bytes: usize },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A copy being taken: records to read, batches to collect. Dropping it
/// removes the tap.
pub struct OnlineCopy {
    db: sled::Db,
    overlay: Arc<Overlay>,
    shared: SharedTap,
    start_seq: u64,
    /// Set by `finish`, which removed the tap itself.
    finished: bool,
}

impl OnlineCopy {
    pub(super) fn begin(
        db: sled::Db,
        overlay: Arc<Overlay>,
        shared: SharedTap,
        max_bytes: usize,
    ) -> Result<Self, CopyError> {
        let start_seq = {
            let mut state = shared.0.lock();
            if state.tap.is_some() {
                return Err(CopyError::Busy);
            }
            state.tap = Some(Tap {
                batches: Vec::new(),
                bytes: 0,
                max_bytes,
                overflowed: false,
            });
            state.last_seq
        };
        Ok(Self {
            db,
            overlay,
            shared,
            start_seq,
            finished: false,
        })
    }

    /// The commit sequence of the last batch fully in the store when the
    /// copy began.
    pub fn start_seq(&self) -> u64 {
        self.start_seq
    }

    /// Every record, in key order, as the scan finds it: the store as its
    /// readers see it, journal records indexed or not alike, and none of
    /// the journal records themselves (a restored store starts without).
    pub fn records(&self) -> impl Iterator<Item = Result<RawRecord, StoreError>> + '_ {
        Merged::new(&self.db, &self.overlay, b"", Vec::new())
            .map(|item| item.map(|(k, v)| (k.to_vec(), v.to_vec())))
    }

    /// The batches tapped since the last call, in commit order: taking them
    /// as the copy goes keeps the tap's memory small.
    pub fn drain(&self) -> Result<Vec<TappedBatch>, CopyError> {
        let mut state = self.shared.0.lock();
        let Some(tap) = state.tap.as_mut() else {
            return Ok(Vec::new());
        };
        if tap.overflowed {
            return Err(CopyError::Overflow {
                max_bytes: tap.max_bytes,
            });
        }
        tap.bytes = 0;
        Ok(std::mem::take(&mut tap.batches))
    }

    /// Removes the tap once the scan is complete: the last batches, and the
    /// commit sequence the scan plus every tapped batch amounts to.
    pub fn finish(mut self) -> Result<(Vec<TappedBatch>, u64), CopyError> {
        self.finished = true;
        let mut state = self.shared.0.lock();
        let last_seq = state.last_seq;
        match state.tap.take() {
            Some(tap) if tap.overflowed => Err(CopyError::Overflow {
                max_bytes: tap.max_bytes,
            }),
            Some(tap) => Ok((tap.batches, last_seq)),
            None => Ok((Vec::new(), last_seq)),
        }
    }
}

impl Drop for OnlineCopy {
    fn drop(&mut self) {
        if !self.finished {
            self.shared.0.lock().tap = None;
        }
    }
}
