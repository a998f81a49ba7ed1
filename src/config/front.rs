//! The front door's sections: who may buy (`[customers]`: verified customer
//! tokens) and how fast one client may go (`[rate_limits]`: token buckets
//! per client address and per customer). Both are off or inert by default,
//! so the demo and the load generators, which run from one loopback
//! address, work as they always have.

use super::first_failure;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Shortest token secret accepted: RFC 7518 (section 3.2) asks for a key at
/// least as long as the hash, 256 bits for HS256.
pub const TOKEN_SECRET_MIN_BYTES: usize = 32;

/// Highest rate a bucket may be configured with, per second.
const RATE_MAX: f64 = 1_000_000.0;

/// A secret setting: read like any other, never printed (`Debug` shows
/// whether it is set, not what it is).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "Secret(unset)"
        } else {
            "Secret(***)"
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CustomerSettings {
    /// The HS256 secret the merchant's site signs customer tokens with.
    /// Set (at least 32 bytes), storefront writes need
    /// `Authorization: Bearer <token>` and act for the token's `sub`; empty,
    /// the default, takes the customer from the body as before.
    pub token_secret: Secret,
    /// Seconds of clock difference forgiven on a token's `exp` and `nbf`.
    pub token_leeway_secs: u64,
}

impl Default for CustomerSettings {
    fn default() -> Self {
        Self {
            token_secret: Secret::default(),
            token_leeway_secs: 5,
        }
    }
}

impl CustomerSettings {
    pub(super) fn validate(&self) -> Result<(), String> {
        first_failure(&[
            (
                "customers.token_secret must be empty (tokens off) or at least 32 bytes",
                self.token_secret.is_empty()
                    || self.token_secret.expose().len() >= TOKEN_SECRET_MIN_BYTES,
            ),
            (
                "customers.token_leeway_secs must be at most 300",
                self.token_leeway_secs <= 300,
            ),
        ])
    }
}

/// Token buckets: a bucket holds up to its burst, refills at its rate, and
/// each request takes one token; an empty bucket answers 429. A rate of 0
/// turns that bucket off.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitSettings {
    /// Storefront writes per second from one client address (IPv6: one
    /// /64); 0 is off.
    pub ip_writes_per_sec: f64,
    pub ip_write_burst: u32,
    /// Storefront reads per second from one client address; 0 is off.
    pub ip_reads_per_sec: f64,
    pub ip_read_burst: u32,
    /// Storefront writes per second for one customer (the verified token's
    /// `sub`; only with customer tokens on); 0 is off.
    pub customer_writes_per_sec: f64,
    pub customer_write_burst: u32,
    /// Most clients (addresses or customers) one bucket kind remembers;
    /// beyond it the idle ones, then all, are forgotten.
    pub tracked_clients_max: usize,
}

impl Default for RateLimitSettings {
    /// Per-address buckets are off: the load generators (`surge bench`, the
    /// tests) send tens of thousands of requests a second from 127.0.0.1,
    /// and shoppers behind one carrier NAT share an address; a merchant
    /// turns them on knowing their traffic. The per-customer bucket is on
    /// (it only acts with customer tokens, which the load generators do
    /// not use): a person does not make five writes a second for long.
    fn default() -> Self {
        Self {
            ip_writes_per_sec: 0.0,
            ip_write_burst: 20,
            ip_reads_per_sec: 0.0,
            ip_read_burst: 100,
            customer_writes_per_sec: 5.0,
            customer_write_burst: 20,
            tracked_clients_max: 100_000,
        }
    }
}

impl RateLimitSettings {
    pub(super) fn validate(&self) -> Result<(), String> {
        let rate_ok = |r: f64| r.is_finite() && (0.0..=RATE_MAX).contains(&r);
        first_failure(&[
            (
                "rate_limits.ip_writes_per_sec must be between 0 and 1000000",
                rate_ok(self.ip_writes_per_sec),
            ),
            (
                "rate_limits.ip_reads_per_sec must be between 0 and 1000000",
                rate_ok(self.ip_reads_per_sec),
            ),
            (
                "rate_limits.customer_writes_per_sec must be between 0 and 1000000",
                rate_ok(self.customer_writes_per_sec),
            ),
            (
                "rate_limits.ip_write_burst must be at least 1",
                self.ip_write_burst >= 1,
            ),
            (
                "rate_limits.ip_read_burst must be at least 1",
                self.ip_read_burst >= 1,
            ),
            (
                "rate_limits.customer_write_burst must be at least 1",
                self.customer_write_burst >= 1,
            ),
            (
                "rate_limits.tracked_clients_max must be between 1 and 10000000",
                (1..=10_000_000).contains(&self.tracked_clients_max),
            ),
        ])
    }
}
