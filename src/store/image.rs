//! A store written from an image (a restore): records put as they are, in
//! large batches, then flushed. It is built in a directory no server uses,
//! so it bypasses the committer: nothing else can write there.

use super::StoreError;
use std::path::Path;

/// Records per sled batch while loading.
const BATCH_RECORDS: usize = 16_384;

/// A new store being filled.
pub struct StoreImage {
    db: sled::Db,
    batch: sled::Batch,
    pending: usize,
    written: u64,
}

impl StoreImage {
    /// Creates an empty store in `sled_dir`, which must not hold one.
    pub fn create(sled_dir: &Path) -> Result<Self, StoreError> {
        if sled_dir.join("db").exists() {
            return Err(StoreError::io(format!(
                "{} already holds a store",
                sled_dir.display()
            )));
        }
        let db = sled::Config::new()
            .path(sled_dir)
            .flush_every_ms(None)
            .mode(sled::Mode::HighThroughput)
            .open()
            .map_err(|e| StoreError::io(format!("creating {}: {e}", sled_dir.display())))?;
        Ok(Self {
            db,
            batch: sled::Batch::default(),
            pending: 0,
            written: 0,
        })
    }

    /// Writes `value` at `key` (`None` removes the key).
    pub fn put(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<(), StoreError> {
        match value {
            Some(value) => self.batch.insert(key, value),
            None => self.batch.remove(key),
        }
        self.pending += 1;
        if self.pending >= BATCH_RECORDS {
            self.apply()?;
        }
        Ok(())
    }

    fn apply(&mut self) -> Result<(), StoreError> {
        let batch = std::mem::take(&mut self.batch);
        self.db.apply_batch(batch)?;
        self.written += self.pending as u64;
        self.pending = 0;
        Ok(())
    }

    /// Writes what is pending and flushes: the store is then durable.
    /// Returns the number of records it holds.
    pub fn finish(mut self) -> Result<u64, StoreError> {
        self.apply()?;
        self.db.flush()?;
        Ok(self.db.len() as u64)
    }
}
