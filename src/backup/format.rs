//! The backup file: one file, read and written front to back.
//!
//! ```text
//! header    "SURGEBAK" · format version (u32)
//! blocks    kind (u8) · payload length (u32) · payload · CRC-32 of the three before
//!   'R' records:  per record: key length (u32) · key · value length (u32) · value · CRC-32 of key and value
//!   'B' a batch committed during the copy: commit sequence (u64) · op count (u32) ·
//!       per op: 1 put / 0 remove (u8) · key length (u32) · key · [value length (u32) · value]
//!   'M' the manifest (JSON), always last
//! footer    offset of the manifest block (u64) · "SURGEEND"
//! ```
//!
//! Integers are big-endian. The manifest carries the SHA-256 of every byte
//! before it, so a restore trusts nothing it has not verified; the footer
//! lets a listing read the manifest without reading the whole file.
//! Blocks are applied in file order: a records block holds records scanned
//! after every batch written before it was applied (see `take`).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

pub const MAGIC: &[u8; 8] = b"SURGEBAK";
pub const END_MAGIC: &[u8; 8] = b"SURGEEND";
/// The layout written today; a reader refuses any other.
pub const FORMAT_VERSION: u32 = 1;
const HEADER_LEN: u64 = 12;
const FOOTER_LEN: u64 = 16;
/// A records block is written once its payload reaches this size.
pub const RECORDS_BLOCK_BYTES: usize = 1024 * 1024;
/// Largest block a reader accepts (a batch of the largest commit fits).
const BLOCK_BYTES_MAX: u32 = 512 * 1024 * 1024;
/// Largest manifest a reader accepts.
const MANIFEST_BYTES_MAX: u32 = 64 * 1024;

const RECORDS: u8 = b'R';
const BATCH: u8 = b'B';
const MANIFEST: u8 = b'M';

/// What a backup holds, written at its end.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format_version: u32,
    /// The backup's id (its file name without `.backup`).
    pub id: String,
    /// When the copy began (the server's clock), RFC 3339 and milliseconds.
    pub created_at: String,
    pub created_at_ms: u64,
    /// The image is the store after this group commit, and holds every
    /// write acknowledged before the backup finished copying.
    pub last_commit_seq: u64,
    /// The last commit fully in the store when the copy began.
    pub start_commit_seq: u64,
    /// Records copied by the scan.
    pub records: u64,
    /// Batches committed during the copy, replayed over the records.
    pub tail_batches: u64,
    pub tail_ops: u64,
    /// Blocks before the manifest.
    pub blocks: u64,
    /// SHA-256 (hex) of every byte before the manifest block.
    pub body_sha256: String,
    pub duration_ms: u64,
    pub surge_version: String,
}

/// What a backup file holds, in order.
pub enum Entry<'a> {
    Record {
        key: &'a [u8],
        value: &'a [u8],
    },
    Op {
        seq: u64,
        key: &'a [u8],
        value: Option<&'a [u8]>,
    },
}

/// Writes a backup file block by block, hashing what it writes.
pub struct Writer {
    out: BufWriter<File>,
    hash: Sha256,
    offset: u64,
    records: Vec<u8>,
    pub blocks: u64,
    pub record_count: u64,
}

impl Writer {
    pub fn create(path: &Path) -> io::Result<Self> {
        let file = File::options().write(true).create_new(true).open(path)?;
        let mut writer = Self {
            out: BufWriter::with_capacity(1 << 20, file),
            hash: Sha256::new(),
            offset: 0,
            records: Vec::with_capacity(RECORDS_BLOCK_BYTES + 4096),
            blocks: 0,
            record_count: 0,
        };
        let mut header = MAGIC.to_vec();
        header.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
        writer.raw(&header)?;
        Ok(writer)
    }

    /// Bytes written so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.hash.update(bytes);
        self.offset += bytes.len() as u64;
        Ok(())
    }

    fn block(&mut self, kind: u8, payload: &[u8]) -> io::Result<()> {
        let len = u32::try_from(payload.len())
            .ok()
            .filter(|&len| len <= BLOCK_BYTES_MAX)
            .ok_or_else(|| io::Error::other("a backup block outgrew 512 MiB"))?;
        let mut head = [0u8; 5];
        head[0] = kind;
        head[1..].copy_from_slice(&len.to_be_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(&head);
        crc.update(payload);
        self.raw(&head)?;
        self.raw(payload)?;
        self.raw(&crc.finalize().to_be_bytes())?;
        self.blocks += 1;
        Ok(())
    }

    /// Adds a record; returns whether a records block was written.
    pub fn record(&mut self, key: &[u8], value: &[u8]) -> io::Result<bool> {
        put_bytes(&mut self.records, key);
        put_bytes(&mut self.records, value);
        let mut crc = crc32fast::Hasher::new();
        crc.update(key);
        crc.update(value);
        self.records
            .extend_from_slice(&crc.finalize().to_be_bytes());
        self.record_count += 1;
        if self.records.len() < RECORDS_BLOCK_BYTES {
            return Ok(false);
        }
        self.end_records()?;
        Ok(true)
    }

    /// Writes the records gathered so far as a block.
    pub fn end_records(&mut self) -> io::Result<()> {
        if self.records.is_empty() {
            return Ok(());
        }
        let records = std::mem::take(&mut self.records);
        self.block(RECORDS, &records)?;
        self.records = records;
        self.records.clear();
        Ok(())
    }

    /// Writes a batch committed during the copy (after the records before it).
    pub fn batch<'a>(
        &mut self,
        seq: u64,
        ops: impl ExactSizeIterator<Item = (&'a [u8], Option<&'a [u8]>)>,
    ) -> io::Result<()> {
        self.end_records()?;
        let count = u32::try_from(ops.len()).map_err(io::Error::other)?;
        let mut payload = Vec::new();
        payload.extend_from_slice(&seq.to_be_bytes());
        payload.extend_from_slice(&count.to_be_bytes());
        for (key, value) in ops {
            payload.push(u8::from(value.is_some()));
            put_bytes(&mut payload, key);
            if let Some(value) = value {
                put_bytes(&mut payload, value);
            }
        }
        self.block(BATCH, &payload)
    }

    /// Writes the manifest (given the body's hash) and the footer, and
    /// syncs the file to disk.
    pub fn finish(mut self, manifest: impl FnOnce(String) -> Manifest) -> io::Result<Manifest> {
        self.end_records()?;
        let digest = hex::encode(std::mem::take(&mut self.hash).finalize());
        let manifest = manifest(digest);
        let json = serde_json::to_vec(&manifest).map_err(io::Error::other)?;
        let at = self.offset;
        self.block(MANIFEST, &json)?;
        let mut footer = at.to_be_bytes().to_vec();
        footer.extend_from_slice(END_MAGIC);
        self.raw(&footer)?;
        let file = self.out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(manifest)
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    // Keys and values are far below 4 GiB (the body limit bounds them).
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

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
        let mut check = crc32fast::Hasher::new();
        check.update(key);
        check.update(value);
        if check.finalize() != crc {
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
        let mut crc = crc32fast::Hasher::new();
        crc.update(key);
        crc.update(value);
        if crc.finalize() != stored {
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
