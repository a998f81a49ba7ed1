//! What an import answers: how many products it created, updated or found
//! unchanged, and every refused row with what was wrong with it.

use crate::domain::FieldError;
use serde::Serialize;
use utoipa::ToSchema;

/// Most refused rows listed in a report; the rest are counted. A file of
/// garbage must not make the answer (or the server's memory) grow with it.
pub const REFUSED_LISTED_MAX: usize = 1_000;

/// The outcome of an import.
#[derive(Debug, Default, Clone, Serialize, ToSchema)]
pub struct ImportReport {
    /// Products that did not exist and were created (with their stock).
    pub created: u64,
    /// Existing products whose definition changed (their stock is kept).
    pub updated: u64,
    /// Existing products the file defines exactly as they are: untouched.
    pub unchanged: u64,
    /// Refused rows, in file order (at most 1,000 are listed).
    pub refused: Vec<RefusedRow>,
    /// Every refused row, listed or not.
    pub refused_count: u64,
}

/// A row that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RefusedRow {
    /// JSON lines: the line number. CSV: the record number, the header
    /// being row 1 (as a spreadsheet numbers rows).
    pub row: u64,
    /// The product id (the CSV's Handle) the row is part of, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// What is wrong: a JSON path or a CSV column, and a message.
    pub errors: Vec<FieldError>,
}

impl RefusedRow {
    pub fn new(row: u64, id: Option<String>, errors: Vec<FieldError>) -> Self {
        Self { row, id, errors }
    }

    /// A row with one thing wrong.
    pub fn one(row: u64, id: Option<String>, field: &str, message: impl Into<String>) -> Self {
        Self::new(row, id, vec![FieldError::new(field, message)])
    }
}

impl ImportReport {
    pub fn refuse(&mut self, row: RefusedRow) {
        self.refused_count += 1;
        if self.refused.len() < REFUSED_LISTED_MAX {
            self.refused.push(row);
        }
    }
}
