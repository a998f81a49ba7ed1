//! `surge restore BACKUP --data-dir DIR [--force]`: a backup file back into
//! a store a server can start on.
//!
//! Every checksum is verified before anything is written. The store is
//! built beside its final place (`DIR/.sled-restoring`), flushed, and only
//! then renamed to `DIR/sled`: a restore killed half-way leaves no store
//! that looks complete.

use super::format::{self, Entry, FormatError, Manifest};
use crate::store::{self, StoreImage};
use std::fs;
use std::path::{Path, PathBuf};

/// `surge restore`'s arguments.
#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// The backup file (`<id>.backup`).
    #[arg(value_name = "BACKUP")]
    pub backup: PathBuf,
    /// Data directory to restore into (what `serve --data-dir` will be
    /// given; the store goes to DIR/sled). It must be empty or absent.
    #[arg(long, value_name = "DIR")]
    pub data_dir: PathBuf,
    /// Replace the store of a non-empty DIR (its other files stay).
    #[arg(long)]
    pub force: bool,
}

/// Why a restore did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The backup cannot be trusted; nothing was written.
    #[error("{path}: {error}; nothing was restored")]
    Damaged { path: PathBuf, error: FormatError },
    #[error("{0} is not empty (it holds {1}); restore into an empty directory, or pass --force to replace its store")]
    NotEmpty(PathBuf, String),
    #[error("the store in {0} is in use by a running surge: stop it first")]
    InUse(PathBuf),
    #[error("{0}")]
    Io(String),
}

/// What a restore wrote.
pub struct Restored {
    pub manifest: Manifest,
    /// Records in the restored store.
    pub records: u64,
}

/// Exit code: restored.
pub const RESTORED: u8 = 0;
/// Exit code: the backup is damaged (each checksum is named); nothing written.
pub const DAMAGED: u8 = 1;
/// Exit code: the restore could not run (a non-empty directory, I/O, usage).
pub const CANNOT_RUN: u8 = 2;

/// Runs `surge restore`; returns the exit code.
pub fn run(args: RestoreArgs) -> u8 {
    let started = std::time::Instant::now();
    match restore(&args.backup, &args.data_dir, args.force) {
        Ok(done) => {
            let m = &done.manifest;
            println!(
                "restored backup {} (taken {}, up to commit {}) into {}: {} records in {:.1?}",
                m.id,
                m.created_at,
                m.last_commit_seq,
                args.data_dir.display(),
                done.records,
                started.elapsed()
            );
            RESTORED
        }
        Err(e @ RestoreError::Damaged { .. }) => {
            eprintln!("surge restore: {e}");
            DAMAGED
        }
        Err(e) => {
            eprintln!("surge restore: {e}");
            CANNOT_RUN
        }
    }
}

/// Verifies the whole of `backup`, then writes its store into `data_dir`.
pub fn restore(backup: &Path, data_dir: &Path, force: bool) -> Result<Restored, RestoreError> {
    verify(backup)?;
    ready_to_write(data_dir, force)?;
    let building = data_dir.join(".sled-restoring");
    if building.exists() {
        // An earlier restore was killed while building.
        fs::remove_dir_all(&building).map_err(|e| io(&building, e))?;
    }
    let mut image = StoreImage::create(&building).map_err(|e| RestoreError::Io(e.to_string()))?;
    let mut failed = None;
    let manifest = format::walk(backup, |entry| {
        let put = match entry {
            Entry::Record { key, value } => image.put(key, Some(value)),
            Entry::Op { key, value, .. } => image.put(key, value),
        };
        put.map_err(|e| {
            failed = Some(e.to_string());
            std::io::Error::other(e.to_string())
        })
    })
    .map_err(|error| damaged_or_io(backup, error, failed.take()))?;
    let records = image
        .finish()
        .map_err(|e| RestoreError::Io(e.to_string()))?;
    let target = data_dir.join("sled");
    if target.exists() {
        fs::remove_dir_all(&target).map_err(|e| io(&target, e))?;
    }
    fs::rename(&building, &target).map_err(|e| io(&target, e))?;
    fs::File::open(data_dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io(data_dir, e))?;
    Ok(Restored { manifest, records })
}

/// Reads the whole backup, checking every checksum, writing nothing.
pub fn verify(backup: &Path) -> Result<Manifest, RestoreError> {
    format::walk(backup, |_| Ok(())).map_err(|error| RestoreError::Damaged {
        path: backup.to_path_buf(),
        error,
    })
}

fn damaged_or_io(backup: &Path, error: FormatError, write: Option<String>) -> RestoreError {
    match write {
        Some(e) => RestoreError::Io(format!("writing the store: {e}")),
        None => RestoreError::Damaged {
            path: backup.to_path_buf(),
            error,
        },
    }
}

/// Refuses a data directory with anything in it, unless forced; even
/// forced, refuses one a running server holds.
fn ready_to_write(data_dir: &Path, force: bool) -> Result<(), RestoreError> {
    fs::create_dir_all(data_dir).map_err(|e| io(data_dir, e))?;
    let mut names: Vec<String> = fs::read_dir(data_dir)
        .map_err(|e| io(data_dir, e))?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name != ".sled-restoring")
        .collect();
    if names.is_empty() {
        return Ok(());
    }
    if store::in_use(data_dir) {
        return Err(RestoreError::InUse(data_dir.to_path_buf()));
    }
    if !force {
        names.sort();
        return Err(RestoreError::NotEmpty(
            data_dir.to_path_buf(),
            names.join(", "),
        ));
    }
    Ok(())
}

fn io(path: &Path, e: std::io::Error) -> RestoreError {
    RestoreError::Io(format!("{}: {e}", path.display()))
}
