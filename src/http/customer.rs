//! Verified buyers: who a storefront request acts for.
//!
//! With `customers.token_secret` set, a storefront write carries
//! `Authorization: Bearer <token>`: a JWT the merchant's own site signs
//! with that secret (HS256 only), whose `sub` is the customer id and whose
//! `exp` is required. The customer comes from the token, not from the
//! body: a body naming another customer is refused (403), and a cart or an
//! order is usable only by its own customer (another customer's answers 404,
//! as an unknown id does, so a token does not help to probe ids). Without
//! the secret (the default) nothing changes: the body names the customer,
//! and an unguessable id is the capability to use a cart or an order.
//!
//! The one question "who is this request's customer?" is answered here, by
//! [`buyer`] (or the [`Buyer`] extractor): handlers, the waiting room
//! included, ask it rather than reading the header. The `Front` middleware
//! checks the token of every storefront write before the handler runs (and
//! refuses a missing or bad one with 401), leaving the verified customer in
//! the request's extensions, so a handler's question costs no second check.

use crate::clock::Clock;
use crate::domain::{CustomerId, FieldError};
use crate::http::bearer::bearer_token;
use crate::http::problem::ApiError;
use crate::http::AppState;
use actix_web::dev::Payload;
use actix_web::http::header::{HeaderMap, HeaderValue, WWW_AUTHENTICATE};
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::future::{ready, Ready};
use std::sync::Arc;

/// Checks customer tokens: HS256 with the configured secret, `sub` and
/// `exp` required, `exp` and `nbf` against the server's clock.
pub struct CustomerTokens {
    key: DecodingKey,
    validation: Validation,
    clock: Arc<dyn Clock>,
    leeway_secs: u64,
}

/// What surge reads of a token; other claims are the site's business.
#[derive(Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
    nbf: Option<u64>,
}

impl CustomerTokens {
    pub fn new(secret: &str, leeway_secs: u64, clock: Arc<dyn Clock>) -> Self {
        // One algorithm: a token whose header names another (`none`,
        // RS256 with the secret as a "public key", …) is refused by the
        // library before any signature check.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        // Times are checked below against the server's clock (the one every
        // other expiry uses), not the library's reading of the system's.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        // No audience is configured: the secret is shared with one site.
        validation.validate_aud = false;
        Self {
            key: DecodingKey::from_secret(secret.as_bytes()),
            validation,
            clock,
            leeway_secs,
        }
    }

    /// The customer of a request's token; 401 when it is missing or not a
    /// valid, current token of ours.
    pub fn verify(&self, headers: &HeaderMap) -> Result<CustomerId, ApiError> {
        let Some(token) = bearer_token(headers) else {
            return Err(unauthorized(
                "customer-token-required",
                "storefront writes need Authorization: Bearer <customer token>",
                None,
            ));
        };
        let claims = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|e| invalid(e.kind()))?
            .claims;
        let now = self.clock.now_ms() / 1000;
        if claims.exp.saturating_add(self.leeway_secs) <= now {
            return Err(unauthorized(
                "customer-token-expired",
                "the customer token has expired; get a new one from the site",
                Some("the token has expired"),
            ));
        }
        if claims
            .nbf
            .is_some_and(|nbf| nbf > now.saturating_add(self.leeway_secs))
        {
            return Err(invalid(&ErrorKind::ImmatureSignature));
        }
        CustomerId::parse(&claims.sub).map_err(|e| {
            unauthorized(
                "customer-token-invalid",
                format!("the customer token's sub is not a customer id: {}", e.0),
                Some("sub is not a customer id"),
            )
        })
    }
}

/// 401 for a token that is not one of ours, saying why without saying
/// more than a client needs.
fn invalid(kind: &ErrorKind) -> ApiError {
    let why = match kind {
        ErrorKind::InvalidSignature => "its signature does not match",
        ErrorKind::InvalidAlgorithm => "it must be signed with HS256",
        ErrorKind::MissingRequiredClaim(_) => "it needs a string sub and a numeric exp",
        ErrorKind::ImmatureSignature => "it is not valid yet (nbf)",
        _ => "it is not a well-formed JWT",
    };
    unauthorized(
        "customer-token-invalid",
        format!("the customer token is not valid: {why}"),
        Some(why),
    )
}

/// A 401 problem with the RFC 6750 challenge: `error="invalid_token"` when
/// a token was sent (`described`), none when it was missing.
fn unauthorized(
    code: &'static str,
    detail: impl Into<String>,
    described: Option<&str>,
) -> ApiError {
    let challenge = match described {
        Some(why) => {
            format!("Bearer realm=\"surge\", error=\"invalid_token\", error_description=\"{why}\"")
        }
        None => "Bearer realm=\"surge\"".to_owned(),
    };
    let error = ApiError::new(StatusCode::UNAUTHORIZED, code, detail);
    match HeaderValue::from_str(&challenge) {
        Ok(value) => error.with_header(WWW_AUTHENTICATE, value),
        Err(_) => error,
    }
}

/// A storefront write's verified customer, left in the request's
/// extensions by the `Front` middleware.
pub(crate) struct Verified(pub CustomerId);

/// Who a storefront request acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Buyer {
    /// Customer tokens are off: the body names the customer, if any.
    Unverified,
    /// The customer of the request's verified token.
    Verified(CustomerId),
}

impl Buyer {
    /// The customer a request acts for, given the one its body names
    /// (`claimed`): with tokens off, the body's; with tokens on, the
    /// token's, and 403 when the body names someone else.
    pub(crate) fn customer(
        &self,
        claimed: Option<CustomerId>,
    ) -> Result<Option<CustomerId>, ApiError> {
        match self {
            Buyer::Unverified => Ok(claimed),
            Buyer::Verified(customer) => match claimed {
                Some(claimed) if claimed != *customer => Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "customer-mismatch",
                    "customer_id differs from the customer of the token; leave it out or send the token's",
                )),
                _ => Ok(Some(customer.clone())),
            },
        }
    }

    /// Whether the request carries a verified customer (tokens are on).
    pub(crate) fn is_verified(&self) -> bool {
        matches!(self, Buyer::Verified(_))
    }

    /// Whether this buyer may use a cart or an order of `owner`: with
    /// tokens off anyone holding its id may; with tokens on only its own
    /// customer (one made without a customer belongs to nobody's token).
    pub(crate) fn may_use(&self, owner: Option<&CustomerId>) -> bool {
        match self {
            Buyer::Unverified => true,
            Buyer::Verified(customer) => owner == Some(customer),
        }
    }

    /// `thing` if this buyer may use it; another customer's is not found,
    /// as an unknown id is (so a token does not help to probe ids).
    pub(crate) fn own<T: Owned>(&self, thing: T) -> Result<T, ApiError> {
        if self.may_use(thing.owner()) {
            Ok(thing)
        } else {
            Err(thing.not_found())
        }
    }

    /// Before a change: with tokens on, checks that what `load` finds is
    /// this buyer's (its owner never changes, so the answer holds for the
    /// change that follows); with tokens off, loads nothing.
    pub(crate) fn check_owns<T: Owned>(
        &self,
        load: impl FnOnce() -> Result<T, ApiError>,
    ) -> Result<(), ApiError> {
        if self.is_verified() {
            self.own(load()?)?;
        }
        Ok(())
    }
}

/// What belongs to one customer: a cart, an order (a waiting-room ticket).
pub(crate) trait Owned {
    /// Its customer, if it was made with one.
    fn owner(&self) -> Option<&CustomerId>;
    /// The answer for a buyer who may not see it: the same as for an id
    /// that does not exist.
    fn not_found(&self) -> ApiError;
}

/// The customer a body names in `customer_id` (`raw`): `Some(None)` when
/// it names none, `None` when the id is invalid (reported in `errors`).
pub(crate) fn claimed_customer(
    raw: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> Option<Option<CustomerId>> {
    match raw {
        None => Some(None),
        Some(raw) => CustomerId::parse(raw)
            .map(Some)
            .map_err(|e| errors.push(FieldError::new("customer_id", e.0)))
            .ok(),
    }
}

/// Who `req` acts for: with customer tokens off, [`Buyer::Unverified`];
/// with them on, the customer of its token, checked here unless the
/// `Front` middleware already did (storefront writes), else 401. Callable
/// from any handler, including those of routes the middleware treats as
/// reads.
pub(crate) fn buyer(req: &HttpRequest) -> Result<Buyer, ApiError> {
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        tracing::error!("app state missing from app data");
        return Err(ApiError::internal());
    };
    // Tokens off (the default): one branch on the purchase path.
    let Some(tokens) = state.front.tokens() else {
        return Ok(Buyer::Unverified);
    };
    if let Some(Verified(customer)) = req.extensions().get::<Verified>() {
        return Ok(Buyer::Verified(customer.clone()));
    }
    tokens.verify(req.headers()).map(Buyer::Verified)
}

/// [`buyer`] as an extractor: put `Buyer` in a handler's arguments.
impl FromRequest for Buyer {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(buyer(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use actix_web::http::header::AUTHORIZATION;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;

    const SECRET: &str = "a-secret-of-at-least-thirty-two-bytes!";
    const NOW: u64 = 1_800_000_000;

    fn tokens() -> CustomerTokens {
        CustomerTokens::new(SECRET, 5, Arc::new(ManualClock::new(NOW * 1000)))
    }

    fn headers(token: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}")) {
            headers.insert(AUTHORIZATION, value);
        }
        headers
    }

    fn mint(claims: serde_json::Value, alg: Algorithm, secret: &str) -> String {
        encode(
            &Header::new(alg),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    fn code(result: Result<CustomerId, ApiError>) -> &'static str {
        result.map_or_else(|e| e.code, |_| "ok")
    }

    #[test]
    fn a_current_token_of_ours_names_its_customer() {
        let token = mint(
            json!({"sub": "alice", "exp": NOW + 60}),
            Algorithm::HS256,
            SECRET,
        );
        assert_eq!(tokens().verify(&headers(&token)).unwrap().as_str(), "alice");
    }

    #[test]
    fn tokens_that_are_not_ours_or_not_current_are_refused() {
        let t = tokens();
        let good = json!({"sub": "alice", "exp": NOW + 60});
        let cases = [
            (
                mint(
                    good.clone(),
                    Algorithm::HS256,
                    "another-secret-that-is-long-enough!!",
                ),
                "customer-token-invalid",
            ),
            (
                mint(good.clone(), Algorithm::HS384, SECRET),
                "customer-token-invalid",
            ),
            (
                mint(
                    json!({"sub": "alice", "exp": NOW - 6}),
                    Algorithm::HS256,
                    SECRET,
                ),
                "customer-token-expired",
            ),
            (
                mint(json!({"sub": "alice"}), Algorithm::HS256, SECRET),
                "customer-token-invalid",
            ),
            (
                mint(json!({"exp": NOW + 60}), Algorithm::HS256, SECRET),
                "customer-token-invalid",
            ),
            (
                mint(
                    json!({"sub": "al ice", "exp": NOW + 60}),
                    Algorithm::HS256,
                    SECRET,
                ),
                "customer-token-invalid",
            ),
            (
                mint(
                    json!({"sub": "alice", "exp": NOW + 60, "nbf": NOW + 60}),
                    Algorithm::HS256,
                    SECRET,
                ),
                "customer-token-invalid",
            ),
            ("not.a.jwt".to_owned(), "customer-token-invalid"),
        ];
        for (token, expected) in cases {
            assert_eq!(code(t.verify(&headers(&token))), expected, "{token}");
        }
        assert_eq!(code(t.verify(&HeaderMap::new())), "customer-token-required");
    }

    #[test]
    fn an_unsigned_token_is_refused() {
        // {"alg":"none","typ":"JWT"} . {"sub":"alice","exp":<far>} . (empty)
        let unsigned = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.\
                        eyJzdWIiOiJhbGljZSIsImV4cCI6NDEwMjQ0NDgwMH0.";
        assert_eq!(
            code(tokens().verify(&headers(unsigned))),
            "customer-token-invalid"
        );
    }

    #[test]
    fn expiry_forgives_the_leeway_only() {
        let t = tokens();
        let just = mint(
            json!({"sub": "a", "exp": NOW - 4}),
            Algorithm::HS256,
            SECRET,
        );
        assert_eq!(code(t.verify(&headers(&just))), "ok");
        let past = mint(
            json!({"sub": "a", "exp": NOW - 5}),
            Algorithm::HS256,
            SECRET,
        );
        assert_eq!(code(t.verify(&headers(&past))), "customer-token-expired");
    }

    #[test]
    fn the_body_may_only_name_the_token_customer() {
        let alice = CustomerId::parse("alice").unwrap();
        let bob = CustomerId::parse("bob").unwrap();
        let verified = Buyer::Verified(alice.clone());
        assert_eq!(verified.customer(None).unwrap(), Some(alice.clone()));
        assert_eq!(
            verified.customer(Some(alice.clone())).unwrap(),
            Some(alice.clone())
        );
        assert_eq!(
            verified.customer(Some(bob.clone())).unwrap_err().status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            Buyer::Unverified.customer(Some(bob.clone())).unwrap(),
            Some(bob.clone())
        );
        assert!(verified.may_use(Some(&alice)));
        assert!(!verified.may_use(Some(&bob)));
        assert!(!verified.may_use(None));
        assert!(Buyer::Unverified.may_use(None));
    }
}
