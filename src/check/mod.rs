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
//! The checks read through [`Source`]. A backup file is checked by
//! verifying its checksums, restoring it into a scratch directory and
//! checking that store with the same code.

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

use crate::backup::restore::{self, RestoreError};
use crate::store::{OfflineError, RawRecord, StoreCopy, StoreError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
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

/// `surge check`'s arguments: a stopped store or a backup file.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["data_dir", "backup_file", "backup"])))]
pub struct CheckArgs {
    /// Data directory of a stopped server (what `serve --data-dir` was
    /// given; the store is in DIR/sled).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// A backup file: its checksums are verified, then it is restored into
    /// a private scratch directory and checked like a store.
    #[arg(value_name = "BACKUP_FILE")]
    pub backup_file: Option<PathBuf>,
    /// The same as BACKUP_FILE.
    #[arg(long, value_name = "FILE")]
    pub backup: Option<PathBuf>,
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
    let code = match (args.data_dir, args.backup_file.or(args.backup)) {
        (Some(data_dir), _) => check_data_dir(&data_dir, &scratch),
        (None, Some(backup)) => check_backup(&backup, &scratch),
        (None, None) => {
            eprintln!("surge check: name a --data-dir or a backup file");
            CANNOT_RUN
        }
    };
    if code != CANNOT_RUN {
        println!("checked in {:.1?}", started.elapsed());
    }
    code
}

/// Verifies a backup's checksums, restores it into a scratch directory and
/// checks the store that gives.
fn check_backup(backup: &Path, scratch: &Path) -> u8 {
    let restored = match tempfile::Builder::new()
        .prefix("surge-check-backup-")
        .tempdir_in(scratch)
    {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("surge check: {}: {e}", scratch.display());
            return CANNOT_RUN;
        }
    };
    match restore::restore(backup, restored.path(), false) {
        Ok(done) => println!(
            "surge check: backup {} (taken {}, up to commit {}): every checksum holds",
            done.manifest.id, done.manifest.created_at, done.manifest.last_commit_seq
        ),
        Err(e @ RestoreError::Damaged { .. }) => {
            println!("problem: {e}");
            println!("1 problem(s)");
            return PROBLEMS;
        }
        Err(e) => {
            eprintln!("surge check: {e}");
            return CANNOT_RUN;
        }
    }
    check_data_dir(restored.path(), scratch)
}

fn check_data_dir(data_dir: &Path, scratch: &Path) -> u8 {
    let copy = match StoreCopy::of_data_dir(data_dir, scratch) {
        Ok(copy) => copy,
        Err(OfflineError::Unreadable(e)) => {
            println!(
                "problem: {}: sled cannot open the store: {e}",
                data_dir.display()
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
        data_dir.display(),
        copy.copied_bytes()
    );
    let report = check(&copy);
    println!("{report}");
    match report.is_clean() {
        true => CLEAN,
        false => PROBLEMS,
    }
}
