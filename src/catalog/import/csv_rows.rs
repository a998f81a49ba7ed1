//! CSV records read as the body arrives. csv-core is a push parser: it
//! takes whatever bytes came and says when a record is complete, so a
//! record may span chunks (a quoted field may hold newlines, as Shopify's
//! `Body (HTML)` often does) and the body is never held whole.

use csv_core::{ReadRecordResult, Reader};

/// Most bytes of one record's fields; a longer record is refused without
/// being kept.
pub const RECORD_MAX_BYTES: usize = 1 << 20;
/// Most fields in one record (Shopify's export has about 50).
pub const FIELDS_MAX: usize = 1_024;

/// One record: its number (the first is 1) and its fields, or why it is
/// refused.
pub type Record = (u64, Result<Vec<String>, String>);

pub struct CsvRecords {
    reader: Reader,
    /// The record's field bytes so far, and how much of `out` they fill.
    out: Vec<u8>,
    out_len: usize,
    /// Where each field ends in `out`, and how much of `ends` is used.
    ends: Vec<usize>,
    ends_len: usize,
    /// Records completed so far.
    number: u64,
    /// The current record went over a limit: it is refused when it ends.
    too_long: bool,
}

impl Default for CsvRecords {
    fn default() -> Self {
        Self {
            reader: Reader::new(),
            out: vec![0; 4 * 1024],
            out_len: 0,
            ends: vec![0; 64],
            ends_len: 0,
            number: 0,
            too_long: false,
        }
    }
}

impl CsvRecords {
    /// Reads the next bytes of the body; completed records go to `out`.
    pub fn feed(&mut self, mut input: &[u8], out: &mut Vec<Record>) {
        // An empty input means "the end" to csv-core: only `finish` gives one.
        while !input.is_empty() {
            let (result, read) = self.step(input);
            input = &input[read..];
            if result == ReadRecordResult::Record {
                out.push(self.take());
            }
        }
    }

    /// The body ended: the last record need not end with a newline.
    pub fn finish(&mut self, out: &mut Vec<Record>) {
        loop {
            match self.step(&[]).0 {
                ReadRecordResult::Record => out.push(self.take()),
                ReadRecordResult::End => return,
                // Output grew (or the record was given up): go on.
                _ => {}
            }
        }
    }

    fn step(&mut self, input: &[u8]) -> (ReadRecordResult, usize) {
        let (result, read, written, ended) = self.reader.read_record(
            input,
            &mut self.out[self.out_len..],
            &mut self.ends[self.ends_len..],
        );
        self.out_len += written;
        self.ends_len += ended;
        match result {
            ReadRecordResult::OutputFull if self.out.len() >= RECORD_MAX_BYTES => {
                // Given up: the fields are dropped, the rest is read past.
                self.too_long = true;
                self.out_len = 0;
            }
            ReadRecordResult::OutputFull => self.out.resize(self.out.len() * 2, 0),
            ReadRecordResult::OutputEndsFull if self.ends.len() >= FIELDS_MAX => {
                self.too_long = true;
                self.ends_len = 0;
            }
            ReadRecordResult::OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
            _ => {}
        }
        (result, read)
    }

    /// The record just completed, and a fresh start for the next.
    fn take(&mut self) -> Record {
        self.number += 1;
        let fields = match std::mem::take(&mut self.too_long) {
            true => Err(format!(
                "the row is over {RECORD_MAX_BYTES} bytes or {FIELDS_MAX} fields"
            )),
            false => self.fields(),
        };
        (self.out_len, self.ends_len) = (0, 0);
        (self.number, fields)
    }

    fn fields(&self) -> Result<Vec<String>, String> {
        let mut start = 0;
        let mut fields = Vec::with_capacity(self.ends_len);
        for &end in &self.ends[..self.ends_len] {
            let bytes = self.out.get(start..end).ok_or("the row cannot be read")?;
            let text = std::str::from_utf8(bytes).map_err(|_| "the row is not UTF-8 text")?;
            fields.push(text.to_owned());
            start = end;
        }
        Ok(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(chunks: &[&[u8]]) -> Vec<Record> {
        let mut csv = CsvRecords::default();
        let mut out = Vec::new();
        for chunk in chunks {
            csv.feed(chunk, &mut out);
        }
        csv.finish(&mut out);
        out
    }

    #[test]
    fn quoted_fields_span_lines_and_chunks() {
        let body = b"a,b\r\n\"x, \"\"y\"\"\nz\",2\n3,4";
        for split in [1, 7, 12, body.len() - 1] {
            let (head, tail) = body.split_at(split);
            let records = read(&[head, tail]);
            let fields: Vec<Vec<String>> = records.into_iter().map(|(_, f)| f.unwrap()).collect();
            assert_eq!(
                fields,
                [vec!["a", "b"], vec!["x, \"y\"\nz", "2"], vec!["3", "4"]],
                "split at {split}"
            );
        }
    }

    #[test]
    fn a_record_over_the_limit_is_refused_and_the_next_read() {
        let mut body = vec![b'x'; RECORD_MAX_BYTES + 10];
        body.extend_from_slice(b",1\nok,2\n");
        let records = read(&[&body]);
        assert_eq!(records.len(), 2);
        assert!(records[0].1.is_err());
        assert_eq!(records[1], (2, Ok(vec!["ok".to_owned(), "2".to_owned()])));
    }

    #[test]
    fn a_row_that_is_not_utf8_is_refused() {
        let records = read(&[b"a,\xff\nb,c\n"]);
        assert!(records[0].1.is_err());
        assert!(records[1].1.is_ok());
    }
}
