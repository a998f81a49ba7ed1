//! `[backup]`: where backups go, how often they are taken, how many are kept.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BackupSettings {
    /// Directory of the backup files. Empty (the default): `backups` beside
    /// the data directory (`data/store` -> `data/backups`), so that a restore
    /// into a fresh data directory does not sit on top of its own backups.
    pub dir: PathBuf,
    /// Seconds between scheduled backups, on the server's clock; 0 = none.
    pub every_secs: u64,
    /// Backups kept: after each one, the oldest beyond this many are deleted.
    pub keep: usize,
    /// Most bytes of writes committed during a copy that wait to be written
    /// into it; a backup that falls further behind fails (writes never wait).
    pub tap_bytes_max: usize,
    /// Cap on how fast a backup writes its file, bytes per second, so that
    /// it does not take the disk from the committer; 0 = no cap.
    pub write_bytes_per_sec_max: u64,
}

impl Default for BackupSettings {
    fn default() -> Self {
        Self {
            dir: PathBuf::new(),
            every_secs: 0,
            keep: 7,
            tap_bytes_max: 256 * 1024 * 1024,
            write_bytes_per_sec_max: 0,
        }
    }
}

impl BackupSettings {
    /// The backup directory for a node whose data directory is `data_dir`.
    pub fn dir_for(&self, data_dir: &Path) -> PathBuf {
        if !self.dir.as_os_str().is_empty() {
            return self.dir.clone();
        }
        match data_dir.parent() {
            Some(parent) => parent.join("backups"),
            None => PathBuf::from("backups"),
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.keep == 0 {
            return Err("backup.keep must be at least 1".into());
        }
        if self.tap_bytes_max < 1024 * 1024 {
            return Err("backup.tap_bytes_max must be at least 1048576 (1 MiB)".into());
        }
        Ok(())
    }
}
