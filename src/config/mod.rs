//! Settings: built-in defaults, then `config.toml`, then `SURGE_SECTION__KEY`
//! environment variables, then command-line flags. Unknown keys are an error
//! at start: a typo in a config file must not silently fall back to a default.
//! Secrets (the admin token) never live here; they come from the environment.
//!
//! Each section is a struct with its defaults and its own checks: the ones
//! about how the process runs in `runtime.rs`, the storefront's in
//! `storefront.rs`, the front door's (customer tokens, rate limits) in
//! `front.rs`; payments and events keep theirs in their modules.

mod admin_ui;
mod front;
mod runtime;
mod storefront;

pub use admin_ui::AdminUiSettings;
pub use front::{CustomerSettings, RateLimitSettings, Secret, TOKEN_SECRET_MIN_BYTES};
pub use runtime::{ForwardedHeader, LogFormat, LogSettings, ServerSettings, StoreSettings};
pub use storefront::{CartSettings, CatalogSettings, InventorySettings};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::path::Path;

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
    pub idempotency: crate::idempotency::IdempotencySettings,
    pub backup: crate::backup::BackupSettings,
    pub customers: CustomerSettings,
    pub rate_limits: RateLimitSettings,
    pub queue: crate::queue::QueueSettings,
    pub tls: crate::tls::TlsSettings,
    pub admin_ui: AdminUiSettings,
    pub log: LogSettings,
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
                refuse_secrets_in(path)?;
                figment = figment.merge(Toml::file_exact(path));
            }
            None if Path::new("config.toml").is_file() => {
                refuse_secrets_in(Path::new("config.toml"))?;
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

    /// Refuses values that would make the server misbehave rather than fail
    /// clearly (a zero-length payment window, an empty queue, …): the first
    /// bad value, section by section in the order of `Settings`.
    pub fn validate(&self) -> Result<(), String> {
        self.server
            .validate()
            .and(self.store.validate())
            .and(self.catalog.validate())
            .and(self.inventory.validate())
            .and(self.cart.validate())
            .and(self.payment.validate())
            .and(self.events.validate())
            .and(self.idempotency.validate())
            .and(self.backup.validate())
            .and(self.customers.validate())
            .and(self.rate_limits.validate())
            .and(self.queue.validate())
            .and(self.admin_ui.validate())
    }
}

/// Settings that must come from the environment only: a key that can move
/// money does not belong in a file that gets copied, committed and backed up.
const ENV_ONLY: [(&str, &str); 1] = [(
    "payment.stripe_secret_key",
    "SURGE_PAYMENT__STRIPE_SECRET_KEY",
)];

fn refuse_secrets_in(path: &Path) -> Result<(), Box<figment::Error>> {
    let file = Figment::from(Toml::file_exact(path));
    for (key, env) in ENV_ONLY {
        if file.find_value(key).is_ok() {
            return Err(Box::new(figment::Error::from(format!(
                "{key} must not be set in the config file {}: set it in the environment as {env}",
                path.display()
            ))));
        }
    }
    Ok(())
}

/// The message of the first of `checks` that fails, if any.
fn first_failure(checks: &[(&str, bool)]) -> Result<(), String> {
    match checks.iter().find(|(_, ok)| !ok) {
        Some((message, _)) => Err((*message).to_owned()),
        None => Ok(()),
    }
}

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
    fn cors_origins_must_be_origins_as_browsers_send_them() {
        let with = |origins: &[&str]| {
            let mut s = Settings::default();
            s.server.cors_origins = origins.iter().map(|o| (*o).to_owned()).collect();
            s.validate()
        };
        for ok in [
            &[][..],
            &["https://shop.example", "http://localhost:3000"],
            &["http://127.0.0.1:8081", "http://[::1]:3000"],
            &["*"],
        ] {
            assert_eq!(with(ok), Ok(()), "{ok:?}");
        }
        for bad in [
            &["https://shop.example/"][..],
            &["https://shop.example/app"],
            &["shop.example"],
            &["https://Shop.example"],
            &["https://shop.example:"],
            &["ftp://shop.example"],
            &["https://"],
            &[""],
        ] {
            let err = with(bad).unwrap_err();
            assert!(err.contains("is not an origin"), "{bad:?}: {err}");
        }
        let err = with(&["*", "https://shop.example"]).unwrap_err();
        assert!(err.contains("only entry"), "{err}");
    }

    #[test]
    fn cors_origins_come_as_a_list_or_one_string_with_commas() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "config.toml",
                "[server]\ncors_origins = [\"https://a.example\"]\n",
            )?;
            let s = Settings::load(None).map_err(|e| *e)?;
            assert_eq!(s.server.cors_origins, ["https://a.example"]);
            jail.set_env(
                "SURGE_SERVER__CORS_ORIGINS",
                "https://b.example, http://localhost:3000",
            );
            let s = Settings::load(None).map_err(|e| *e)?;
            assert_eq!(
                s.server.cors_origins,
                ["https://b.example", "http://localhost:3000"]
            );
            jail.set_env("SURGE_SERVER__CORS_ORIGINS", "[\"https://c.example\"]");
            let s = Settings::load(None).map_err(|e| *e)?;
            assert_eq!(s.server.cors_origins, ["https://c.example"]);
            jail.set_env("SURGE_SERVER__CORS_ORIGINS", "");
            let s = Settings::load(None).map_err(|e| *e)?;
            assert!(s.server.cors_origins.is_empty());
            Ok(())
        });
    }

    #[test]
    fn front_door_settings_are_checked_and_the_secret_never_printed() {
        let mut s = Settings::default();
        s.customers.token_secret = Secret::new("too-short");
        assert!(s.validate().unwrap_err().contains("token_secret"));
        s.customers.token_secret = Secret::new("s".repeat(TOKEN_SECRET_MIN_BYTES));
        assert_eq!(s.validate(), Ok(()));
        assert!(!format!("{s:?}").contains("ssss"), "the secret is printed");
        s.server.trusted_proxies = vec!["10.0.0.0/8".into(), "::1".into(), "192.0.2.1".into()];
        assert_eq!(s.validate(), Ok(()));
        assert_eq!(s.server.trusted_proxy_nets().len(), 3);
        for bad in ["10.0.0.0/33", "proxy.example", ""] {
            s.server.trusted_proxies = vec![bad.into()];
            assert!(
                s.validate().unwrap_err().contains("trusted_proxies"),
                "{bad}"
            );
        }
        let mut s = Settings::default();
        s.rate_limits.ip_write_burst = 0;
        assert!(s.validate().unwrap_err().contains("ip_write_burst"));
        let mut s = Settings::default();
        s.rate_limits.ip_reads_per_sec = f64::NAN;
        assert!(s.validate().unwrap_err().contains("ip_reads_per_sec"));
        let mut s = Settings::default();
        s.rate_limits.tracked_clients_max = 0;
        assert!(s.validate().unwrap_err().contains("tracked_clients_max"));
    }

    #[test]
    fn front_door_settings_come_from_the_environment() {
        Jail::expect_with(|jail| {
            jail.set_env("SURGE_CUSTOMERS__TOKEN_SECRET", "from-the-environment");
            jail.set_env("SURGE_SERVER__TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1");
            jail.set_env("SURGE_SERVER__FORWARDED_HEADER", "forwarded");
            jail.set_env("SURGE_RATE_LIMITS__IP_WRITES_PER_SEC", "10");
            let s = Settings::load(None).map_err(|e| *e)?;
            assert_eq!(s.customers.token_secret.expose(), "from-the-environment");
            assert_eq!(s.server.trusted_proxies, ["10.0.0.0/8", "127.0.0.1"]);
            assert_eq!(s.server.forwarded_header, ForwardedHeader::Forwarded);
            assert!((s.rate_limits.ip_writes_per_sec - 10.0).abs() < f64::EPSILON);
            Ok(())
        });
    }

    #[test]
    fn the_stripe_secret_key_is_refused_in_a_file_and_read_from_the_environment() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "config.toml",
                "[payment]\nprovider = \"stripe\"\nstripe_secret_key = \"sk_test_1\"\n",
            )?;
            let err = Settings::load(None).unwrap_err().to_string();
            assert!(err.contains("SURGE_PAYMENT__STRIPE_SECRET_KEY"), "{err}");
            jail.create_file("config.toml", "[payment]\nprovider = \"stripe\"\n")?;
            jail.set_env("SURGE_PAYMENT__STRIPE_SECRET_KEY", "sk_test_from_env");
            let s = Settings::load(None).map_err(|e| *e)?;
            assert_eq!(s.payment.stripe_secret_key.expose(), "sk_test_from_env");
            assert!(!format!("{s:?}").contains("sk_test_from_env"));
            Ok(())
        });
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
