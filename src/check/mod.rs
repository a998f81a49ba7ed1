//! `surge check`: an offline check of a stopped store. It reads every record
//! and every invariant the running code maintains, and names each problem
//! with the key of the record at fault. It never writes to the store: it
//! reads a private copy (see [`StoreCopy`]).
//!
//! The passes, each in its own file:
//! - [`records`]: every record decodes, exactly, as the type its prefix
//!   says; sled verifies its own CRC-32 of each log message it reads, so
//!   bytes changed on disk surface as read errors (records carry no
//!   checksum of their own);
//! - [`stock`]: per SKU, `available + reserved + sold == stocked`, holds
//!   add up to `reserved`, customer counts to no more than `sold`;
//! - [`orders`]: every order's units are a hold or a sale, `sold` is what
//!   the orders account for, every hold is an unpaid order's or a cart's;
//! - [`links`]: products and their SKUs, carts and their checkouts;
//! - [`events`]: the outbox and the deliveries (what "no gaps" can mean);
//! - [`receipts`]: idempotency receipts point at what they produced.
//!
//! The checks read through [`Source`], so that a backup file, restored into
//! a scratch directory, can be checked by the same code.

mod events;
mod links;
mod orders;
mod receipts;
mod records;
mod report;
mod stock;
#[cfg(test)]
mod tests;

pub use report::{Problem, Report};

use crate::store::{OfflineError, RawRecord, StoreCopy, StoreError};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

/// What a check reads: the records of one store, in key order.
pub trait Source {
    fn scan<'a>(
        &'a self,
        prefix: &[u8],
    ) -> Box<dyn Iterator<Item = Result<RawRecord, StoreError>> + 'a>;

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
}

impl Source for StoreCopy {
    fn scan<'a>(
        &'a self,
        prefix: &[u8],
    ) -> Box<dyn Iterator<Item = Result<RawRecord, StoreError>> + 'a> {
        Box::new(StoreCopy::scan(self, prefix))
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        StoreCopy::get(self, key)
    }
}

/// Records in memory, for tests of the checks.
impl Source for BTreeMap<Vec<u8>, Vec<u8>> {
    fn scan<'a>(
        &'a self,
        prefix: &[u8],
    ) -> Box<dyn Iterator<Item = Result<RawRecord, StoreError>> + 'a> {
        let prefix = prefix.to_vec();
        Box::new(
            self.range(prefix.clone()..)
                .take_while(move |(k, _)| k.starts_with(&prefix))
                .map(|(k, v)| Ok((k.clone(), v.clone()))),
        )
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(BTreeMap::get(self, key).cloned())
    }
}

/// Whether `key` exists. A read error is reported (at that key) and counts
/// as present, so that it is not reported again as missing.
fn present(source: &dyn Source, key: &[u8], report: &mut Report) -> bool {
    match source.get(key) {
        Ok(found) => found.is_some(),
        Err(e) => {
            report.problem(key, format!("sled cannot read it: {e}"));
            true
        }
    }
}

/// Runs every check on `source`.
pub fn check(source: &dyn Source) -> Report {
    let mut report = Report::default();
    if !records::decode_all(source, &mut report) {
        report.note("the invariants were not checked: the store cannot be read whole");
        return report;
    }
    let stock = stock::check(source, &mut report);
    orders::check(source, &stock, &mut report);
    links::check_catalog(source, &stock, &mut report);
    links::check_carts(source, &mut report);
    events::check(source, &mut report);
    receipts::check(source, &mut report);
    report
}

/// `surge check`'s arguments.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Data directory of a stopped server (what `serve --data-dir` was
    /// given; the store is in DIR/sled).
    #[arg(long, value_name = "DIR")]
    pub data_dir: PathBuf,
    /// Where the private copy of the store is made (it needs the store's
    /// size free) [default: the system's temporary directory].
    #[arg(long, value_name = "DIR")]
    pub scratch: Option<PathBuf>,
}

/// Exit code: every record and invariant is sound.
pub const CLEAN: u8 = 0;
/// Exit code: problems were found (each is printed).
pub const PROBLEMS: u8 = 1;
/// Exit code: the check could not run (usage, the store in use, I/O).
pub const CANNOT_RUN: u8 = 2;

/// Runs `surge check`: the summary and problems on stdout, why it could
/// not run on stderr. Returns the exit code.
pub fn run(args: CheckArgs) -> u8 {
    let started = Instant::now();
    let scratch = args.scratch.unwrap_or_else(std::env::temp_dir);
    let copy = match StoreCopy::of_data_dir(&args.data_dir, &scratch) {
        Ok(copy) => copy,
        Err(OfflineError::Unreadable(e)) => {
            println!(
                "problem: {}: sled cannot open the store: {e}",
                args.data_dir.display()
            );
            println!("1 problem(s)");
            return PROBLEMS;
        }
        Err(e) => {
            eprintln!("surge check: {e}");
            return CANNOT_RUN;
        }
    };
    println!(
        "surge check: {} (read from a private copy, {} bytes)",
        args.data_dir.display(),
        copy.copied_bytes()
    );
    let report = check(&copy);
    println!("{report}");
    println!("checked in {:.1?}", started.elapsed());
    match report.is_clean() {
        true => CLEAN,
        false => PROBLEMS,
    }
}
