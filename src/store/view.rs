//! Reading the store as its writers see it: the overlay of writes not yet
//! indexed over what sled holds, merged in key order, journal records left
//! out.
//!
//! Neither side is a snapshot, and the indexer moves writes from one to the
//! other while a scan runs. The scan therefore goes in chunks: it first
//! takes up to [`CHUNK`] keys from the overlay, and only then opens a sled
//! range over the same span. A write the overlay no longer held when the
//! chunk was taken was in sled before the range was opened (the indexer
//! drops a write from the overlay only after sled holds it), so no write is
//! missed; a write in both is read from the overlay, which is never older.

use super::journal::{Newest, Overlay};
use super::{keys, StoreError};
use std::collections::VecDeque;
use std::iter::Peekable;
use std::ops::Bound;

/// Overlay keys taken at a time.
const CHUNK: usize = 256;

/// The records under a prefix from a start key, in key order.
pub(super) struct Merged<'a> {
    db: &'a sled::Db,
    overlay: &'a Overlay,
    prefix: Vec<u8>,
    /// Where the next chunk starts (inclusive).
    from: Vec<u8>,
    chunk: VecDeque<(Vec<u8>, Newest)>,
    /// The sled side of the current chunk; `None` before the first.
    sled: Option<Peekable<sled::Iter>>,
    /// The current chunk's last key, when the chunk was full (more follow).
    chunk_end: Option<Vec<u8>>,
    done: bool,
}

impl<'a> Merged<'a> {
    pub fn new(db: &'a sled::Db, overlay: &'a Overlay, prefix: &[u8], from: Vec<u8>) -> Self {
        Self {
            db,
            overlay,
            prefix: prefix.to_vec(),
            from,
            chunk: VecDeque::new(),
            sled: None,
            chunk_end: None,
            done: false,
        }
    }

    fn next_chunk(&mut self) {
        let chunk = self.overlay.chunk(&self.from, &self.prefix, CHUNK);
        self.chunk_end = (chunk.len() == CHUNK)
            .then(|| chunk.last().map(|(k, _)| k.clone()))
            .flatten();
        self.chunk = chunk.into();
        let start = Bound::Included(self.from.clone());
        let end = match &self.chunk_end {
            Some(last) => Bound::Included(last.clone()),
            None => Bound::Unbounded,
        };
        self.sled = Some(self.db.range::<Vec<u8>, _>((start, end)).peekable());
    }

    /// The next sled record under the prefix, leaving it in place.
    fn peek_sled(&mut self) -> Result<Option<&[u8]>, StoreError> {
        let Some(sled) = self.sled.as_mut() else {
            return Ok(None);
        };
        loop {
            match sled.peek() {
                None => return Ok(None),
                Some(Err(_)) => {
                    let Some(Err(e)) = sled.next() else {
                        unreachable!("peeked an error")
                    };
                    return Err(e.into());
                }
                Some(Ok((key, _)))
                    if key.starts_with(keys::JOURNAL)
                        && !self.prefix.starts_with(keys::JOURNAL) =>
                {
                    sled.next();
                }
                Some(Ok((key, _))) if !key.starts_with(&self.prefix) => return Ok(None),
                Some(Ok(_)) => break,
            }
        }
        Ok(sled
            .peek()
            .and_then(|item| item.as_ref().ok())
            .map(|(k, _)| &k[..]))
    }
}

impl Iterator for Merged<'_> {
    type Item = Result<(sled::IVec, sled::IVec), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            if self.sled.is_none() {
                self.next_chunk();
            }
            let sled_key = match self.peek_sled() {
                Ok(key) => key.map(<[u8]>::to_vec),
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            };
            let overlay_key = self.chunk.front().map(|(k, _)| k.as_slice());
            let take_overlay = match (overlay_key, sled_key.as_deref()) {
                (None, None) => {
                    match self.chunk_end.take() {
                        // The chunk was full: the next starts just after it.
                        Some(mut last) => {
                            last.push(0);
                            self.from = last;
                            self.sled = None;
                        }
                        None => self.done = true,
                    }
                    continue;
                }
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some(o), Some(s)) => {
                    if o == s {
                        // Written since sled's copy: the overlay's is newer.
                        if let Some(sled) = self.sled.as_mut() {
                            sled.next();
                        }
                    }
                    o <= s
                }
            };
            if take_overlay {
                let Some((key, newest)) = self.chunk.pop_front() else {
                    continue;
                };
                match newest {
                    Some(value) => return Some(Ok((key.into(), value))),
                    None => continue, // removed, not yet indexed
                }
            }
            match self.sled.as_mut().and_then(Iterator::next) {
                Some(Ok(record)) => return Some(Ok(record)),
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(e.into()));
                }
                None => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tap::Op;

    fn op(key: &str, value: Option<&str>) -> Op {
        (key.as_bytes().into(), value.map(|v| v.as_bytes().into()))
    }

    fn read(db: &sled::Db, overlay: &Overlay, prefix: &str, from: &str) -> Vec<(String, String)> {
        Merged::new(db, overlay, prefix.as_bytes(), from.as_bytes().to_vec())
            .map(|r| {
                let (k, v) = r.unwrap();
                (
                    String::from_utf8(k.to_vec()).unwrap(),
                    String::from_utf8(v.to_vec()).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn overlay_and_sled_merge_in_key_order_the_overlay_winning() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        for k in ["o/1", "o/3", "o/5", "p/1", "jrnl/xxxxxxxxxxxx"] {
            db.insert(k, "sled").unwrap();
        }
        let overlay = Overlay::default();
        overlay.put(
            1,
            &[
                op("o/2", Some("ov")),
                op("o/3", Some("ov")),
                op("o/5", None),
            ],
        );
        let got = read(&db, &overlay, "o/", "o/");
        let want = [("o/1", "sled"), ("o/2", "ov"), ("o/3", "ov")];
        assert_eq!(got, want.map(|(k, v)| (k.to_string(), v.to_string())));
        assert_eq!(read(&db, &overlay, "o/", "o/3").len(), 1, "from a key on");
        let all = read(&db, &overlay, "", "");
        assert!(all.iter().all(|(k, _)| !k.starts_with("jrnl/")), "{all:?}");
        assert_eq!(all.len(), 4);
    }

    #[test]
    fn a_scan_crosses_many_chunks_without_losing_or_repeating_a_key() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let overlay = Overlay::default();
        let mut ops = Vec::new();
        for i in 0..2000 {
            let key = format!("k/{i:05}");
            if i % 3 == 0 {
                db.insert(key.as_bytes(), "sled").unwrap();
            } else {
                ops.push(op(&key, Some("ov")));
            }
        }
        overlay.put(7, &ops);
        let got = read(&db, &overlay, "k/", "k/");
        assert_eq!(got.len(), 2000);
        assert!(got.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
