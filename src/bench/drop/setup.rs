//! What a drop is asked to do and what it sets up: its flags, the
//! in-process server's settings, and the sale with its waiting room.

use crate::bench::target::Target;
use crate::bench::BenchArgs;
use crate::clock::{rfc3339, Clock, SystemClock};
use crate::config::{Secret, Settings};
use bytes::Bytes;
use hyper::Method;
use serde_json::json;
use std::time::Duration;

/// Most humans a run may have: each holds a connection, and client and
/// in-process server share this process's file descriptors.
const HUMANS_MAX: usize = 5_000;
const STOCK_DEFAULT: u64 = 1_000;
const BOT_CONNECTIONS_DEFAULT: usize = 64;
/// The longest a drop runs when `--duration` does not say.
const DURATION_DEFAULT: Duration = Duration::from_secs(180);
/// Units one customer may buy: a drop's usual rule.
pub const PER_CUSTOMER_LIMIT: u64 = 1;

/// Per-address limits the in-process server gets when its config leaves
/// them off: a household makes a join and a purchase, and looks at its
/// ticket about once a second.
const IP_WRITES_PER_SEC: f64 = 1.0;
const IP_WRITE_BURST: u32 = 5;
const IP_READS_PER_SEC: f64 = 2.0;
const IP_READ_BURST: u32 = 10;

/// What a drop run is asked to do.
pub struct Drop {
    pub stock: u64,
    pub humans: usize,
    pub bot_connections: usize,
    pub bot_ratio: f64,
    pub admit_per_sec: u32,
    pub arrive_over: Duration,
    pub duration: Duration,
}

impl Drop {
    pub fn from_args(args: &BenchArgs) -> anyhow::Result<Self> {
        let unused = [
            ("--rate", args.rate.is_some()),
            ("--requests", args.requests.is_some()),
            ("--warmup", args.warmup.is_some()),
            ("--baseline", args.baseline.is_some()),
            ("--html", args.html.is_some()),
        ];
        if let Some((flag, _)) = unused.iter().find(|(_, given)| *given) {
            anyhow::bail!("{flag} does not apply to a drop");
        }
        if !(1..=HUMANS_MAX).contains(&args.humans) {
            anyhow::bail!("--humans must be between 1 and {HUMANS_MAX}");
        }
        if !(args.bot_ratio.is_finite() && (0.0..=1000.0).contains(&args.bot_ratio)) {
            anyhow::bail!("--bot-ratio must be between 0 and 1000");
        }
        Ok(Self {
            stock: args.stock.unwrap_or(STOCK_DEFAULT),
            humans: args.humans,
            bot_connections: args.connections.unwrap_or(BOT_CONNECTIONS_DEFAULT),
            bot_ratio: args.bot_ratio,
            admit_per_sec: args.admit_per_sec,
            arrive_over: args.arrive_over,
            duration: args.duration.unwrap_or(DURATION_DEFAULT),
        })
    }
}

/// A customer token secret for the in-process server (32 random bytes).
pub fn random_secret() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(hex::encode(bytes))
}

/// The in-process server as a drop needs it: customer tokens on with
/// `secret`, per-address limits on (unless the config sets its own), and
/// the bench's own address trusted as a proxy, so that each simulated
/// client is known by the address it names.
pub fn configure(settings: &mut Settings, secret: &str) {
    settings.customers.token_secret = Secret::new(secret);
    let limits = &mut settings.rate_limits;
    if limits.ip_writes_per_sec == 0.0 {
        (limits.ip_writes_per_sec, limits.ip_write_burst) = (IP_WRITES_PER_SEC, IP_WRITE_BURST);
    }
    if limits.ip_reads_per_sec == 0.0 {
        (limits.ip_reads_per_sec, limits.ip_read_burst) = (IP_READS_PER_SEC, IP_READ_BURST);
    }
    let bench = "127.0.0.1/32".to_owned();
    if !settings.server.trusted_proxies.contains(&bench) {
        settings.server.trusted_proxies.push(bench);
    }
}

/// The sale: one unit per customer, opening `start` from now, its waiting
/// room admitting `admit_per_sec`.
pub async fn open_sale(
    target: &Target,
    sku: &str,
    start: Duration,
    admit_per_sec: u32,
) -> anyhow::Result<()> {
    let starts_at = rfc3339(SystemClock.now_ms() + start.as_millis() as u64);
    let body = json!({"per_customer_limit": PER_CUSTOMER_LIMIT, "starts_at": starts_at,
        "ends_at": null, "queue": {"enabled": true, "admit_per_sec": admit_per_sec}});
    target
        .admin(
            Method::PUT,
            format!("/v1/admin/skus/{sku}/sale"),
            Some(Bytes::from(body.to_string())),
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_gets_tokens_address_limits_and_the_bench_as_its_proxy() {
        let mut settings = Settings::default();
        configure(&mut settings, "s".repeat(32).as_str());
        assert_eq!(settings.customers.token_secret.expose(), "s".repeat(32));
        assert_eq!(settings.rate_limits.ip_writes_per_sec, IP_WRITES_PER_SEC);
        assert_eq!(settings.rate_limits.ip_read_burst, IP_READ_BURST);
        assert_eq!(settings.server.trusted_proxies, ["127.0.0.1/32"]);
        assert_eq!(settings.validate(), Ok(()));
        // Limits a config sets are kept; the proxy is not listed twice.
        settings.rate_limits.ip_writes_per_sec = 7.0;
        configure(&mut settings, "t".repeat(32).as_str());
        assert_eq!(settings.rate_limits.ip_writes_per_sec, 7.0);
        assert_eq!(settings.server.trusted_proxies.len(), 1);
    }
}
