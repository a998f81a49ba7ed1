//! Settings: built-in defaults, then `config.toml`, then `SURGE_SECTION__KEY`
//! environment variables, then command-line flags. Unknown keys are an error
//! at start: a typo in a config file must not silently fall back to a default.
//! Secrets (the admin token) never live here; they come from the environment.

use crate::store::{CommitterSettings, Durability};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub server: ServerSettings,
    pub store: StoreSettings,
    pub catalog: CatalogSettings,
    pub inventory: InventorySettings,
    pub cart: CartSettings,
    pub payment: crate::payment::PaymentSettings,
    pub events: crate::events::EventSettings,
    pub log: LogSettings,
}

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
        }
    }
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
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data/store"),
            durability: Durability::Strict,
            commit_window_us: 100,
            commit_batch_max: 4096,
            commit_queue_max: 16_384,
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
        }
    }

    /// Where sled keeps its files, inside the data directory.
    pub fn sled_dir(&self) -> PathBuf {
        self.data_dir.join("sled")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogSettings {
    /// Seed catalog loaded on first start; empty means start with no products.
    pub seed_file: PathBuf,
    /// Page size when a list request gives no `limit`.
    pub page_limit_default: usize,
    /// Largest `limit` a list request may ask for.
    pub page_limit_max: usize,
    /// `max-age` of catalog reads, in seconds; 0 makes caches revalidate.
    pub cache_max_age_secs: u64,
}

impl Default for CatalogSettings {
    fn default() -> Self {
        Self {
            seed_file: PathBuf::from("data/catalog.json"),
            page_limit_default: 20,
            page_limit_max: 100,
            cache_max_age_secs: 0,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InventorySettings {
    /// How long a flash-sale order holds its stock awaiting payment.
    pub payment_window_secs: u64,
    /// Most messages waiting for one SKU actor; beyond it callers get 503.
    pub mailbox_capacity: usize,
    /// Arbiter threads the SKU actors are sharded over; 0 means one per core.
    pub shards: usize,
    /// A SKU actor with nothing to do for this long is passivated.
    pub idle_passivate_secs: u64,
    /// Most units one purchase may ask for.
    pub purchase_quantity_max: u64,
    /// Orders the idempotency filter is sized for (about 1.2 bytes each);
    /// beyond it, retried keys cost a store read more often, never a mistake.
    pub order_filter_items: usize,
}

impl Default for InventorySettings {
    fn default() -> Self {
        Self {
            payment_window_secs: 600,
            mailbox_capacity: 1024,
            shards: 0,
            idle_passivate_secs: 60,
            purchase_quantity_max: 100,
            order_filter_items: 10_000_000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CartSettings {
    /// How long a cart line holds its stock, renewed by every change to it.
    pub reservation_ttl_secs: u64,
    /// How long every hold must still last when checkout starts (longer
    /// than a payment can take): shorter holds are extended to it.
    pub checkout_hold_secs: u64,
    /// Most lines in one cart.
    pub lines_max: usize,
    /// Most units in one line.
    pub quantity_max: u64,
    /// Currency of a cart created without one.
    pub default_currency: crate::domain::Currency,
    /// A cart actor idle for this long is passivated.
    pub idle_passivate_secs: u64,
    /// Most calls waiting for one cart actor; beyond it callers get 503.
    pub mailbox_capacity: usize,
}

impl Default for CartSettings {
    fn default() -> Self {
        Self {
            reservation_ttl_secs: 900,
            checkout_hold_secs: 300,
            lines_max: 50,
            quantity_max: 100,
            default_currency: crate::domain::Currency::parse("EUR")
                .unwrap_or_else(|_| unreachable!("EUR is an ISO 4217 code")),
            idle_passivate_secs: 60,
            mailbox_capacity: 32,
        }
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

impl Settings {
    /// Loads settings from `file` (if given, it must exist; otherwise
    /// `config.toml` is read when present) and the `SURGE_*__*` environment.
    pub fn load(file: Option<&Path>) -> Result<Self, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        match file {
            Some(path) => {
                if !path.is_file() {
                    return Err(Box::new(figment::Error::from(format!(
                        "config file {} does not exist",
                        path.display()
                    ))));
                }
                figment = figment.merge(Toml::file_exact(path));
            }
            None if Path::new("config.toml").is_file() => {
                figment = figment.merge(Toml::file_exact("config.toml"));
            }
            None => {}
        }
        // Only `SURGE_SECTION__KEY` names are settings; `SURGE_ADMIN_TOKEN`
        // and other single-part names are secrets or belong to other tools.
        let env = Env::prefixed("SURGE_")
            .filter(|key| key.as_str().contains("__"))
            .split("__");
        figment.merge(env).extract().map_err(Box::new)
    }
}

impl Settings {
    /// Refuses values that would make the server misbehave rather than fail
    /// clearly (a zero-length payment window, an empty queue, …).
    pub fn validate(&self) -> Result<(), String> {
        let checks = [
            (
                "server.body_limit_bytes must be at least 1024",
                self.server.body_limit_bytes >= 1024,
            ),
            (
                "server.connections_per_worker_max must be at least 1",
                self.server.connections_per_worker_max >= 1,
            ),
            (
                "server.writes_in_flight_max must be between 1 and 1000000",
                (1..=1_000_000).contains(&self.server.writes_in_flight_max),
            ),
            (
                "server.write_latency_target_ms must be at most 60000",
                self.server.write_latency_target_ms <= 60_000,
            ),
            (
                "store.commit_batch_max must be at least 1",
                self.store.commit_batch_max >= 1,
            ),
            (
                "store.commit_queue_max must be at least 1",
                self.store.commit_queue_max >= 1,
            ),
            (
                "catalog.page_limit_max must be at least 1",
                self.catalog.page_limit_max >= 1,
            ),
            (
                "catalog.page_limit_default must be between 1 and catalog.page_limit_max",
                (1..=self.catalog.page_limit_max).contains(&self.catalog.page_limit_default),
            ),
            (
                "inventory.payment_window_secs must be at least 1",
                self.inventory.payment_window_secs >= 1,
            ),
            (
                "inventory.mailbox_capacity must be at least 1",
                self.inventory.mailbox_capacity >= 1,
            ),
            (
                "inventory.idle_passivate_secs must be at least 1",
                self.inventory.idle_passivate_secs >= 1,
            ),
            (
                "inventory.purchase_quantity_max must be between 1 and 1000000",
                (1..=PURCHASE_QUANTITY_LIMIT).contains(&self.inventory.purchase_quantity_max),
            ),
            (
                "inventory.order_filter_items must be at least 1",
                self.inventory.order_filter_items >= 1,
            ),
            (
                "cart.reservation_ttl_secs must be at least 1",
                self.cart.reservation_ttl_secs >= 1,
            ),
            (
                "cart.checkout_hold_secs must be at least 1",
                self.cart.checkout_hold_secs >= 1,
            ),
            (
                "cart.lines_max must be at least 1",
                self.cart.lines_max >= 1,
            ),
            (
                "cart.quantity_max must be between 1 and 1000000",
                (1..=PURCHASE_QUANTITY_LIMIT).contains(&self.cart.quantity_max),
            ),
            (
                "cart.idle_passivate_secs must be at least 1",
                self.cart.idle_passivate_secs >= 1,
            ),
            (
                "cart.mailbox_capacity must be at least 1",
                self.cart.mailbox_capacity >= 1,
            ),
        ];
        match checks.iter().find(|(_, ok)| !ok) {
            Some((message, _)) => Err((*message).to_owned()),
            None => self.payment.validate().and(self.events.validate()),
        }
    }
}

/// Upper bound of `inventory.purchase_quantity_max`: with prices capped at
/// 10^12 minor units, no order total can overflow.
const PURCHASE_QUANTITY_LIMIT: u64 = 1_000_000;

#[cfg(test)]
// `Jail` closures must return `figment::Error`, which is large.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::Jail;

    #[test]
    fn the_shipped_config_file_matches_the_defaults() {
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml");
        let from_file: Settings = Figment::new()
            .merge(Toml::file_exact(&shipped))
            .extract()
            .unwrap();
        let defaults = Settings::default();
        assert_eq!(
            serde_json::to_value(&from_file).unwrap(),
            serde_json::to_value(&defaults).unwrap(),
            "config.toml must document every key with its default"
        );
    }

    #[test]
    fn the_defaults_are_valid_and_nonsense_is_refused() {
        assert_eq!(Settings::default().validate(), Ok(()));
        let mut s = Settings::default();
        s.inventory.payment_window_secs = 0;
        assert!(s.validate().unwrap_err().contains("payment_window_secs"));
        let mut s = Settings::default();
        s.catalog.page_limit_default = 500;
        assert!(s.validate().unwrap_err().contains("page_limit_default"));
        let mut s = Settings::default();
        s.server.writes_in_flight_max = usize::MAX;
        assert!(s.validate().unwrap_err().contains("writes_in_flight_max"));
        let mut s = Settings::default();
        s.server.write_latency_target_ms = 3_600_000;
        assert!(s
            .validate()
            .unwrap_err()
            .contains("write_latency_target_ms"));
        let mut s = Settings::default();
        s.events.stream_clients_max = usize::MAX;
        assert!(s.validate().unwrap_err().contains("stream_clients_max"));
    }

    #[test]
    fn without_a_config_file_the_defaults_apply() {
        Jail::expect_with(|_| {
            let s = Settings::load(None).map_err(|e| *e)?;
            assert_eq!(s.server.bind, Settings::default().server.bind);
            Ok(())
        });
    }

    #[test]
    fn environment_overrides_the_file_and_unknown_keys_are_errors() {
        Jail::expect_with(|jail| {
            jail.create_file("config.toml", "[server]\nbind = \"127.0.0.1:9000\"\n")?;
            let s = Settings::load(None).map_err(|e| *e)?;
            assert_eq!(s.server.bind, "127.0.0.1:9000");
            jail.set_env("SURGE_SERVER__BIND", "127.0.0.1:9001");
            jail.set_env("SURGE_STORE__COMMIT_WINDOW_US", "5");
            jail.set_env("SURGE_ADMIN_TOKEN", "not-a-setting");
            let s = Settings::load(None).map_err(|e| *e)?;
            assert_eq!(s.server.bind, "127.0.0.1:9001");
            assert_eq!(s.store.commit_window_us, 5);
            jail.set_env("SURGE_SERVER__BINDD", "x");
            assert!(
                Settings::load(None).is_err(),
                "a misspelt env key is an error"
            );
            Ok(())
        });
        Jail::expect_with(|jail| {
            jail.create_file("config.toml", "[server]\nbnd = \"127.0.0.1:9000\"\n")?;
            let err = Settings::load(None).unwrap_err();
            assert!(err.to_string().contains("bnd"), "{err}");
            Ok(())
        });
    }
}
