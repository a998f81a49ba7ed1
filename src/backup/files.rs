//! The backup directory: names, listing, rotation, and the temporary files
//! a killed backup leaves behind.
//!
//! A backup is written to `.<id>.backup.tmp`, synced, renamed to
//! `<id>.backup` and the directory synced: a name ending in `.backup` is
//! always a complete file. Ids start with the creation time (UTC,
//! `YYYYMMDDTHHMMSSmmmZ`), so name order is age order.

use super::format::{self, Manifest};
use crate::clock::Millis;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

const SUFFIX: &str = ".backup";
const TEMP_SUFFIX: &str = ".backup.tmp";

/// A backup as listed: its manifest and its file's size.
#[derive(Debug, Clone)]
pub struct BackupFile {
    pub manifest: Manifest,
    pub path: PathBuf,
    pub size_bytes: u64,
}

/// A new id for a backup created at `at`: the time, then 32 random bits
/// (two backups in one millisecond do not collide).
pub fn new_id(at: Millis) -> String {
    let time = chrono::DateTime::from_timestamp_millis(at as i64).unwrap_or_default();
    format!(
        "{}-{:08x}",
        time.format("%Y%m%dT%H%M%S%3fZ"),
        fastrand::u32(..)
    )
}

/// Whether `id` could name a backup (and is safe as a file name).
pub fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

pub fn path_of(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}{SUFFIX}"))
}

pub fn temp_path_of(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!(".{id}{TEMP_SUFFIX}"))
}

/// Deletes what backups killed half-way left. Only one backup runs at a
/// time in a node, and this runs before it starts.
pub fn remove_stale_temps(dir: &Path) -> io::Result<usize> {
    let mut removed = 0;
    for entry in read_dir(dir)? {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.ends_with(TEMP_SUFFIX) {
            fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// The ids of the complete backups in `dir`, oldest first.
fn ids(dir: &Path) -> io::Result<Vec<String>> {
    let mut ids: Vec<String> = read_dir(dir)?
        .into_iter()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let id = name.strip_suffix(SUFFIX)?;
            valid_id(id).then(|| id.to_owned())
        })
        .collect();
    ids.sort();
    Ok(ids)
}

fn read_dir(dir: &Path) -> io::Result<Vec<fs::DirEntry>> {
    match fs::read_dir(dir) {
        Ok(entries) => entries.collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Reads one backup's manifest; `None` if there is no such backup.
pub fn read(dir: &Path, id: &str) -> io::Result<Option<BackupFile>> {
    if !valid_id(id) {
        return Ok(None);
    }
    let path = path_of(dir, id);
    let size_bytes = match fs::metadata(&path) {
        Ok(meta) => meta.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    match format::read_manifest(&path) {
        Ok((manifest, _)) => Ok(Some(BackupFile {
            manifest,
            path,
            size_bytes,
        })),
        Err(e) => {
            // Listed files are the complete ones; a damaged one is skipped
            // here and named by `surge check`.
            tracing::warn!(path = %path.display(), error = %e, "a backup's manifest cannot be read");
            Ok(None)
        }
    }
}

/// Every backup whose manifest reads, newest first.
pub fn list(dir: &Path) -> io::Result<Vec<BackupFile>> {
    let mut out = Vec::new();
    for id in ids(dir)?.iter().rev() {
        out.extend(read(dir, id)?);
    }
    Ok(out)
}

/// Deletes the oldest backups beyond the newest `keep`; returns how many.
pub fn rotate(dir: &Path, keep: usize) -> io::Result<usize> {
    let ids = ids(dir)?;
    let excess = ids.len().saturating_sub(keep);
    for id in &ids[..excess] {
        fs::remove_file(path_of(dir, id))?;
    }
    if excess > 0 {
        sync_dir(dir)?;
    }
    Ok(excess)
}

/// Makes renames and deletions in `dir` durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_time_and_are_safe_names() {
        let (a, b) = (new_id(1_700_000_000_000), new_id(1_700_000_000_001));
        assert!(a < b, "{a} < {b}");
        assert!(valid_id(&a), "{a}");
        for bad in ["", "../etc", "a/b", "x.backup", &"a".repeat(65)] {
            assert!(!valid_id(bad), "{bad}");
        }
    }

    #[test]
    fn rotation_keeps_the_newest_and_stale_temps_go() {
        let dir = tempfile::tempdir().unwrap();
        for at in [3u64, 1, 2] {
            fs::write(path_of(dir.path(), &new_id(at)), b"x").unwrap();
        }
        fs::write(temp_path_of(dir.path(), "old"), b"half").unwrap();
        fs::write(dir.path().join("notes.txt"), b"mine").unwrap();
        assert_eq!(remove_stale_temps(dir.path()).unwrap(), 1);
        assert_eq!(rotate(dir.path(), 2).unwrap(), 1);
        let left = ids(dir.path()).unwrap();
        assert_eq!(left.len(), 2);
        assert!(left[0].starts_with("19700101T000000002Z"), "{left:?}");
        assert!(dir.path().join("notes.txt").exists(), "not ours: kept");
    }
}
