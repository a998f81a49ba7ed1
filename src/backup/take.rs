//! Taking one backup, on a thread of its own (it reads the whole store and
//! writes a file; none of it may run on an async worker).
//!
//! The records are copied while the node serves (see
//! [`OnlineCopy`](crate::store::OnlineCopy)); after every records block the
//! batches committed meanwhile are written behind it. A records block thus
//! holds records scanned after every batch before it in the file was
//! applied, and a restore that applies the file in order ends with the
//! store as it was after the last batch.

use super::files::{self, BackupFile};
use super::format::{Manifest, Writer, FORMAT_VERSION};
use super::{BackupError, BackupSettings};
use crate::clock::{rfc3339, Millis};
use crate::store::{OnlineCopy, Store, StoreError, TappedBatch};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What to take: the backup's id and when it was asked for.
pub struct Order<'a> {
    pub dir: &'a Path,
    pub id: &'a str,
    pub created_at_ms: Millis,
    pub settings: &'a BackupSettings,
    /// Set when the server stops: the backup gives up at its next block.
    pub stop: &'a AtomicBool,
}

/// Takes a backup of `store` into `order.dir`: a complete `<id>.backup`,
/// or an error and no file under that name.
pub fn take(store: &Store, order: &Order<'_>) -> Result<BackupFile, BackupError> {
    std::fs::create_dir_all(order.dir).map_err(|e| io(order.dir, e))?;
    let stale = files::remove_stale_temps(order.dir).map_err(|e| io(order.dir, e))?;
    if stale > 0 {
        tracing::info!(stale, "removed temporary files of interrupted backups");
    }
    let temp = files::temp_path_of(order.dir, order.id);
    let result = write(store, order, &temp);
    if result.is_err() {
        // Best effort: the next backup removes it anyway.
        let _ = std::fs::remove_file(&temp);
    }
    let manifest = result?;
    let path = files::path_of(order.dir, order.id);
    std::fs::rename(&temp, &path).map_err(|e| io(&path, e))?;
    files::sync_dir(order.dir).map_err(|e| io(order.dir, e))?;
    let size_bytes = std::fs::metadata(&path).map_err(|e| io(&path, e))?.len();
    Ok(BackupFile {
        manifest,
        path,
        size_bytes,
    })
}

/// Running totals of the batches written behind the records.
#[derive(Default)]
struct Tail {
    batches: u64,
    ops: u64,
}

fn write(store: &Store, order: &Order<'_>, temp: &Path) -> Result<Manifest, BackupError> {
    let started = Instant::now();
    let mut out = Writer::create(temp).map_err(|e| io(temp, e))?;
    let copy = store.begin_copy(order.settings.tap_bytes_max)?;
    let pace = Pace::new(order.settings.write_bytes_per_sec_max);
    let mut tail = Tail::default();
    for record in copy.records() {
        let (key, value) = record?;
        if out.record(&key, &value).map_err(|e| io(temp, e))? {
            if order.stop.load(Ordering::Acquire) {
                return Err(StoreError::Closed.into());
            }
            write_batches(&mut out, copy.drain()?, &mut tail).map_err(|e| io(temp, e))?;
            pace.wait(out.offset(), started);
        }
    }
    out.end_records().map_err(|e| io(temp, e))?;
    let start_commit_seq = copy.start_seq();
    let (last, last_commit_seq) = finish(copy)?;
    write_batches(&mut out, last, &mut tail).map_err(|e| io(temp, e))?;
    let record_count = out.record_count;
    let blocks = out.blocks;
    let manifest = out
        .finish(|body_sha256| Manifest {
            format_version: FORMAT_VERSION,
            id: order.id.to_owned(),
            created_at: rfc3339(order.created_at_ms),
            created_at_ms: order.created_at_ms,
            last_commit_seq,
            start_commit_seq,
            records: record_count,
            tail_batches: tail.batches,
            tail_ops: tail.ops,
            blocks,
            body_sha256,
            duration_ms: started.elapsed().as_millis() as u64,
            surge_version: env!("CARGO_PKG_VERSION").to_owned(),
        })
        .map_err(|e| io(temp, e))?;
    Ok(manifest)
}

fn finish(copy: OnlineCopy) -> Result<(Vec<TappedBatch>, u64), BackupError> {
    Ok(copy.finish()?)
}

fn write_batches(
    out: &mut Writer,
    batches: Vec<TappedBatch>,
    tail: &mut Tail,
) -> std::io::Result<()> {
    for batch in batches {
        out.batch(batch.seq, batch.ops())?;
        tail.batches += 1;
        tail.ops += batch.len() as u64;
    }
    Ok(())
}

/// Holds the writing back to a byte rate, when one is set.
struct Pace {
    bytes_per_sec: u64,
}

impl Pace {
    fn new(bytes_per_sec: u64) -> Self {
        Self { bytes_per_sec }
    }

    fn wait(&self, written: u64, started: Instant) {
        if self.bytes_per_sec == 0 {
            return;
        }
        let due = Duration::from_secs_f64(written as f64 / self.bytes_per_sec as f64);
        if let Some(ahead) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(ahead);
        }
    }
}

fn io(path: &Path, e: std::io::Error) -> BackupError {
    BackupError::Io(format!("{}: {e}", path.display()))
}
