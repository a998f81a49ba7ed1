//! The front door: what a storefront request must pass before it costs a
//! handler, an actor message or a commit. In order, for a write: the
//! bucket of its client address, the customer token (with
//! `customers.token_secret` set), the bucket of that customer; for a read:
//! the bucket of its client address. The address comes first so that a
//! client sending forged tokens is slowed like any other.
//!
//! Refusals are 429 problems with `Retry-After` and the IETF draft's
//! fields (draft-ietf-httpapi-ratelimit-headers-09, the structured-field
//! syntax of drafts 08 and later): `RateLimit-Policy: "ip-write";q=20;w=2`
//! (a full bucket is `q` requests, refilled in `w` seconds: a client
//! sending at most `q` per `w` is never refused) and
//! `RateLimit: "ip-write";r=0;t=1` (nothing remains; `t` seconds until the
//! next request is let through). Each is counted in
//! `surge_rate_limited_total{reason="ip_write"|"ip_read"|"customer"}`.
//!
//! Admin and operations routes never come here: an operator's scraper or
//! script must not share a budget with shoppers.

use super::buckets::Buckets;
use super::client_ip::TrustedProxies;
use crate::clock::Clock;
use crate::config::Settings;
use crate::domain::CustomerId;
use crate::http::customer::CustomerTokens;
use crate::http::problem::ApiError;
use actix_web::dev::ServiceRequest;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use governor::Quota;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// Everything the front door checks; built once, shared by all workers.
pub struct FrontDoor {
    tokens: Option<CustomerTokens>,
    ip_writes: Option<Limit<IpAddr>>,
    ip_reads: Option<Limit<IpAddr>>,
    customer_writes: Option<Limit<CustomerId>>,
    proxies: TrustedProxies,
    /// Most body bytes read from a refused write to keep its connection.
    body_limit_bytes: usize,
}

impl FrontDoor {
    pub fn new(settings: &Settings, clock: Arc<dyn Clock>) -> Self {
        let customers = &settings.customers;
        let limits = &settings.rate_limits;
        let max = limits.tracked_clients_max;
        Self {
            tokens: (!customers.token_secret.is_empty()).then(|| {
                CustomerTokens::new(
                    customers.token_secret.expose(),
                    customers.token_leeway_secs,
                    clock,
                )
            }),
            ip_writes: Limit::new(
                "ip-write",
                "ip_write",
                limits.ip_writes_per_sec,
                limits.ip_write_burst,
                max,
            ),
            ip_reads: Limit::new(
                "ip-read",
                "ip_read",
                limits.ip_reads_per_sec,
                limits.ip_read_burst,
                max,
            ),
            customer_writes: Limit::new(
                "customer-write",
                "customer",
                limits.customer_writes_per_sec,
                limits.customer_write_burst,
                max,
            ),
            proxies: TrustedProxies::new(
                settings.server.trusted_proxy_nets(),
                settings.server.forwarded_header,
            ),
            body_limit_bytes: settings.server.body_limit_bytes,
        }
    }

    /// The customer token checker, when tokens are on.
    pub fn tokens(&self) -> Option<&CustomerTokens> {
        self.tokens.as_ref()
    }

    /// Whether a request may have to be refused here at all; when not,
    /// `Front` does not consult the door.
    pub fn is_needed(&self) -> bool {
        self.tokens.is_some() || self.ip_writes.is_some() || self.ip_reads.is_some()
    }

    pub fn body_limit_bytes(&self) -> usize {
        self.body_limit_bytes
    }

    /// Lets a storefront write in, with its verified customer when tokens
    /// are on; else the 401 or 429 to answer.
    pub fn check_write(&self, req: &ServiceRequest) -> Result<Option<CustomerId>, ApiError> {
        if let Some(limit) = &self.ip_writes {
            limit.check(&self.client(req))?;
        }
        let Some(tokens) = &self.tokens else {
            return Ok(None);
        };
        let customer = tokens.verify(req.headers())?;
        if let Some(limit) = &self.customer_writes {
            limit.check(&customer)?;
        }
        Ok(Some(customer))
    }

    /// Lets a storefront read in, or the 429 to answer.
    pub fn check_read(&self, req: &ServiceRequest) -> Result<(), ApiError> {
        match &self.ip_reads {
            Some(limit) => limit.check(&self.client(req)),
            None => Ok(()),
        }
    }

    fn client(&self, req: &ServiceRequest) -> IpAddr {
        self.proxies
            .client_key(req.peer_addr().map(|a| a.ip()), req.headers())
    }
}

/// One kind of bucket: its keys, and how a refusal by it is told.
struct Limit<K: Hash + Eq + Clone> {
    buckets: Buckets<K>,
    /// The policy's name in the `RateLimit` fields.
    policy: &'static str,
    /// The `reason` label of `surge_rate_limited_total`.
    reason: &'static str,
    /// `RateLimit-Policy`, the same on every refusal.
    policy_header: HeaderValue,
}

impl<K: Hash + Eq + Clone> Limit<K> {
    /// `None` when `per_sec` is 0 (off).
    fn new(
        policy: &'static str,
        reason: &'static str,
        per_sec: f64,
        burst: u32,
        max_keys: usize,
    ) -> Option<Self> {
        if per_sec <= 0.0 {
            return None;
        }
        let burst = NonZeroU32::new(burst)?;
        // Validated: at most a million a second, so the period is >= 1 µs.
        let quota = Quota::with_period(Duration::from_secs_f64(1.0 / per_sec))?.allow_burst(burst);
        let window_secs = (f64::from(burst.get()) / per_sec).ceil().max(1.0);
        let policy_header =
            HeaderValue::from_str(&format!("\"{policy}\";q={burst};w={window_secs}")).ok()?;
        Some(Self {
            buckets: Buckets::new(quota, max_keys),
            policy,
            reason,
            policy_header,
        })
    }

    fn check(&self, key: &K) -> Result<(), ApiError> {
        self.buckets.check(key).map_err(|wait| self.refusal(wait))
    }

    fn refusal(&self, wait: Duration) -> ApiError {
        metrics::counter!("surge_rate_limited_total", "reason" => self.reason).increment(1);
        let secs = u32::try_from(wait.as_secs_f64().ceil() as u64)
            .unwrap_or(u32::MAX)
            .max(1);
        let who = if self.reason == "customer" {
            "this customer"
        } else {
            "this address"
        };
        let mut error = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            format!("too many requests from {who}; retry in {secs} s"),
        )
        .with("policy", self.policy)
        .with_header(RATELIMIT_POLICY, self.policy_header.clone());
        error.retry_after_secs = Some(secs);
        match HeaderValue::from_str(&format!("\"{}\";r=0;t={secs}", self.policy)) {
            Ok(value) => error.with_header(RATELIMIT, value),
            Err(_) => error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn door(edit: impl FnOnce(&mut Settings)) -> FrontDoor {
        let mut settings = Settings::default();
        edit(&mut settings);
        FrontDoor::new(&settings, Arc::new(crate::clock::SystemClock))
    }

    #[test]
    fn by_default_the_door_has_nothing_to_do() {
        assert!(!door(|_| {}).is_needed());
        assert!(door(|s| s.rate_limits.ip_reads_per_sec = 1.0).is_needed());
    }

    #[test]
    fn a_refusal_says_when_to_come_back_and_the_policy() {
        let door = door(|s| {
            s.rate_limits.ip_writes_per_sec = 0.5;
            s.rate_limits.ip_write_burst = 2;
        });
        let req = TestRequest::post().uri("/v1/carts").to_srv_request();
        assert!(door.check_write(&req).is_ok());
        assert!(door.check_write(&req).is_ok());
        let refused = door.check_write(&req).unwrap_err();
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.retry_after_secs, Some(2));
        let headers: Vec<(String, String)> = refused
            .headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or_default().to_owned()))
            .collect();
        assert!(headers.contains(&("ratelimit-policy".into(), "\"ip-write\";q=2;w=4".into())));
        assert!(headers.contains(&("ratelimit".into(), "\"ip-write\";r=0;t=2".into())));
    }
}
