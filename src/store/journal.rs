//! The journal: one group commit, one record. sled's cost is per key
//! inserted (a B-tree descent, a page delta, sometimes a split), so the
//! committer no longer inserts each write of a batch under its own key: it
//! appends the whole batch, encoded together, under the next sequential key
//! (`jrnl/<seq><part>`), which sled places at the right edge of its tree.
//! The [`Indexer`](super::indexer) later moves the writes to their keyed
//! homes, and removes the journal record in the same atomic sled batch, so a
//! crash while indexing loses nothing and applies nothing twice: a record
//! still in the journal at start-up has not reached its homes.
//!
//! Until then the writes live in the [`Overlay`], which every read consults
//! before sled.

use super::tap::Op;
use super::{keys, StoreError};
use crossbeam_skiplist::SkipMap;
use std::cmp::Reverse;
use std::ops::Bound;

/// The encoding of a journal record.
const FORMAT: u8 = 1;
/// Most bytes of writes in one journal record. sled writes a value, or a
/// leaf of up to 16 of them when it rewrites the leaf whole, larger than a
/// quarter of its 512 KiB segment to a file of its own (a "blob", written
/// and fsynced apart). Parts this small keep a leaf of journal records
/// under that.
const PART_BYTES_MAX: usize = 4 * 1024;

const PUT: u8 = 1;
const REMOVE: u8 = 0;

/// The key of part `part` of the batch with commit sequence `seq`.
pub(super) fn key(seq: u64, part: u32) -> Vec<u8> {
    let mut key = Vec::with_capacity(keys::JOURNAL.len() + 12);
    key.extend_from_slice(keys::JOURNAL);
    key.extend_from_slice(&seq.to_be_bytes());
    key.extend_from_slice(&part.to_be_bytes());
    key
}

/// The commit sequence a journal key holds, if it is one.
pub(super) fn seq_of(key: &[u8]) -> Option<u64> {
    let rest = key.strip_prefix(keys::JOURNAL)?;
    let seq: [u8; 8] = rest.get(..8)?.try_into().ok()?;
    (rest.len() == 12).then(|| u64::from_be_bytes(seq))
}

/// Encodes a batch's writes as journal record values, in order.
pub(super) fn encode(ops: &[Op]) -> Result<Vec<Vec<u8>>, StoreError> {
    let mut parts = Vec::new();
    let mut part = vec![FORMAT];
    for (key, value) in ops {
        let size = 9 + key.len() + value.as_ref().map_or(0, |v| v.len());
        if part.len() > 1 && part.len() + size > PART_BYTES_MAX {
            parts.push(std::mem::replace(&mut part, vec![FORMAT]));
        }
        part.reserve(size);
        push_bytes(&mut part, key)?;
        match value {
            Some(value) => {
                part.push(PUT);
                push_bytes(&mut part, value)?;
            }
            None => part.push(REMOVE),
        }
    }
    if part.len() > 1 {
        parts.push(part);
    }
    Ok(parts)
}

fn push_bytes(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), StoreError> {
    let len = u32::try_from(bytes.len())
        .map_err(|_| StoreError::io("a record of 4 GiB or more cannot be journaled"))?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

/// Decodes one journal record read from `key`.
pub fn decode(key: &[u8], bytes: &[u8]) -> Result<Vec<Op>, StoreError> {
    let corrupt = |reason: &str| StoreError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        reason: format!("journal record: {reason}"),
    };
    let mut rest = match bytes.split_first() {
        Some((&FORMAT, rest)) => rest,
        Some((format, _)) => {
            return Err(corrupt(&format!(
                "format {format} is not readable by this build (it reads {FORMAT})"
            )))
        }
        None => return Err(corrupt("empty")),
    };
    let mut ops = Vec::new();
    while !rest.is_empty() {
        let key = take_bytes(&mut rest).ok_or_else(|| corrupt("a key runs past the end"))?;
        let value = match rest.split_first() {
            Some((&PUT, after)) => {
                rest = after;
                Some(take_bytes(&mut rest).ok_or_else(|| corrupt("a value runs past the end"))?)
            }
            Some((&REMOVE, after)) => {
                rest = after;
                None
            }
            Some((tag, _)) => return Err(corrupt(&format!("unknown write tag {tag}"))),
            None => return Err(corrupt("a write without its tag")),
        };
        ops.push((key.into(), value.map(sled::IVec::from)));
    }
    if ops.is_empty() {
        return Err(corrupt("no writes"));
    }
    Ok(ops)
}

fn take_bytes<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len: [u8; 4] = rest.get(..4)?.try_into().ok()?;
    let len = usize::try_from(u32::from_le_bytes(len)).ok()?;
    let bytes = rest.get(4..4 + len)?;
    *rest = &rest[4 + len..];
    Some(bytes)
}

/// One version of a key: ordered by key, then newest first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Version {
    key: Vec<u8>,
    seq: Reverse<u64>,
}

impl Version {
    /// The first position of `key`'s versions (its newest possible one).
    fn newest(key: &[u8]) -> Self {
        Self {
            key: key.to_vec(),
            seq: Reverse(u64::MAX),
        }
    }
}

/// The writes committed but not yet indexed, readable by key and in key
/// order. Each commit adds versions and never replaces one: replacing in a
/// lock-free skip list unlinks the old entry before linking the new, and a
/// read in between would fall through to an older value in sled. The
/// indexer removes a key's versions only once sled holds them.
#[derive(Default)]
pub(super) struct Overlay {
    versions: SkipMap<Version, Option<sled::IVec>>,
}

/// The newest unindexed value of a key: `None` where it was removed.
pub(super) type Newest = Option<sled::IVec>;

impl Overlay {
    /// Adds the writes of batch `seq` (each key at most once in `ops`).
    pub fn put(&self, seq: u64, ops: &[Op]) {
        for (key, value) in ops {
            let version = Version {
                key: key.to_vec(),
                seq: Reverse(seq),
            };
            self.versions.insert(version, value.clone());
        }
    }

    /// The newest unindexed write of `key`, if there is one.
    pub fn get(&self, key: &[u8]) -> Option<Newest> {
        // The common case without the journal (or with it caught up): no
        // search, no key copied.
        if self.versions.is_empty() {
            return None;
        }
        let entry = self
            .versions
            .lower_bound(Bound::Included(&Version::newest(key)))?;
        (entry.key().key == key).then(|| entry.value().clone())
    }

    /// Up to `max` keys under `prefix` from `from` (inclusive) in key
    /// order, each with its newest unindexed write.
    pub fn chunk(&self, from: &[u8], prefix: &[u8], max: usize) -> Vec<(Vec<u8>, Newest)> {
        let mut out: Vec<(Vec<u8>, Newest)> = Vec::new();
        if self.versions.is_empty() {
            return out;
        }
        for entry in self.versions.range(Version::newest(from)..) {
            let key = &entry.key().key;
            if !key.starts_with(prefix) {
                break;
            }
            if out.last().is_some_and(|(last, _)| last == key) {
                continue; // an older version of a key already taken
            }
            if out.len() == max {
                break;
            }
            out.push((key.clone(), entry.value().clone()));
        }
        out
    }

    /// Drops `key`'s versions up to commit `upto`, which sled now holds.
    pub fn forget(&self, key: &[u8], upto: u64) {
        let from = Version {
            key: key.to_vec(),
            seq: Reverse(upto),
        };
        for entry in self.versions.range(from..) {
            if entry.key().key != key {
                break;
            }
            entry.remove();
        }
    }

    /// Versions held.
    pub fn len(&self) -> usize {
        self.versions.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(key: &str, value: Option<&str>) -> Op {
        (key.as_bytes().into(), value.map(|v| v.as_bytes().into()))
    }

    #[test]
    fn records_round_trip_and_large_batches_are_split() {
        let ops: Vec<Op> = (0..5000)
            .map(|i| {
                op(
                    &format!("ord/{i:05}"),
                    (i % 7 != 0).then_some("some order body"),
                )
            })
            .collect();
        let parts = encode(&ops).unwrap();
        assert!(parts.len() > 1, "{} bytes in one part", parts[0].len());
        assert!(parts.iter().all(|p| p.len() <= PART_BYTES_MAX));
        let back: Vec<Op> = parts
            .iter()
            .flat_map(|p| decode(b"jrnl/x", p).unwrap())
            .collect();
        assert_eq!(back, ops);
    }

    #[test]
    fn a_damaged_record_is_named_not_misread() {
        let parts = encode(&[op("inv/A", Some("7"))]).unwrap();
        let mut cut = parts[0].clone();
        cut.truncate(cut.len() - 1);
        let e = decode(&key(9, 0), &cut).unwrap_err();
        assert!(e.to_string().contains("runs past the end"), "{e}");
        let mut tag = parts[0].clone();
        tag[1 + 4 + 5] = 9;
        assert!(decode(b"k", &tag).is_err());
        assert!(decode(b"k", &[]).is_err());
        assert!(decode(b"k", &[2, 0]).is_err());
    }

    #[test]
    fn journal_keys_sort_by_sequence_and_read_back() {
        assert!(key(255, 3) < key(256, 0));
        assert_eq!(seq_of(&key(1 << 40, 2)), Some(1 << 40));
        assert_eq!(seq_of(b"jrnl/short"), None);
        assert_eq!(seq_of(b"ord/123456789012"), None);
    }

    #[test]
    fn the_overlay_answers_the_newest_version_until_it_is_forgotten() {
        let overlay = Overlay::default();
        overlay.put(1, &[op("a", Some("1")), op("b", Some("1"))]);
        overlay.put(2, &[op("a", Some("2")), op("ab", None)]);
        assert_eq!(overlay.get(b"a"), Some(Some("2".as_bytes().into())));
        assert_eq!(overlay.get(b"ab"), Some(None), "a removal is an answer");
        assert_eq!(overlay.get(b"c"), None);
        let chunk = overlay.chunk(b"a", b"a", 10);
        let keys: Vec<&[u8]> = chunk.iter().map(|(k, _)| &k[..]).collect();
        assert_eq!(
            keys,
            [&b"a"[..], b"ab"],
            "one entry per key, under the prefix"
        );
        assert_eq!(overlay.chunk(b"", b"", 1).len(), 1);

        overlay.forget(b"a", 1);
        assert_eq!(
            overlay.get(b"a"),
            Some(Some("2".as_bytes().into())),
            "a newer version stays"
        );
        overlay.forget(b"a", 2);
        assert_eq!(overlay.get(b"a"), None);
        assert_eq!(overlay.len(), 2);
    }
}
