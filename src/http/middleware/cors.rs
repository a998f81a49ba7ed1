//! CORS for `server.cors_origins`, so that a browser storefront served from
//! another origin can call the storefront routes (catalog, purchase, the
//! waiting room, carts, orders) and read the live event stream. Admin routes and the operations
//! routes never approve another origin: the admin token belongs to pages of
//! this server only.
//!
//! It wraps the whole app, outside [`Front`](super::Front), because Front
//! answers some storefront requests by itself (a write refused under
//! overload: 503 with `Retry-After`): without the CORS headers a browser
//! would hide that answer from the page as a network error, just when the
//! page should wait and retry. With no origins configured it never sees a
//! request: each pays only [`Condition`]'s branch.

use crate::http::problem::edge::cors_refusal;
use actix_cors::{Cors, CorsMiddleware};
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{self, HeaderName};
use actix_web::http::Method;
use actix_web::middleware::Condition;
use actix_web::Error;
use futures_util::future::{Either, LocalBoxFuture, MapOk};
use futures_util::TryFutureExt;
use std::rc::Rc;

/// Path prefixes of the routes a storefront on another origin may call
/// (the scopes and the stream of `http::routes`).
const STOREFRONT: [&str; 6] = [
    "/v1/skus",
    "/v1/products",
    "/v1/orders",
    "/v1/carts",
    "/v1/queue",
    "/v1/events/stream",
];

/// How long a browser may reuse an approved preflight, in seconds. An hour
/// spares a purchase its preflight round trip in a sale; Chromium caps it at
/// two hours anyway.
const PREFLIGHT_MAX_AGE_SECS: usize = 3600;

/// The CORS layer for `origins` (from `server.cors_origins`, validated):
/// wrap the app in it after [`Front`](super::Front), so that it runs first.
pub fn storefront_cors(origins: &[String]) -> Condition<StorefrontCors> {
    Condition::new(!origins.is_empty(), StorefrontCors(policy(origins)))
}

/// The policy: exactly the configured origins ("*" alone: any, answered
/// with a literal `*`). Credentials are never allowed: no storefront route
/// takes a cookie, and a customer token travels in `Authorization`, which
/// a page sends explicitly, so even "*" lends no visitor's identity.
fn policy(origins: &[String]) -> Cors {
    let cors = if origins == ["*"] {
        Cors::default().allow_any_origin().send_wildcard()
    } else {
        origins
            .iter()
            .fold(Cors::default(), |cors, origin| cors.allowed_origin(origin))
    };
    cors.allowed_methods([
        Method::GET,
        Method::POST,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
    ])
    .allowed_headers([
        header::CONTENT_TYPE,
        header::IF_NONE_MATCH,
        header::AUTHORIZATION,
        HeaderName::from_static("idempotency-key"),
        HeaderName::from_static("last-event-id"),
    ])
    .expose_headers([
        header::ETAG,
        header::LOCATION,
        header::RETRY_AFTER,
        HeaderName::from_static("idempotent-replayed"),
        // A refused page learns which limit and when to come back.
        HeaderName::from_static("ratelimit"),
        HeaderName::from_static("ratelimit-policy"),
    ])
    .max_age(PREFLIGHT_MAX_AGE_SECS)
    // Same-origin pages (the docs) send `Origin` on writes too; an origin
    // that is not listed gets no CORS headers, and the browser decides.
    .block_on_origin_mismatch(false)
}

/// Whether `path` (as routed, percent-decoded) is under a storefront
/// prefix: the prefix itself or below it, not `/v1/skusx`.
fn is_storefront(path: &str) -> bool {
    STOREFRONT.iter().any(|prefix| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

pub struct StorefrontCors(Cors);

impl<S, B> Transform<S, ServiceRequest> for StorefrontCors
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = StorefrontCorsService<S>;
    type InitError = ();
    type Future = LocalBoxFuture<'static, Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        let service = Rc::new(service);
        let cors = self.0.new_transform(Rc::clone(&service));
        Box::pin(async move {
            Ok(StorefrontCorsService {
                cors: cors.await?,
                service,
            })
        })
    }
}

/// Storefront requests go through the CORS layer; all others straight on.
pub struct StorefrontCorsService<S> {
    service: Rc<S>,
    cors: CorsMiddleware<Rc<S>>,
}

type Answer<B> = Result<ServiceResponse<EitherBody<B>>, Error>;
type Finish<B> = fn(ServiceResponse<EitherBody<B>>) -> ServiceResponse<EitherBody<B>>;
type Straight<B> = fn(ServiceResponse<B>) -> ServiceResponse<EitherBody<B>>;

impl<S, B> Service<ServiceRequest> for StorefrontCorsService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future =
        Either<MapOk<S::Future, Straight<B>>, MapOk<LocalBoxFuture<'static, Answer<B>>, Finish<B>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        if !is_storefront(req.match_info().as_str()) {
            let straight: Straight<B> = ServiceResponse::map_into_left_body;
            return Either::Left(self.service.call(req).map_ok(straight));
        }
        // Only a preflight can be refused by the CORS layer itself.
        let preflight = req.method() == Method::OPTIONS
            && req
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        let finish: Finish<B> = if preflight {
            cors_refusal
        } else {
            std::convert::identity
        };
        Either::Right(self.cors.call(req).map_ok(finish))
    }
}

#[cfg(test)]
mod tests {
    use super::is_storefront;

    #[test]
    fn storefront_paths_are_the_storefront_scopes_and_the_stream() {
        for path in [
            "/v1/skus/FLASH-001",
            "/v1/skus/FLASH-001/purchase",
            "/v1/products",
            "/v1/products/tee",
            "/v1/orders/o1/pay",
            "/v1/carts",
            "/v1/carts/c1/lines/S-1",
            "/v1/skus/FLASH-001/queue",
            "/v1/queue/tkt_0123456789abcdef0123456789abcdef/stream",
            "/v1/events/stream",
        ] {
            assert!(is_storefront(path), "{path}");
        }
        for path in [
            "/v1/admin/products",
            "/v1/admin/skus/FLASH-001/inventory",
            "/v1/skusx",
            "/v1/events/streams",
            "/healthz",
            "/metrics",
            "/openapi.json",
            "/docs/",
        ] {
            assert!(!is_storefront(path), "{path}");
        }
    }
}
