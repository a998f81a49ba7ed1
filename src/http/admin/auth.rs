//! Admin authentication: `Authorization: Bearer <token>`, compared in
//! constant time (on digests, so not even the length leaks).

use crate::http::bearer::bearer_token;
use crate::http::problem::ApiError;
use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest};
use sha2::{Digest, Sha256};
use std::future::{ready, Ready};
use subtle::ConstantTimeEq;

/// The admin token's digest; the token itself is not kept.
#[derive(Clone)]
pub struct AdminToken([u8; 32]);

impl AdminToken {
    pub fn new(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    pub fn accepts(&self, presented: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        self.0.ct_eq(&digest).into()
    }
}

/// Proof that the request carries the admin token. Put it in a handler's
/// arguments to make the route admin-only.
pub struct Admin;

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(check(req))
    }
}

fn check(req: &HttpRequest) -> Result<Admin, ApiError> {
    let unauthorized =
        |detail: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", detail);
    let Some(token) = req.app_data::<web::Data<AdminToken>>() else {
        tracing::error!("admin token missing from app data");
        return Err(ApiError::internal());
    };
    if !req.headers().contains_key(header::AUTHORIZATION) {
        return Err(unauthorized(
            "admin routes need Authorization: Bearer <admin token>",
        ));
    }
    match bearer_token(req.headers()) {
        Some(presented) if token.accepts(presented) => Ok(Admin),
        _ => Err(unauthorized("the admin token is missing or wrong")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_is_accepted() {
        let t = AdminToken::new("s3cret");
        assert!(t.accepts("s3cret"));
        assert!(!t.accepts("s3cre"));
        assert!(!t.accepts("s3cret "));
        assert!(!t.accepts(""));
    }
}
