//! A store opened to be read by a tool (`surge check`), never to be served.
//!
//! sled has no read-only mode: opening a directory recovers it, which may
//! rewrite its files (a torn log tail is cut off, a snapshot written), and
//! takes an exclusive lock on its `db` file. So a tool never opens the data
//! directory itself. [`StoreCopy::of_data_dir`] takes the same lock a server
//! takes (refusing a directory that a running server holds), copies the sled
//! files into a private scratch directory while holding it, and opens the
//! copy: whatever sled does on open happens to the copy, and the original's
//! files are only ever read.
//!
//! A later source (a backup file) only has to produce such a directory to
//! be read the same way.
//!
//! The copy's journal is indexed when it is opened, as a server's start
//! would, so a tool reads every record at its key. A journal record that
//! cannot be decoded stops that, and it and the records after it stay in
//! the journal, where `surge check` names them.

use super::{journal, keys, tap, StoreError};
use fs2::FileExt;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

/// Why a store could not be made readable.
#[derive(Debug, thiserror::Error)]
pub enum OfflineError {
    /// A running server (or another tool) holds the store's lock.
    #[error("the store in {0} is in use (a running surge holds its lock): stop the server first, or check a copy")]
    InUse(PathBuf),
    #[error("{0} holds no surge store (no sled/db file in it)")]
    NotAStore(PathBuf),
    /// Reading the original or writing the scratch copy failed.
    #[error("{0}")]
    Io(String),
    /// sled refused to open the copy: the store's files are damaged.
    #[error("sled cannot open the store: {0}")]
    Unreadable(String),
}

/// A private copy of a stopped store, opened by sled; deleted on drop.
pub struct StoreCopy {
    db: sled::Db,
    /// Where the copy lives; removed when this is dropped.
    _scratch: tempfile::TempDir,
    /// Bytes copied.
    copied_bytes: u64,
}

/// One stored record as raw bytes: its key and its value.
pub type RawRecord = (Vec<u8>, Vec<u8>);

impl StoreCopy {
    /// Copies the store of the data directory `data_dir` (its `sled/`
    /// subdirectory) into a new directory under `scratch` and opens the copy.
    pub fn of_data_dir(data_dir: &Path, scratch: &Path) -> Result<Self, OfflineError> {
        let sled_dir = data_dir.join("sled");
        let db_file = sled_dir.join("db");
        if !db_file.is_file() {
            return Err(OfflineError::NotAStore(data_dir.to_path_buf()));
        }
        // The lock sled takes on open: held while copying, so that no server
        // starts writing half-way through the copy.
        let lock = File::open(&db_file).map_err(|e| io(&db_file, e))?;
        if lock.try_lock_exclusive().is_err() {
            return Err(OfflineError::InUse(data_dir.to_path_buf()));
        }
        let dir = tempfile::Builder::new()
            .prefix("surge-check-")
            .tempdir_in(scratch)
            .map_err(|e| io(scratch, e))?;
        let copy = dir.path().join("sled");
        let copied_bytes = copy_tree(&sled_dir, &copy)?;
        // Closing the file releases the lock (after the copy is complete).
        drop(lock);
        let db = sled::Config::new()
            .path(&copy)
            // Nothing is written through this handle; no flusher thread.
            .flush_every_ms(None)
            .open()
            .map_err(|e| match e {
                sled::Error::Io(e) => OfflineError::Io(format!("opening the copy: {e}")),
                other => OfflineError::Unreadable(other.to_string()),
            })?;
        index_journal(&db).map_err(|e| OfflineError::Unreadable(e.to_string()))?;
        Ok(Self {
            db,
            _scratch: dir,
            copied_bytes,
        })
    }

    pub fn copied_bytes(&self) -> u64 {
        self.copied_bytes
    }

    /// Every record under `prefix` in key order. An item is an error where
    /// sled could not read a page (its checksum failed, or it is missing).
    pub fn scan(&self, prefix: &[u8]) -> impl Iterator<Item = Result<RawRecord, StoreError>> + '_ {
        self.db.scan_prefix(prefix).map(|item| {
            item.map(|(k, v)| (k.to_vec(), v.to_vec()))
                .map_err(StoreError::from)
        })
    }

    /// The value at `key`, raw.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get(key)?.map(|v| v.to_vec()))
    }

    pub fn contains(&self, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.db.contains_key(key)?)
    }
}

/// Moves the writes of every journal record up to the first one that cannot
/// be decoded to their keys, removing the records, in commit order.
fn index_journal(db: &sled::Db) -> Result<(), StoreError> {
    let mut batch = sled::Batch::default();
    for item in db.scan_prefix(keys::JOURNAL) {
        let (key, bytes) = item?;
        let Ok(ops) = journal::decode(&key, &bytes) else {
            break;
        };
        for op in ops {
            tap::add(&mut batch, op);
        }
        batch.remove(key);
    }
    db.apply_batch(batch)?;
    Ok(())
}

/// Whether a running server (or a tool) holds the lock on the store of the
/// data directory `data_dir`. False when it holds no store.
pub fn in_use(data_dir: &Path) -> bool {
    let Ok(file) = File::open(data_dir.join("sled").join("db")) else {
        return false;
    };
    // Closing the file releases a lock taken here.
    file.try_lock_exclusive().is_err()
}

/// Copies the files under `from` into `to` (created); returns the bytes.
fn copy_tree(from: &Path, to: &Path) -> Result<u64, OfflineError> {
    fs::create_dir_all(to).map_err(|e| io(to, e))?;
    let mut bytes = 0;
    for entry in fs::read_dir(from).map_err(|e| io(from, e))? {
        let entry = entry.map_err(|e| io(from, e))?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().map_err(|e| io(&source, e))?;
        if kind.is_dir() {
            bytes += copy_tree(&source, &target)?;
        } else if kind.is_file() {
            bytes += fs::copy(&source, &target).map_err(|e| io(&source, e))?;
        }
    }
    Ok(bytes)
}

fn io(path: &Path, e: std::io::Error) -> OfflineError {
    OfflineError::Io(format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{CommitterSettings, Durability, Store, WriteGroup};

    fn settings() -> CommitterSettings {
        CommitterSettings {
            durability: Durability::Strict,
            commit_window_us: 0,
            commit_batch_max: 64,
            commit_queue_max: 16,
            ..CommitterSettings::default()
        }
    }

    #[tokio::test]
    async fn a_copy_reads_what_was_committed_and_leaves_the_original_alone() {
        let data = tempfile::tempdir().unwrap();
        let store = Store::open(&data.path().join("sled"), settings()).unwrap();
        let mut group = WriteGroup::new();
        group.put(b"inv/A".to_vec(), &7u64).unwrap();
        store.commit(group).await.unwrap();

        let scratch = tempfile::tempdir().unwrap();
        let refused = StoreCopy::of_data_dir(data.path(), scratch.path());
        assert!(
            matches!(refused, Err(OfflineError::InUse(_))),
            "the server holds it"
        );
        store.close().unwrap();
        drop(store);

        let before = fs::read(data.path().join("sled/db")).unwrap();
        // sled lets go of its file lock when its last background writer
        // thread ends, which can be a moment after the store is dropped.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let copy = loop {
            match StoreCopy::of_data_dir(data.path(), scratch.path()) {
                Err(OfflineError::InUse(_)) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => break other.unwrap(),
            }
        };
        let read: Vec<RawRecord> = copy.scan(b"inv/").map(Result::unwrap).collect();
        assert_eq!(read.len(), 1);
        assert!(copy.contains(b"inv/A").unwrap());
        assert_eq!(fs::read(data.path().join("sled/db")).unwrap(), before);
        drop(copy);
        assert_eq!(
            fs::read_dir(scratch.path()).unwrap().count(),
            0,
            "copy removed"
        );
    }

    #[test]
    fn a_directory_without_a_store_is_named() {
        let empty = tempfile::tempdir().unwrap();
        let got = StoreCopy::of_data_dir(empty.path(), empty.path());
        assert!(matches!(got, Err(OfflineError::NotAStore(_))));
    }
}
