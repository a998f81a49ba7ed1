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

mod read;
mod write;

pub use read::{printable, read_manifest, walk, FormatError};
pub use write::Writer;

use serde::{Deserialize, Serialize};

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

/// The checksum each record carries: CRC-32 of its key, then its value.
fn record_crc(key: &[u8], value: &[u8]) -> u32 {
    let mut crc = crc32fast::Hasher::new();
    crc.update(key);
    crc.update(value);
    crc.finalize()
}
