//! Reading a backup file: the manifest through the footer, or the whole
//! file with every checksum verified.

use super::{
    record_crc, Entry, Manifest, BATCH, BLOCK_BYTES_MAX, END_MAGIC, FOOTER_LEN, FORMAT_VERSION,
    HEADER_LEN, MAGIC, MANIFEST, MANIFEST_BYTES_MAX, RECORDS,
};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// Why a backup file cannot be trusted, naming where.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("not a surge backup: {0}")]
    NotABackup(String),
    #[error("the manifest cannot be read: {0}")]
    Manifest(String),
    #[error("block {index} ({kind}, at byte {offset}): {problem}")]
    Block {
        index: u64,
        kind: &'static str,
        offset: u64,
        problem: String,
    },
    #[error("the file's checksum does not hold: SHA-256 {actual}, the manifest says {expected}")]
    FileChecksum { expected: String, actual: String },
    #[error("the manifest says {field} is {expected}, the file holds {actual}")]
    Mismatch {
        field: &'static str,
        expected: u64,
        actual: u64,
    },
}

/// Reads the manifest through the footer, without reading the body.
pub fn read_manifest(path: &Path) -> Result<(Manifest, u64), FormatError> {
    let mut file = File::open(path)?;
    let size = file.metadata()?.len();
    if size < HEADER_LEN + FOOTER_LEN {
        return Err(FormatError::NotABackup(format!(
            "{size} bytes is too short"
        )));
    }
    let mut header = [0u8; 12];
    file.read_exact(&mut header)?;
    check_header(&header)?;
    file.seek(SeekFrom::Start(size - FOOTER_LEN))?;
    let mut footer = [0u8; 16];
    file.read_exact(&mut footer)?;
    if &footer[8..] != END_MAGIC {
        return Err(FormatError::NotABackup(
            "no footer: the file is truncated or its end is damaged".into(),
        ));
    }
    let at = u64::from_be_bytes(footer[..8].try_into().unwrap_or_default());
    if at < HEADER_LEN || at > size - FOOTER_LEN {
        return Err(FormatError::Manifest(format!(
            "the footer points at byte {at}, outside the file"
        )));
    }
    file.seek(SeekFrom::Start(at))?;
    let mut reader = BufReader::new(file);
    let (kind, payload) = read_block(&mut reader, MANIFEST_BYTES_MAX)
        .map_err(|(_, problem)| FormatError::Manifest(problem.to_string()))?;
    if kind != MANIFEST {
        return Err(FormatError::Manifest(format!(
            "the footer points at a block of kind {:?}",
            kind as char
        )));
    }
    let manifest: Manifest =
        serde_json::from_slice(&payload).map_err(|e| FormatError::Manifest(e.to_string()))?;
    if manifest.format_version != FORMAT_VERSION {
        return Err(FormatError::NotABackup(format!(
            "format version {} (this build reads {FORMAT_VERSION})",
            manifest.format_version
        )));
    }
    Ok((manifest, at))
}

fn check_header(header: &[u8; 12]) -> Result<(), FormatError> {
    if &header[..8] != MAGIC {
        return Err(FormatError::NotABackup(
            "it does not start with SURGEBAK".into(),
        ));
    }
    let version = u32::from_be_bytes(header[8..].try_into().unwrap_or_default());
    if version != FORMAT_VERSION {
        return Err(FormatError::NotABackup(format!(
            "format version {version} (this build reads {FORMAT_VERSION})"
        )));
    }
    Ok(())
}

/// Why one block cannot be read.
#[derive(Debug, thiserror::Error)]
enum BlockProblem {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("its length {0} is beyond the largest block")]
    TooLong(u32),
    #[error("checksum mismatch{0}")]
    Checksum(String),
}

/// The name of a block kind, for messages.
fn kind_name(kind: u8) -> &'static str {
    match kind {
        RECORDS => "records",
        BATCH => "batch",
        MANIFEST => "manifest",
        _ => "unknown kind",
    }
}

/// One block: its kind and payload, or why not (with the kind it claims).
fn read_block(
    input: &mut impl Read,
    max: u32,
) -> Result<(u8, Vec<u8>), (&'static str, BlockProblem)> {
    let mut head = [0u8; 5];
    input
        .read_exact(&mut head)
        .map_err(|e| ("unreadable", e.into()))?;
    let name = kind_name(head[0]);
    let len = u32::from_be_bytes(head[1..].try_into().unwrap_or_default());
    if len > max {
        return Err((name, BlockProblem::TooLong(len)));
    }
    let mut payload = vec![0u8; len as usize];
    let mut stored = [0u8; 4];
    input
        .read_exact(&mut payload)
        .and_then(|()| input.read_exact(&mut stored))
        .map_err(|e| (name, e.into()))?;
    let mut crc = crc32fast::Hasher::new();
    crc.update(&head);
    crc.update(&payload);
    if crc.finalize() != u32::from_be_bytes(stored) {
        let detail = match head[0] {
            RECORDS => first_bad_record(&payload),
            _ => String::new(),
        };
        return Err((name, BlockProblem::Checksum(detail)));
    }
    Ok((head[0], payload))
}

/// Names the first record of a damaged records block whose own checksum
/// fails, when the block still parses that far.
fn first_bad_record(payload: &[u8]) -> String {
    let mut cursor = Cursor(payload);
    while !cursor.0.is_empty() {
        let (Ok(key), Ok(value), Ok(crc)) = (cursor.bytes(), cursor.bytes(), cursor.u32()) else {
            return "; the records in it no longer parse".into();
        };
        if record_crc(key, value) != crc {
            return format!("; record {} is damaged", printable(key));
        }
    }
    "; its records' own checksums hold (the block's framing is damaged)".into()
}

/// A key as text for messages (bytes that are not UTF-8 escaped).
pub fn printable(key: &[u8]) -> String {
    format!("'{}'", key.escape_ascii())
}

/// Reads a payload from the front.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err(format!("{n} bytes wanted, {} left", self.0.len()));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, String> {
        let bytes = self.take(4)?;
        Ok(u32::from_be_bytes(bytes.try_into().unwrap_or_default()))
    }

    fn u64(&mut self) -> Result<u64, String> {
        let bytes = self.take(8)?;
        Ok(u64::from_be_bytes(bytes.try_into().unwrap_or_default()))
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let len = self.u32()? as usize;
        self.take(len)
    }
}

/// Counts of what a whole read found.
#[derive(Debug, Default)]
pub struct Walked {
    pub records: u64,
    pub batches: u64,
    pub ops: u64,
    pub last_seq: Option<u64>,
}

/// Reads the whole file, verifying every checksum and the manifest's
/// counts, and hands every entry, in order, to `visit`. A visitor that
/// writes must only trust what it got once this returns `Ok`.
pub fn walk(
    path: &Path,
    mut visit: impl FnMut(Entry<'_>) -> io::Result<()>,
) -> Result<Manifest, FormatError> {
    let (manifest, body_end) = read_manifest(path)?;
    let file = File::open(path)?;
    let mut input = Hashing {
        inner: BufReader::with_capacity(1 << 20, file),
        hash: Sha256::new(),
    };
    let mut header = [0u8; 12];
    input.read_exact(&mut header)?;
    check_header(&header)?;
    let mut offset = HEADER_LEN;
    let mut walked = Walked::default();
    let mut index = 0;
    while offset < body_end {
        let named = |kind, problem: String| FormatError::Block {
            index,
            kind,
            offset,
            problem,
        };
        let (kind, payload) = read_block(&mut input, BLOCK_BYTES_MAX)
            .map_err(|(kind, problem)| named(kind, problem.to_string()))?;
        let name = kind_name(kind);
        match kind {
            RECORDS => records(&payload, &mut walked, &mut visit).map_err(|p| named(name, p))?,
            BATCH => batch(&payload, &mut walked, &mut visit).map_err(|p| named(name, p))?,
            other => {
                return Err(named(
                    name,
                    format!("{:?} has no place here", other as char),
                ))
            }
        }
        offset += 9 + payload.len() as u64;
        index += 1;
    }
    let actual = hex::encode(input.hash.finalize());
    if actual != manifest.body_sha256 {
        return Err(FormatError::FileChecksum {
            expected: manifest.body_sha256,
            actual,
        });
    }
    agree(&manifest, &walked, index)?;
    Ok(manifest)
}

fn agree(manifest: &Manifest, walked: &Walked, blocks: u64) -> Result<(), FormatError> {
    let last_seq = walked.last_seq.unwrap_or(manifest.start_commit_seq);
    let pairs = [
        ("records", manifest.records, walked.records),
        ("tail_batches", manifest.tail_batches, walked.batches),
        ("tail_ops", manifest.tail_ops, walked.ops),
        ("blocks", manifest.blocks, blocks),
        ("last_commit_seq", manifest.last_commit_seq, last_seq),
    ];
    for (field, expected, actual) in pairs {
        if expected != actual {
            return Err(FormatError::Mismatch {
                field,
                expected,
                actual,
            });
        }
    }
    Ok(())
}

fn records(
    payload: &[u8],
    walked: &mut Walked,
    visit: &mut impl FnMut(Entry<'_>) -> io::Result<()>,
) -> Result<(), String> {
    let mut cursor = Cursor(payload);
    while !cursor.0.is_empty() {
        let key = cursor.bytes()?;
        let value = cursor.bytes()?;
        let stored = cursor.u32()?;
        if record_crc(key, value) != stored {
            return Err(format!("record {} is damaged", printable(key)));
        }
        walked.records += 1;
        visit(Entry::Record { key, value }).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn batch(
    payload: &[u8],
    walked: &mut Walked,
    visit: &mut impl FnMut(Entry<'_>) -> io::Result<()>,
) -> Result<(), String> {
    let mut cursor = Cursor(payload);
    let seq = cursor.u64()?;
    if walked.last_seq.is_some_and(|last| seq <= last) {
        return Err(format!("commit {seq} comes after a later one"));
    }
    let count = cursor.u32()?;
    for _ in 0..count {
        let put = cursor.take(1)?[0] == 1;
        let key = cursor.bytes()?;
        let value = if put { Some(cursor.bytes()?) } else { None };
        visit(Entry::Op { seq, key, value }).map_err(|e| e.to_string())?;
    }
    if !cursor.0.is_empty() {
        return Err(format!("{} bytes after its last op", cursor.0.len()));
    }
    walked.batches += 1;
    walked.ops += u64::from(count);
    walked.last_seq = Some(seq);
    Ok(())
}

/// A reader that hashes what passes through it.
struct Hashing<R> {
    inner: R,
    hash: Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}
