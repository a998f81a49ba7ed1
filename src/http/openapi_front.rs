//! What the front door adds to the OpenAPI document, added to every
//! storefront operation at once rather than to each annotation: the
//! optional `customer_token` security (HTTP bearer, JWT), 401 and 403 where
//! a token is checked, and 429 on everything the rate limits cover.

use utoipa::openapi::header::Header;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Response, ResponseBuilder};
use utoipa::Modify;

/// The storefront's paths: where customer tokens and rate limits apply
/// (the middleware's rule is "under /v1/, not /v1/admin"; the waiting
/// room's `/v1/queue` is listed ahead of its routes).
const STOREFRONT: [&str; 6] = [
    "/v1/skus",
    "/v1/products",
    "/v1/carts",
    "/v1/orders",
    "/v1/queue",
    "/v1/events/stream",
];
/// Paths of a customer's own carts and orders: reads check the token there
/// too, and another customer's answers 404.
const OWNED: [&str; 2] = ["/v1/carts/", "/v1/orders/"];

/// What the front door, as configured, adds: with customer tokens on, the
/// `customer_token` scheme and its answers; with rate limits on, 429.
pub struct FrontDoorDocs {
    pub tokens: bool,
    pub rate_limits: bool,
}

impl Modify for FrontDoorDocs {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if self.tokens {
            let components = openapi.components.get_or_insert_with(Default::default);
            components.add_security_scheme(
                "customer_token",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT")
                        .description(Some(
                            "An HS256 JWT signed by the merchant's site (customers.token_secret), \
                             sub = customer id, exp required.",
                        ))
                        .build(),
                ),
            );
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !STOREFRONT.iter().any(|p| path.starts_with(p)) {
                continue;
            }
            let owned = OWNED.iter().any(|p| path.starts_with(p));
            let writes = [
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for op in writes.into_iter().flatten() {
                if self.tokens {
                    tokened(op, true, owned);
                }
                if self.rate_limits {
                    limited(op);
                }
            }
            if let Some(op) = item.get.as_mut() {
                if owned && self.tokens {
                    tokened(op, false, owned);
                }
                if self.rate_limits {
                    limited(op);
                }
            }
        }
    }
}

/// An operation that checks the customer token: the token is required;
/// 401, 403 where the body may name a customer (`writes`), 404 for another
/// customer's cart or order (`owned`).
fn tokened(op: &mut Operation, writes: bool, owned: bool) {
    op.security = Some(vec![SecurityRequirement::new(
        "customer_token",
        Vec::<String>::new(),
    )]);
    let responses = &mut op.responses.responses;
    responses.entry("401".into()).or_insert_with(|| {
        problem("customer-token-required, customer-token-invalid or customer-token-expired")
    });
    if writes {
        responses.entry("403".into()).or_insert_with(|| {
            problem("customer-mismatch: the body names another customer than the token")
        });
    }
    if owned {
        responses
            .entry("404".into())
            .or_insert_with(|| problem("not found; also another customer's"));
    }
}

/// A 429 (rate-limited) the operation may answer.
fn limited(op: &mut Operation) {
    op.responses
        .responses
        .entry("429".into())
        .or_insert_with(too_many_requests);
}

fn problem(description: &str) -> RefOr<Response> {
    problem_response(description).into()
}

fn problem_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            Content::new(Some(Ref::from_schema_name("Problem"))),
        )
        .build()
}

fn too_many_requests() -> RefOr<Response> {
    let header = |description: &str| {
        let mut h = Header::default();
        h.description = Some(description.to_owned());
        RefOr::T(h)
    };
    let mut response =
        problem_response("rate-limited: this client address or customer is over its rate limit");
    response.headers.insert(
        "Retry-After".into(),
        header("seconds until a request is let through again"),
    );
    response.headers.insert(
        "RateLimit-Policy".into(),
        header("the bucket that refused, e.g. \"ip-write\";q=20;w=2 (IETF draft 09)"),
    );
    response.headers.insert(
        "RateLimit".into(),
        header("what remains of it, e.g. \"ip-write\";r=0;t=1 (IETF draft 09)"),
    );
    response.into()
}
