//! The `[queue]` config section: the bounds of every waiting room and the
//! defaults a sale's queue takes when it does not say.

use serde::{Deserialize, Serialize};

/// Highest `admit_per_sec` a queue may have: the admitter remembers the
/// admissions of the last second, one entry each.
pub const ADMIT_PER_SEC_MAX: u32 = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueSettings {
    /// Most tickets one SKU's queue holds (each is a record on disk and a
    /// few hundred bytes in memory); a join beyond it gets 409 `queue-full`.
    pub tickets_per_sku_max: usize,
    /// How long an admission may be used, in seconds; unused, it then
    /// frees its place for the next in line.
    pub admission_ttl_secs: u64,
    /// Admissions per second of a queue whose sale does not set
    /// `admit_per_sec`.
    pub admit_per_sec_default: u32,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            tickets_per_sku_max: 100_000,
            admission_ttl_secs: 120,
            admit_per_sec_default: 50,
        }
    }
}

impl QueueSettings {
    pub fn validate(&self) -> Result<(), String> {
        let checks = [
            (
                "queue.tickets_per_sku_max must be between 1 and 10000000",
                (1..=10_000_000).contains(&self.tickets_per_sku_max),
            ),
            (
                "queue.admission_ttl_secs must be between 1 and 86400",
                (1..=86_400).contains(&self.admission_ttl_secs),
            ),
            (
                "queue.admit_per_sec_default must be between 1 and 10000",
                (1..=ADMIT_PER_SEC_MAX).contains(&self.admit_per_sec_default),
            ),
        ];
        match checks.iter().find(|(_, ok)| !ok) {
            Some((message, _)) => Err((*message).to_owned()),
            None => Ok(()),
        }
    }

    pub fn admission_ttl_ms(&self) -> u64 {
        self.admission_ttl_secs.saturating_mul(1000)
    }
}
