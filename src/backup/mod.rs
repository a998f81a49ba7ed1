//! Backups: a consistent point-in-time copy of a running node in one file,
//! and the restore that turns one back into a store.
//!
//! - [`format`]: the file (blocks with checksums, a manifest, a footer);
//! - [`take`]: one online backup (the copy plus the commits meanwhile);
//! - [`files`]: the backup directory (names, listing, rotation, leftovers);
//! - [`restore`]: `surge restore`, and the verified restore `surge check`
//!   reads a backup through;
//! - [`client`]: `surge backup`, which asks a running node for one;
//! - [`settings`]: the `[backup]` section.
//!
//! [`Backups`] is what the server holds: one backup at a time, made once
//! per Idempotency-Key, scheduled on the server's clock, rotated, and
//! reported in metrics (the age of the newest is the recovery point).

pub mod client;
mod files;
pub mod format;
pub mod restore;
mod settings;
mod take;
#[cfg(test)]
mod tests;

pub use files::BackupFile;
pub use settings::BackupSettings;

use crate::clock::{Clock, Millis};
use crate::idempotency::{request_digest, Answered, Idempotency, IdempotencyError, IdempotencyKey};
use crate::store::{CopyError, Store, StoreError, WriteGroup};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Why a backup was not made (or cannot be read).
#[derive(Debug, Clone, thiserror::Error)]
pub enum BackupError {
    #[error("a backup is being taken; retry when it is done")]
    InProgress,
    #[error("no backup {0}")]
    NotFound(String),
    #[error("the backup {0} this Idempotency-Key made has been removed since (rotated out or deleted); send a new key for a new backup")]
    RemovedSince(String),
    #[error("writes committed during the copy outgrew {max_bytes} bytes (backup.tap_bytes_max) before the backup wrote them; retry when the load is lower")]
    Overflow { max_bytes: usize },
    #[error("backup failed: {0}")]
    Io(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Idempotency(#[from] IdempotencyError),
}

impl BackupError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::InProgress => "backup-in-progress",
            Self::NotFound(_) => "backup-not-found",
            Self::RemovedSince(_) => "backup-removed-since",
            Self::Overflow { .. } => "backup-overloaded",
            Self::Io(_) => "backup-failed",
            Self::Store(e) => e.code(),
            Self::Idempotency(e) => e.code(),
        }
    }
}

impl From<CopyError> for BackupError {
    fn from(e: CopyError) -> Self {
        match e {
            CopyError::Busy => Self::InProgress,
            CopyError::Overflow { max_bytes } => Self::Overflow { max_bytes },
            CopyError::Store(e) => Self::Store(e),
        }
    }
}

/// A backup as the API shows it (and as an Idempotency-Key's receipt
/// keeps it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BackupInfo {
    /// The backup's id; its file is `<id>.backup` in the backup directory.
    pub id: String,
    pub file: String,
    /// When the copy began (RFC 3339).
    pub created_at: String,
    pub size_bytes: u64,
    /// The store as it was after this group commit: every write
    /// acknowledged before the backup was answered is in it.
    pub last_commit_seq: u64,
    /// Records copied.
    pub records: u64,
    /// Writes committed during the copy, replayed over the records.
    pub tail_ops: u64,
    pub duration_ms: u64,
}

impl From<&BackupFile> for BackupInfo {
    fn from(b: &BackupFile) -> Self {
        let m = &b.manifest;
        Self {
            id: m.id.clone(),
            file: b.path.display().to_string(),
            created_at: m.created_at.clone(),
            size_bytes: b.size_bytes,
            last_commit_seq: m.last_commit_seq,
            records: m.records,
            tail_ops: m.tail_ops,
            duration_ms: m.duration_ms,
        }
    }
}

/// The node's backups. Cheap to clone.
#[derive(Clone)]
pub struct Backups {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    idempotency: Idempotency,
    clock: Arc<dyn Clock>,
    settings: BackupSettings,
    dir: PathBuf,
    /// Set while a backup is taken: one at a time.
    running: AtomicBool,
    /// Creation time of the newest backup (0: none), for the age metric.
    newest_ms: AtomicU64,
    /// Set at shutdown: a backup being taken stops, so that the store can
    /// be closed and released at once.
    stopping: Arc<AtomicBool>,
}

/// Clears the running flag however the backup ends.
struct Running<'a>(&'a AtomicBool);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl Backups {
    /// The backups of a node whose data directory is `data_dir`.
    pub fn new(
        store: Store,
        idempotency: Idempotency,
        clock: Arc<dyn Clock>,
        settings: BackupSettings,
        data_dir: &Path,
    ) -> Self {
        let dir = settings.dir_for(data_dir);
        let newest = files::list(&dir)
            .ok()
            .and_then(|all| all.first().map(|b| b.manifest.created_at_ms))
            .unwrap_or(0);
        Self {
            inner: Arc::new(Inner {
                store,
                idempotency,
                clock,
                settings,
                dir,
                running: AtomicBool::new(false),
                newest_ms: AtomicU64::new(newest),
                stopping: Arc::default(),
            }),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The `[backup]` section the node runs with (the dashboard shows the
    /// schedule).
    pub fn settings(&self) -> &BackupSettings {
        &self.inner.settings
    }

    /// Milliseconds since the newest backup began, on the server's clock:
    /// the recovery point, as `surge_backup_newest_age_seconds` reports it.
    /// None before the first.
    pub fn newest_age_ms(&self) -> Option<u64> {
        match self.inner.newest_ms.load(Ordering::Acquire) {
            0 => None,
            newest => Some(self.inner.clock.now_ms().saturating_sub(newest)),
        }
    }

    /// Takes a backup, once per Idempotency-Key: a retry answers the backup
    /// the key made (even if rotation has deleted it since).
    pub async fn create(
        &self,
        key: Option<&IdempotencyKey>,
    ) -> Result<Answered<BackupInfo>, BackupError> {
        let store = &self.inner.store;
        let digest = request_digest(&[b"backup"]);
        let answered = self
            .inner
            .idempotency
            .once(store, "backup", key, digest, |keyed| async move {
                let info = self.take_now().await?;
                if let Some(keyed) = keyed {
                    let mut group = WriteGroup::new();
                    keyed.record(&mut group, &info)?;
                    store.commit(group).await?;
                }
                Ok::<_, BackupError>(info)
            })
            .await?;
        // A replay must not answer 201 with a backup rotation (or an
        // operator) has removed since: its Location would be a 404.
        if answered.replayed && !files::path_of(&self.inner.dir, &answered.value.id).exists() {
            return Err(BackupError::RemovedSince(answered.value.id));
        }
        Ok(answered)
    }

    /// Takes a backup now, then rotates.
    async fn take_now(&self) -> Result<BackupInfo, BackupError> {
        let inner = &self.inner;
        if inner.stopping.load(Ordering::Acquire) {
            return Err(StoreError::Closed.into());
        }
        if inner.running.swap(true, Ordering::AcqRel) {
            return Err(BackupError::InProgress);
        }
        let _running = Running(&inner.running);
        let created_at_ms = inner.clock.now_ms();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (store, dir, settings, stop) = (
            inner.store.clone(),
            inner.dir.clone(),
            inner.settings.clone(),
            inner.stopping.clone(),
        );
        std::thread::Builder::new()
            .name("surge-backup".into())
            .spawn(move || {
                let id = files::new_id(created_at_ms);
                let order = take::Order {
                    dir: &dir,
                    id: &id,
                    created_at_ms,
                    settings: &settings,
                    stop: &stop,
                };
                let taken = take::take(&store, &order);
                // The store handle goes before the answer: once a caller
                // hears of the end, this thread holds no store.
                drop(store);
                let _ = tx.send(taken);
            })
            .map_err(|e| BackupError::Io(format!("starting the backup thread: {e}")))?;
        let taken = rx
            .await
            .unwrap_or_else(|_| Err(BackupError::Io("the backup thread died".into())));
        let file = match taken {
            Ok(file) => file,
            Err(e) => {
                metrics::counter!("surge_backup_failures_total").increment(1);
                tracing::error!(error = %e, "backup failed");
                return Err(e);
            }
        };
        self.taken(&file);
        Ok(BackupInfo::from(&file))
    }

    fn taken(&self, file: &BackupFile) {
        let m = &file.manifest;
        tracing::info!(id = %m.id, records = m.records, tail_ops = m.tail_ops,
            last_commit_seq = m.last_commit_seq, size_bytes = file.size_bytes,
            duration_ms = m.duration_ms, "backup taken");
        metrics::counter!("surge_backups_total").increment(1);
        metrics::gauge!("surge_backup_last_duration_seconds").set(m.duration_ms as f64 / 1000.0);
        metrics::gauge!("surge_backup_last_size_bytes").set(file.size_bytes as f64);
        self.inner
            .newest_ms
            .fetch_max(m.created_at_ms, Ordering::AcqRel);
        self.publish_age();
        match files::rotate(&self.inner.dir, self.inner.settings.keep) {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "rotated old backups"),
            Err(e) => tracing::warn!(error = %e, "rotating backups failed"),
        }
    }

    /// Stops a backup being taken (at shutdown), and refuses new ones.
    pub fn stop(&self) {
        self.inner.stopping.store(true, Ordering::Release);
    }

    /// Sets the age of the newest backup (the recovery point) for a scrape.
    pub fn publish_age(&self) {
        let Some(age_ms) = self.newest_age_ms() else {
            return;
        };
        metrics::gauge!("surge_backup_newest_age_seconds").set(age_ms as f64 / 1000.0);
    }

    /// Every backup, newest first.
    pub fn list(&self) -> Result<Vec<BackupInfo>, BackupError> {
        let all = files::list(&self.inner.dir)
            .map_err(|e| BackupError::Io(format!("{}: {e}", self.inner.dir.display())))?;
        Ok(all.iter().map(BackupInfo::from).collect())
    }

    pub fn get(&self, id: &str) -> Result<BackupInfo, BackupError> {
        match files::read(&self.inner.dir, id) {
            Ok(Some(file)) => Ok(BackupInfo::from(&file)),
            Ok(None) => Err(BackupError::NotFound(id.to_owned())),
            Err(e) => Err(BackupError::Io(format!(
                "{}: {e}",
                self.inner.dir.display()
            ))),
        }
    }

    /// Takes a backup every `[backup] every_secs` of the server's clock
    /// after the newest one, until aborted. Failures are logged and counted;
    /// the next one is tried a period later.
    pub fn schedule(&self) -> Option<actix_web::rt::task::JoinHandle<()>> {
        let every_ms = self.inner.settings.every_secs.checked_mul(1000)?;
        if every_ms == 0 {
            return None;
        }
        let backups = self.clone();
        Some(actix_web::rt::spawn(async move {
            let mut last: Millis = match backups.inner.newest_ms.load(Ordering::Acquire) {
                0 => backups.inner.clock.now_ms(),
                newest => newest,
            };
            loop {
                backups
                    .inner
                    .clock
                    .sleep_until(last.saturating_add(every_ms))
                    .await;
                last = backups.inner.clock.now_ms();
                if let Err(e) = backups.create(None).await {
                    tracing::warn!(error = %e, "scheduled backup not taken");
                }
            }
        }))
    }
}
