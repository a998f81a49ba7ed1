//! Catalog import: product definitions streamed in as JSON lines (the shape
//! `POST /v1/admin/products` takes, which the export writes) or as
//! Shopify's product CSV export, parsed as the body arrives and put into
//! the catalog in batches ([`Catalog::put_all`]): one commit and one new
//! snapshot per batch, not per product. Each product is created, updated
//! (stock kept) or found unchanged; a row that cannot be imported is
//! refused and named in the [`ImportReport`] while the others go on.
//!
//! Batches are committed as they fill, so an import that stops midway (the
//! body over its limit, the connection dropped, the store failing) leaves
//! the batches before it in: importing the same file again finishes it,
//! changing nothing that is already there.

mod csv_rows;
mod lines;
mod report;
mod shopify;

pub use lines::LINE_MAX_BYTES;
pub use report::{ImportReport, RefusedRow, REFUSED_LISTED_MAX};

use super::batch::Put;
use super::{Catalog, CatalogError, NewProduct};
use crate::domain::{Currency, FieldError, ProductId};
use csv_rows::CsvRecords;
use lines::JsonLines;
use shopify::ShopifyCsv;
use std::collections::HashMap;
use std::sync::Arc;

/// Most products put in one commit. Each batch copies the catalog's
/// snapshot once, so fewer, larger batches are faster; each also holds the
/// committer for its writes (a few ms per 1,000 keys), during which
/// purchases wait.
pub const BATCH_PRODUCTS_MAX: usize = 1_000;
/// Most SKUs put in one commit.
pub const BATCH_SKUS_MAX: usize = 2_000;

/// What a parser hands on: a product to put, or a refused row.
pub enum Parsed {
    /// A valid definition (with an id), from `row` on.
    Product {
        row: u64,
        product: NewProduct,
    },
    Refused(RefusedRow),
}

/// The format of an import's body.
#[derive(Debug, Clone, Copy)]
pub enum Format {
    JsonLines,
    /// Shopify's product CSV, its prices in this currency.
    ShopifyCsv(Currency),
}

enum Reader {
    Lines(JsonLines),
    /// Boxed: csv-core's parser keeps its tables inline (most of a KiB).
    Csv(Box<(CsvRecords, ShopifyCsv)>),
}

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The body is not in the format given (e.g. a CSV without Shopify's
    /// columns); found at its start, so nothing was imported.
    #[error("{0}")]
    Unreadable(String),
    /// A batch could not be put; the batches before it are in (`so_far`).
    #[error("{error}")]
    Failed {
        error: CatalogError,
        so_far: Box<ImportReport>,
    },
}

/// An import in progress.
pub struct Import {
    catalog: Arc<Catalog>,
    reader: Reader,
    /// The column or field that names a product in this format.
    id_field: &'static str,
    parsed: Vec<Parsed>,
    batch: Vec<(u64, NewProduct)>,
    batch_skus: usize,
    /// The row each product id was first seen at: an id twice in one
    /// import is refused the second time (else importing the file again
    /// would change the product back and forth).
    seen: HashMap<ProductId, u64>,
    report: ImportReport,
}

impl Import {
    pub fn new(catalog: Arc<Catalog>, format: Format) -> Self {
        let (reader, id_field) = match format {
            Format::JsonLines => (Reader::Lines(JsonLines::default()), "id"),
            Format::ShopifyCsv(currency) => (
                Reader::Csv(Box::new((CsvRecords::default(), ShopifyCsv::new(currency)))),
                "Handle",
            ),
        };
        Self {
            catalog,
            reader,
            id_field,
            parsed: Vec::new(),
            batch: Vec::new(),
            batch_skus: 0,
            seen: HashMap::new(),
            report: ImportReport::default(),
        }
    }

    /// Reads the next bytes of the body, putting every batch that fills.
    pub async fn feed(&mut self, bytes: &[u8]) -> Result<(), ImportError> {
        match &mut self.reader {
            Reader::Lines(lines) => lines.feed(bytes, &mut self.parsed),
            Reader::Csv(csv) => {
                let (records, shopify) = &mut **csv;
                let mut read = Vec::new();
                records.feed(bytes, &mut read);
                for record in read {
                    shopify
                        .record(record, &mut self.parsed)
                        .map_err(ImportError::Unreadable)?;
                }
            }
        }
        self.take_parsed().await
    }

    /// The body ended: the rest is put, and the report returned.
    pub async fn finish(mut self) -> Result<ImportReport, ImportError> {
        match &mut self.reader {
            Reader::Lines(lines) => lines.finish(&mut self.parsed),
            Reader::Csv(csv) => {
                let (records, shopify) = &mut **csv;
                let mut read = Vec::new();
                records.finish(&mut read);
                for record in read {
                    shopify
                        .record(record, &mut self.parsed)
                        .map_err(ImportError::Unreadable)?;
                }
                shopify.finish(&mut self.parsed);
            }
        }
        self.take_parsed().await?;
        self.put_batch().await?;
        Ok(self.report)
    }

    /// What was imported so far.
    pub fn so_far(&self) -> &ImportReport {
        &self.report
    }

    async fn take_parsed(&mut self) -> Result<(), ImportError> {
        for parsed in std::mem::take(&mut self.parsed) {
            let (row, product) = match parsed {
                Parsed::Refused(refused) => {
                    self.report.refuse(refused);
                    continue;
                }
                Parsed::Product { row, product } => (row, product),
            };
            let Some(id) = product.id.clone() else {
                continue; // parsers refuse a product without an id
            };
            if let Some(first) = self.seen.get(&id) {
                let message = format!("product {id} appears again (first at row {first})");
                let refused = RefusedRow::one(row, Some(id.to_string()), self.id_field, message);
                self.report.refuse(refused);
                continue;
            }
            self.seen.insert(id, row);
            self.batch_skus += product.variants.len();
            self.batch.push((row, product));
            if self.batch.len() >= BATCH_PRODUCTS_MAX || self.batch_skus >= BATCH_SKUS_MAX {
                self.put_batch().await?;
            }
        }
        Ok(())
    }

    async fn put_batch(&mut self) -> Result<(), ImportError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        self.batch_skus = 0;
        let (rows, products): (Vec<(u64, Option<ProductId>)>, Vec<NewProduct>) = batch
            .into_iter()
            .map(|(row, p)| ((row, p.id.clone()), p))
            .unzip();
        let catalog = self.catalog.clone();
        // On a task of its own: if the request is dropped midway (the client
        // hung up), the batch still ends as one step, never with the store
        // committed and the snapshot not yet swapped.
        let put = tokio::spawn(async move { catalog.put_all(products).await }).await;
        let outcomes = match put {
            Ok(Ok(outcomes)) => outcomes,
            Ok(Err(error)) => return Err(self.failed(error)),
            Err(e) => {
                let error = crate::store::StoreError::io(format!("an import batch failed: {e}"));
                return Err(self.failed(error.into()));
            }
        };
        for ((row, id), put) in rows.into_iter().zip(outcomes) {
            match put {
                Put::Created => self.report.created += 1,
                Put::Updated => self.report.updated += 1,
                Put::Unchanged => self.report.unchanged += 1,
                Put::Refused(e) => {
                    let id = id.map(|id| id.to_string());
                    self.report
                        .refuse(RefusedRow::new(row, id, field_errors(e)));
                }
            }
        }
        Ok(())
    }

    fn failed(&self, error: CatalogError) -> ImportError {
        ImportError::Failed {
            error,
            so_far: Box::new(self.report.clone()),
        }
    }
}

/// A catalog refusal as the errors of a refused row.
fn field_errors(e: CatalogError) -> Vec<FieldError> {
    match e {
        CatalogError::Invalid(errors) => errors,
        other => vec![FieldError::new("", other.to_string())],
    }
}
