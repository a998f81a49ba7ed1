//! What a check found: problems (each with the key it is about), notes that
//! are worth an operator's eye but break nothing, and counts for the summary.

use std::collections::BTreeMap;
use std::fmt;

/// Most problems kept to print; beyond it they are only counted, so a
/// store damaged throughout cannot make the check itself run out of memory.
pub const PROBLEMS_KEPT: usize = 1_000;

/// One broken rule, about one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The key of the record at fault (as text; bytes that are not UTF-8 shown escaped).
    pub key: String,
    pub what: String,
}

#[derive(Debug, Default)]
pub struct Report {
    problems: Vec<Problem>,
    /// Problems found, kept or not.
    problem_count: u64,
    notes: Vec<String>,
    /// Records read, by kind.
    pub records: BTreeMap<&'static str, u64>,
    /// Facts for the summary ("SKUs checked", …), in the order added.
    pub facts: Vec<(String, u64)>,
}

impl Report {
    pub fn problem(&mut self, key: &[u8], what: impl Into<String>) {
        self.problem_count += 1;
        if self.problems.len() < PROBLEMS_KEPT {
            self.problems.push(Problem {
                key: key_text(key),
                what: what.into(),
            });
        }
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    pub fn fact(&mut self, name: impl Into<String>, value: u64) {
        self.facts.push((name.into(), value));
    }

    pub fn count(&mut self, kind: &'static str) {
        *self.records.entry(kind).or_default() += 1;
    }

    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    pub fn problem_count(&self) -> u64 {
        self.problem_count
    }

    pub fn is_clean(&self) -> bool {
        self.problem_count == 0
    }
}

/// A key as text: printable ASCII as is, other bytes as `\xNN` (numbered
/// keys end in big-endian numbers).
pub fn key_text(key: &[u8]) -> String {
    let mut out = String::with_capacity(key.len());
    for &b in key {
        if b.is_ascii_graphic() {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total: u64 = self.records.values().sum();
        let kinds: Vec<String> = self
            .records
            .iter()
            .map(|(kind, n)| format!("{kind} {n}"))
            .collect();
        writeln!(f, "records: {total} ({})", kinds.join(", "))?;
        for (name, value) in &self.facts {
            writeln!(f, "{name}: {value}")?;
        }
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        for p in &self.problems {
            writeln!(f, "problem: {}: {}", p.key, p.what)?;
        }
        let unlisted = self.problem_count - self.problems.len() as u64;
        if unlisted > 0 {
            writeln!(f, "… and {unlisted} more problems")?;
        }
        match self.problem_count {
            0 => write!(f, "ok: every record decodes and every invariant holds"),
            n => write!(f, "{n} problem(s)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_print_their_text_and_escape_the_rest() {
        assert_eq!(key_text(b"inv/TEE-1"), "inv/TEE-1");
        assert_eq!(key_text(b"outbox/\x00\x01"), "outbox/\\x00\\x01");
    }

    #[test]
    fn problems_beyond_the_limit_are_counted_not_kept() {
        let mut report = Report::default();
        for n in 0..PROBLEMS_KEPT + 5 {
            report.problem(format!("k{n}").as_bytes(), "bad");
        }
        assert_eq!(report.problems().len(), PROBLEMS_KEPT);
        assert_eq!(report.problem_count(), PROBLEMS_KEPT as u64 + 5);
        assert!(report.to_string().contains("… and 5 more problems"));
    }
}
