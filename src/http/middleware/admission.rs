//! Admission control for storefront writes. Every accepted write waits its
//! turn at a SKU actor and the committer, so past the node's capacity more
//! concurrent writes only add queueing delay to all of them. A bounded
//! number are admitted at once (the bound adapts to their latency: see
//! `write_limit`); the rest get an immediate 503 with `Retry-After`, which
//! keeps the latency of accepted writes bounded when a sale sends more than
//! the node can take. Reads and admin calls are never shed: reads are served
//! from snapshots and atomics, and an operator must be able to act during
//! the storm.

use super::write_limit::{WriteLimit, WritePermit};
use crate::http::problem::ApiError;
use crate::http::AppState;
use crate::store::StoreError;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::{web, HttpMessage, ResponseError};
use futures_util::StreamExt;
use std::time::Duration;

/// Storefront writes in flight, against their limit: one permit per
/// admitted write, given back when its response is done.
pub struct Admission {
    limit: WriteLimit,
    /// Most body bytes read from a refused request to keep its connection.
    body_limit_bytes: usize,
}

impl Admission {
    /// At most `max` writes at once, fewer while more than a tenth of them
    /// take longer than `latency_target` (`None`: always `max`).
    pub fn new(max: usize, latency_target: Option<Duration>, body_limit_bytes: usize) -> Self {
        Self {
            limit: WriteLimit::new(max, latency_target),
            body_limit_bytes,
        }
    }

    fn admit(&self, req: &ServiceRequest) -> Option<WritePermit> {
        self.limit.try_admit(is_one_step(req.path()))
    }
}

/// Whether a write's latency is that of the write path's queue. Checkout and
/// payment are sagas of several commits around gateway calls: their latency
/// is mostly the gateway's and their own rounds, and would read as
/// congestion when there is none.
fn is_one_step(path: &str) -> bool {
    let mut segments = path.trim_start_matches('/').split('/');
    let route = (
        segments.next(),
        segments.next(),
        segments.nth(1),
        segments.next(),
    );
    !matches!(
        route,
        (Some("v1"), Some("carts"), Some("checkout"), None)
            | (Some("v1"), Some("orders"), Some("pay"), None)
    )
}

/// Reads and drops a refused request's body (up to `limit` bytes), so the
/// connection stays usable: a response sent with the body unread makes the
/// server close the connection, and a reconnect costs a shed client far
/// more than the few bytes of a purchase.
pub(super) async fn drain_body(req: &mut ServiceRequest, limit: usize) {
    let mut payload = req.take_payload();
    let mut read = 0;
    while let Some(Ok(chunk)) = payload.next().await {
        read += chunk.len();
        if read > limit {
            return;
        }
    }
}

/// Whether a request is a storefront write (shed under overload, and
/// checked by the front door).
pub fn is_storefront_write(req: &ServiceRequest) -> bool {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    !safe && is_storefront(req.path())
}

/// Whether a request is a storefront read (checked by the front door).
pub fn is_storefront_read(req: &ServiceRequest) -> bool {
    matches!(*req.method(), Method::GET | Method::HEAD) && is_storefront(req.path())
}

/// Under `/v1/` but not under `/v1/admin`, nor `/v1/webhooks` (a payment
/// provider's deliveries carry their own signature, no customer token, and
/// are not a shopper's load); the operations routes (`/healthz`,
/// `/metrics`, `/openapi.json`, `/docs`) are outside `/v1/`.
fn is_storefront(path: &str) -> bool {
    let under = |rest: &str, prefix: &str| {
        rest.strip_prefix(prefix)
            .is_some_and(|after| after.is_empty() || after.starts_with('/'))
    };
    path.strip_prefix("/v1/")
        .is_some_and(|rest| !under(rest, "admin") && !under(rest, "webhooks"))
}

/// Admits a storefront write or answers it at once: `Err` is the 503 for
/// a request refused because the node is at its limit (its body read and
/// dropped first). Only storefront writes come here
/// ([`is_storefront_write`]); reads never touch the limit.
pub async fn admit(
    mut req: ServiceRequest,
) -> Result<(ServiceRequest, Option<WritePermit>), ServiceResponse> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok((req, None));
    };
    if let Some(permit) = state.admission.admit(&req) {
        return Ok((req, Some(permit)));
    }
    metrics::counter!("surge_http_shed_total").increment(1);
    drain_body(&mut req, state.admission.body_limit_bytes).await;
    // The same condition as a full commit queue, one step earlier.
    let problem = ApiError::unavailable(
        StoreError::Overloaded.code(),
        "the server is taking all the writes it can; retry shortly",
        1,
    );
    Err(req.into_response(problem.error_response()))
}

#[cfg(test)]
mod tests {
    use super::{is_one_step, is_storefront};

    #[test]
    fn storefront_is_v1_but_not_admin() {
        for path in ["/v1/skus/A/purchase", "/v1/carts", "/v1/administrators"] {
            assert!(is_storefront(path), "{path}");
        }
        for path in [
            "/v1/admin",
            "/v1/admin/orders",
            "/v1/webhooks/stripe",
            "/healthz",
            "/metrics",
            "/docs/",
        ] {
            assert!(!is_storefront(path), "{path}");
        }
    }

    #[test]
    fn only_checkout_and_pay_are_sagas_whatever_the_ids_are_called() {
        assert!(!is_one_step("/v1/carts/c1/checkout"));
        assert!(!is_one_step("/v1/orders/o1/pay"));
        assert!(is_one_step("/v1/skus/pay/purchase"));
        assert!(is_one_step("/v1/carts/c1/lines/checkout"));
        assert!(is_one_step("/v1/carts/c1/lines/pay"));
        assert!(is_one_step("/v1/carts"));
    }
}
