//! JSON lines: one product definition per line, in the shape
//! `POST /v1/admin/products` takes (and the export writes), read as the
//! body arrives. Blank lines are skipped; a line that is not a valid
//! definition is refused with its line number, and the next line is read.

use super::{Parsed, RefusedRow};
use crate::catalog::ProductInput;
use serde::Deserialize;

/// Most bytes in one line. A product at every limit (100 variants, a
/// 5,000-character description, 32 attributes) takes far less; a longer
/// line is refused without being held in memory.
pub const LINE_MAX_BYTES: usize = 1 << 20;

/// A JSON-lines body being read.
#[derive(Default)]
pub struct JsonLines {
    /// The line read so far.
    line: Vec<u8>,
    /// Lines completed so far.
    number: u64,
    /// The current line went over the limit: the rest of it is dropped.
    too_long: bool,
}

impl JsonLines {
    /// Reads the next bytes of the body; what completed lines define goes to `out`.
    pub fn feed(&mut self, mut bytes: &[u8], out: &mut Vec<Parsed>) {
        while let Some(end) = bytes.iter().position(|&b| b == b'\n') {
            self.take(&bytes[..end]);
            self.end_line(out);
            bytes = &bytes[end + 1..];
        }
        self.take(bytes);
    }

    /// The body ended: its last line need not end with a newline.
    pub fn finish(&mut self, out: &mut Vec<Parsed>) {
        if self.too_long || !self.line.is_empty() {
            self.end_line(out);
        }
    }

    fn take(&mut self, bytes: &[u8]) {
        if self.too_long {
            return;
        }
        if self.line.len() + bytes.len() > LINE_MAX_BYTES {
            self.too_long = true;
            self.line = Vec::new();
            return;
        }
        self.line.extend_from_slice(bytes);
    }

    fn end_line(&mut self, out: &mut Vec<Parsed>) {
        self.number += 1;
        if std::mem::take(&mut self.too_long) {
            let message = format!("the line is over {LINE_MAX_BYTES} bytes");
            out.push(Parsed::Refused(RefusedRow::one(
                self.number,
                None,
                "",
                message,
            )));
            return;
        }
        let line = std::mem::take(&mut self.line);
        if let Some(parsed) = parse_line(self.number, &line) {
            out.push(parsed);
        }
        // Keep the buffer's capacity for the next line.
        self.line = line;
        self.line.clear();
    }
}

/// Only the id of a line, to name a line that is not a valid definition.
#[derive(Deserialize)]
struct IdOnly {
    id: Option<String>,
}

fn parse_line(number: u64, line: &[u8]) -> Option<Parsed> {
    let line = line.trim_ascii();
    if line.is_empty() {
        return None;
    }
    let input: ProductInput = match serde_json::from_slice(line) {
        Ok(input) => input,
        Err(e) => {
            let id = serde_json::from_slice::<IdOnly>(line)
                .ok()
                .and_then(|i| i.id);
            let message = format!("not a product definition: {e}");
            return Some(Parsed::Refused(RefusedRow::one(number, id, "", message)));
        }
    };
    let id = input.id.clone();
    let product = match input.parse() {
        Ok(product) => product,
        Err(errors) => return Some(Parsed::Refused(RefusedRow::new(number, id, errors))),
    };
    if product.id.is_none() {
        let message = "an imported product needs an id (what makes importing the same file again change nothing)";
        return Some(Parsed::Refused(RefusedRow::one(
            number, None, "id", message,
        )));
    }
    Some(Parsed::Product {
        row: number,
        product,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(chunks: &[&[u8]]) -> Vec<Parsed> {
        let mut lines = JsonLines::default();
        let mut out = Vec::new();
        for chunk in chunks {
            lines.feed(chunk, &mut out);
        }
        lines.finish(&mut out);
        out
    }

    fn rows(parsed: &[Parsed]) -> Vec<(u64, bool)> {
        parsed
            .iter()
            .map(|p| match p {
                Parsed::Product { row, .. } => (*row, true),
                Parsed::Refused(r) => (r.row, false),
            })
            .collect()
    }

    const TEE: &str = r#"{"id":"tee","title":"Tee","variants":[{"sku":"T-1","title":"S","price":{"amount":100,"currency":"EUR"}}]}"#;

    #[test]
    fn lines_split_across_chunks_are_read_whole_and_bad_ones_refused_by_number() {
        let body = format!(
            "{TEE}\r\n\n{{\"id\":\"bad\",\"title\":\n{}",
            TEE.replace("tee", "tee2")
        );
        let (a, b) = body.as_bytes().split_at(17);
        let parsed = read(&[a, b]);
        assert_eq!(rows(&parsed), [(1, true), (3, false), (4, true)]);
        let Parsed::Refused(bad) = &parsed[1] else {
            panic!()
        };
        assert_eq!(bad.id.as_deref(), None, "not even its id parses");
    }

    #[test]
    fn a_definition_without_an_id_or_with_invalid_fields_is_refused_with_its_paths() {
        let no_id = TEE.replace(r#""id":"tee","#, "");
        let bad_price = TEE.replace("100", "-1");
        let parsed = read(&[format!("{no_id}\n{bad_price}\n").as_bytes()]);
        let Parsed::Refused(first) = &parsed[0] else {
            panic!()
        };
        assert_eq!(first.errors[0].field, "id");
        let Parsed::Refused(second) = &parsed[1] else {
            panic!()
        };
        assert_eq!((second.row, second.id.as_deref()), (2, Some("tee")));
        assert_eq!(second.errors[0].field, "variants[0].price");
    }

    #[test]
    fn a_line_over_the_limit_is_refused_without_being_kept() {
        let long = vec![b' '; LINE_MAX_BYTES + 1];
        let parsed = read(&[&long, b"\n", TEE.as_bytes()]);
        assert_eq!(rows(&parsed), [(1, false), (2, true)]);
    }
}
