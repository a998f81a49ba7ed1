//! The sections about how the process runs: its HTTP server, its store and
//! its logs, each with its defaults and the checks that keep a bad value
//! from starting a server that would misbehave rather than fail clearly.

use super::first_failure;
use crate::store::{CommitterSettings, Durability};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::path::PathBuf;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address the HTTP server listens on; port 0 picks a free port.
    pub bind: String,
    /// HTTP worker threads; 0 means one per core.
    pub workers: usize,
    /// Largest request body accepted, in bytes; larger bodies get 413.
    pub body_limit_bytes: usize,
    /// How long shutdown waits for in-flight requests before closing them.
    pub shutdown_timeout_secs: u64,
    /// Most connections one worker keeps open at once.
    pub connections_per_worker_max: usize,
    /// Most storefront writes (purchases, cart changes, checkouts, payments)
    /// handled at once; beyond it they get 503 with Retry-After at once, so
    /// accepted writes keep a bounded latency under overload.
    pub writes_in_flight_max: usize,
    /// The latency that at most a tenth of one-step writes may take: while
    /// more do, the limit on writes in flight shrinks below
    /// `writes_in_flight_max` (and grows back when they are fast again).
    /// 0 keeps the limit fixed.
    pub write_latency_target_ms: u64,
    /// Origins (`https://shop.example`) whose browser pages may call the
    /// storefront routes and the event stream (CORS); "*" alone for any.
    /// Empty: no CORS, only same-origin pages. Admin routes never answer it.
    /// A list, or one string with the origins separated by commas (handy
    /// in an environment variable).
    #[serde(deserialize_with = "string_list")]
    pub cors_origins: Vec<String>,
    /// Proxies (IPs or CIDRs: `10.0.0.0/8`, `::1`) whose word on the
    /// client's address is believed: only for a request whose peer is one of
    /// them is `forwarded_header` read, taking the right-most address that
    /// is not itself a trusted proxy. Empty: the peer is the client. A list,
    /// or one string with commas.
    #[serde(deserialize_with = "string_list")]
    pub trusted_proxies: Vec<String>,
    /// The header the trusted proxies append the client's address to.
    pub forwarded_header: ForwardedHeader,
}

/// Which header carries the client's address from a trusted proxy. One, not
/// both: a proxy passes the other one through as the client sent it, so
/// reading it would believe whatever the client wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1` (nginx, HAProxy, most balancers).
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239).
    Forwarded,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            workers: 0,
            body_limit_bytes: 64 * 1024,
            shutdown_timeout_secs: 10,
            connections_per_worker_max: 25_000,
            writes_in_flight_max: 512,
            write_latency_target_ms: 0,
            cors_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            forwarded_header: ForwardedHeader::XForwardedFor,
        }
    }
}

impl ServerSettings {
    pub(super) fn validate(&self) -> Result<(), String> {
        first_failure(&[
            (
                "server.body_limit_bytes must be at least 1024",
                self.body_limit_bytes >= 1024,
            ),
            (
                "server.connections_per_worker_max must be at least 1",
                self.connections_per_worker_max >= 1,
            ),
            (
                "server.writes_in_flight_max must be between 1 and 1000000",
                (1..=1_000_000).contains(&self.writes_in_flight_max),
            ),
            (
                "server.write_latency_target_ms must be at most 60000",
                self.write_latency_target_ms <= 60_000,
            ),
        ])
        .and_then(|()| self.check_cors_origins())
        .and_then(|()| self.check_trusted_proxies())
    }

    /// `trusted_proxies` as networks (the entries were validated at start).
    pub fn trusted_proxy_nets(&self) -> Vec<IpNet> {
        self.trusted_proxies
            .iter()
            .filter_map(|p| proxy_net(p))
            .collect()
    }

    fn check_trusted_proxies(&self) -> Result<(), String> {
        match self.trusted_proxies.iter().find(|p| proxy_net(p).is_none()) {
            Some(bad) => Err(format!(
                "server.trusted_proxies: {bad:?} is neither an IP address nor a CIDR \
                 (10.0.0.0/8, fd00::/8)"
            )),
            None => Ok(()),
        }
    }

    fn check_cors_origins(&self) -> Result<(), String> {
        let any_origin = self.cors_origins == ["*"];
        if let Some(bad) = self
            .cors_origins
            .iter()
            .find(|o| !any_origin && !is_origin(o))
        {
            return Err(if bad == "*" {
                "server.cors_origins: \"*\" allows every origin and must be the only entry"
                    .to_owned()
            } else {
                format!(
                    "server.cors_origins: {bad:?} is not an origin; write it as a browser \
                     sends it: http:// or https://, lowercase host, optional port, nothing after"
                )
            });
        }
        Ok(())
    }
}

/// An entry of `trusted_proxies`: a CIDR, or one address (a network of one).
fn proxy_net(entry: &str) -> Option<IpNet> {
    let entry = entry.trim();
    let net = entry
        .parse::<IpNet>()
        .ok()
        .or_else(|| entry.parse::<IpAddr>().ok().map(IpNet::from))?;
    Some(net.trunc())
}

/// Whether `entry` is an origin exactly as a browser writes it in `Origin`
/// (the only form CORS compares, byte for byte): scheme, lowercase host,
/// optional port, and no path, not even a trailing slash.
fn is_origin(entry: &str) -> bool {
    let Some(authority) = entry
        .strip_prefix("https://")
        .or_else(|| entry.strip_prefix("http://"))
    else {
        return false;
    };
    // An IPv6 host ("[::1]") has colons of its own; a port follows its "]".
    let (host, port) = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => (&authority[..i], Some(&authority[i + 1..])),
        _ => (authority, None),
    };
    let host_ok = !host.is_empty()
        && host.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '[' | ']' | ':')
        });
    let port_ok =
        port.is_none_or(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    host_ok && port_ok
}

/// A list of strings (origins, proxies), or one string of them separated by
/// commas: an environment variable is one string, and `["https://a"]` is
/// easy to get wrong in a shell.
fn string_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Strings {
        List(Vec<String>),
        Joined(String),
    }
    Ok(match Strings::deserialize(d)? {
        Strings::List(list) => list,
        Strings::Joined(joined) => joined
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    /// Directory holding the sled store and the generated admin token.
    pub data_dir: PathBuf,
    /// "strict" acknowledges after the flush; "relaxed" before (benchmarks only).
    pub durability: Durability,
    /// How long the committer gathers writes into one batch, in microseconds.
    pub commit_window_us: u64,
    /// Most operations in one batch.
    pub commit_batch_max: usize,
    /// Most write groups waiting for the committer; beyond it writes get 503.
    pub commit_queue_max: usize,
    /// Journal each group commit as one record and let an indexer write its
    /// keys later (see BENCHMARKS.md: it moves sled's work off the commit
    /// path, it does not remove it).
    pub journal: bool,
    /// How long the indexer lets commits gather before moving their writes
    /// from the journal to their keys, in milliseconds.
    pub index_delay_ms: u64,
    /// Most bytes of committed writes waiting for the indexer (held in
    /// memory); beyond it commits wait for the indexer.
    pub journal_lag_max_bytes: usize,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data/store"),
            durability: Durability::Strict,
            commit_window_us: 100,
            commit_batch_max: 4096,
            commit_queue_max: 16_384,
            journal: CommitterSettings::default().journal,
            index_delay_ms: CommitterSettings::default().index_delay_ms,
            journal_lag_max_bytes: CommitterSettings::default().journal_lag_max_bytes,
        }
    }
}

impl StoreSettings {
    pub fn committer(&self) -> CommitterSettings {
        CommitterSettings {
            durability: self.durability,
            commit_window_us: self.commit_window_us,
            commit_batch_max: self.commit_batch_max,
            commit_queue_max: self.commit_queue_max,
            journal: self.journal,
            index_delay_ms: self.index_delay_ms,
            journal_lag_max_bytes: self.journal_lag_max_bytes,
        }
    }

    /// Where sled keeps its files, inside the data directory.
    pub fn sled_dir(&self) -> PathBuf {
        self.data_dir.join("sled")
    }

    pub(super) fn validate(&self) -> Result<(), String> {
        first_failure(&[
            (
                "store.commit_batch_max must be at least 1",
                self.commit_batch_max >= 1,
            ),
            (
                "store.commit_queue_max must be at least 1",
                self.commit_queue_max >= 1,
            ),
        ])
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// "text" for people, "json" for log collectors.
    pub format: LogFormat,
    /// tracing env-filter directives; `RUST_LOG` wins when set.
    pub filter: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            filter: "info".into(),
        }
    }
}
