//! `Authorization: Bearer <token>` (RFC 6750), as the admin routes and the
//! customer tokens both read it.

use actix_web::http::header::{self, HeaderMap};

/// The token of a request's `Authorization: Bearer` header; `None` when
/// there is none, another scheme, or no token after the scheme.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    // The scheme name is case-insensitive (RFC 9110, section 11.1).
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::bearer_token;
    use actix_web::http::header::{HeaderMap, HeaderValue, AUTHORIZATION};

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(AUTHORIZATION, value);
        }
        headers
    }

    #[test]
    fn only_a_bearer_token_is_taken() {
        assert_eq!(bearer_token(&with("Bearer abc")), Some("abc"));
        assert_eq!(bearer_token(&with("bearer  abc ")), Some("abc"));
        assert_eq!(bearer_token(&with("Basic abc")), None);
        assert_eq!(bearer_token(&with("Bearer")), None);
        assert_eq!(bearer_token(&with("Bearer   ")), None);
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }
}
