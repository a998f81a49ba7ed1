//! Dashboard sessions: signing in with the admin token gives a random
//! session id in an `HttpOnly`, `SameSite=Strict` cookie scoped to `/admin`;
//! the server keeps, in memory, the digest of each id with its expiry (on
//! the app's clock) and its CSRF token. Every form carries that token and
//! every POST is checked against it in constant time. The sign-in form,
//! before any session exists, carries an HMAC of a random nonce kept in a
//! cookie of its own (a double submit that a cross-site page cannot read).

use crate::clock::{Clock, Millis};
use crate::domain::random_hex128;
use crate::http::admin::auth::AdminToken;
use actix_web::HttpRequest;
use dashmap::DashMap;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "surge_admin_session";
/// The sign-in form's nonce cookie.
pub const SIGN_IN_COOKIE: &str = "surge_admin_sign_in";
/// How long a sign-in form stays usable, in seconds.
const SIGN_IN_FORM_TTL_SECS: u64 = 3600;

/// A signed-in session, as the server keeps it.
#[derive(Clone)]
pub struct Session {
    pub expires_at: Millis,
    /// Put in every form of this session; a POST without it is refused.
    pub csrf: String,
}

/// The signed-in sessions and the key that signs sign-in forms.
pub struct Sessions {
    /// By SHA-256 of the session id: a memory dump shows no usable id.
    live: DashMap<[u8; 32], Session>,
    /// Signs sign-in forms; random per process (sessions do not outlive it).
    form_key: [u8; 32],
    clock: Arc<dyn Clock>,
    ttl_secs: u64,
    max: usize,
    secure: bool,
}

impl Sessions {
    pub fn new(clock: Arc<dyn Clock>, settings: &crate::config::AdminUiSettings) -> Self {
        let mut form_key = [0u8; 32];
        if getrandom::fill(&mut form_key).is_err() {
            // Never on supported platforms; two v4 UUIDs stand in.
            form_key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
            form_key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        }
        Self {
            live: DashMap::new(),
            form_key,
            clock,
            ttl_secs: settings.session_ttl_secs,
            max: settings.sessions_max,
            secure: settings.secure_cookies,
        }
    }

    fn now(&self) -> Millis {
        self.clock.now_ms()
    }

    /// Whether `token` is the admin token; a session id if so.
    pub fn sign_in(&self, admin: &AdminToken, token: &str) -> Option<String> {
        if !admin.accepts(token.trim()) {
            return None;
        }
        let id = format!("{}{}", random_hex128(), random_hex128());
        let session = Session {
            expires_at: self
                .now()
                .saturating_add(self.ttl_secs.saturating_mul(1000)),
            csrf: format!("{}{}", random_hex128(), random_hex128()),
        };
        self.make_room();
        self.live.insert(digest(&id), session);
        Some(id)
    }

    /// Drops expired sessions and, at the limit, the one closest to expiry.
    fn make_room(&self) {
        if self.live.len() < self.max {
            return;
        }
        let now = self.now();
        self.live.retain(|_, s| s.expires_at > now);
        while self.live.len() >= self.max {
            let oldest = self
                .live
                .iter()
                .min_by_key(|e| e.value().expires_at)
                .map(|e| *e.key());
            match oldest {
                Some(key) => self.live.remove(&key),
                None => break,
            };
        }
    }

    /// The live session of `req`'s cookie, if any (an expired one is dropped).
    pub fn of(&self, req: &HttpRequest) -> Option<Session> {
        let id = cookie(req, SESSION_COOKIE)?;
        let key = digest(&id);
        let session = self.live.get(&key)?.clone();
        if session.expires_at <= self.now() {
            self.live.remove(&key);
            return None;
        }
        Some(session)
    }

    pub fn sign_out(&self, req: &HttpRequest) {
        if let Some(id) = cookie(req, SESSION_COOKIE) {
            self.live.remove(&digest(&id));
        }
    }

    /// The `Set-Cookie` value of a new session.
    pub fn session_cookie(&self, req: &HttpRequest, id: &str) -> String {
        self.cookie_header(req, SESSION_COOKIE, id, self.ttl_secs)
    }

    /// The `Set-Cookie` value that removes `name`.
    pub fn removal(&self, req: &HttpRequest, name: &str) -> String {
        self.cookie_header(req, name, "", 0)
    }

    fn cookie_header(&self, req: &HttpRequest, name: &str, value: &str, max_age: u64) -> String {
        let secure = self.secure || req.connection_info().scheme() == "https";
        format!(
            "{name}={value}; Path=/admin; Max-Age={max_age}; HttpOnly; SameSite=Strict{}",
            if secure { "; Secure" } else { "" }
        )
    }

    /// A sign-in form's nonce (for its cookie) and the CSRF token it carries.
    pub fn sign_in_form(&self, req: &HttpRequest) -> (String, String) {
        let nonce = random_hex128();
        let token = self.form_token(&nonce);
        let cookie = self.cookie_header(req, SIGN_IN_COOKIE, &nonce, SIGN_IN_FORM_TTL_SECS);
        (cookie, token)
    }

    /// Whether `presented` is the CSRF token of the sign-in form whose nonce
    /// `req`'s cookie holds.
    pub fn sign_in_form_accepts(&self, req: &HttpRequest, presented: Option<&str>) -> bool {
        match (cookie(req, SIGN_IN_COOKIE), presented) {
            (Some(nonce), Some(presented)) => same(&self.form_token(&nonce), presented),
            _ => false,
        }
    }

    fn form_token(&self, nonce: &str) -> String {
        // HMAC-SHA256 takes a key of any length: `new_from_slice` cannot fail.
        match Hmac::<Sha256>::new_from_slice(&self.form_key) {
            Ok(mut mac) => {
                mac.update(b"surge-admin-sign-in:");
                mac.update(nonce.as_bytes());
                hex::encode(mac.finalize().into_bytes())
            }
            Err(_) => String::new(),
        }
    }
}

/// Whether a form's CSRF token is the session's (constant time, on digests
/// so that not even the length leaks).
pub fn csrf_accepts(session: &Session, presented: Option<&str>) -> bool {
    presented.is_some_and(|p| same(&session.csrf, p))
}

fn same(expected: &str, presented: &str) -> bool {
    !expected.is_empty() && digest(expected).ct_eq(&digest(presented)).into()
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// The value of cookie `name` in `req`'s `Cookie` headers.
pub fn cookie(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(actix_web::http::header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use actix_web::test::TestRequest;
    use std::time::Duration;

    fn sessions(clock: &ManualClock) -> Sessions {
        let settings = crate::config::AdminUiSettings {
            session_ttl_secs: 60,
            secure_cookies: false,
            sessions_max: 2,
        };
        Sessions::new(Arc::new(clock.clone()), &settings)
    }

    fn with_cookie(name: &str, value: &str) -> HttpRequest {
        TestRequest::default()
            .insert_header(("Cookie", format!("other=1; {name}={value}")))
            .to_http_request()
    }

    #[test]
    fn a_session_lasts_its_ttl_and_only_the_admin_token_opens_one() {
        let clock = ManualClock::new(1_000_000);
        let s = sessions(&clock);
        let admin = AdminToken::new("s3cret");
        assert!(s.sign_in(&admin, "wrong").is_none());
        let id = s.sign_in(&admin, "s3cret").unwrap();
        let req = with_cookie(SESSION_COOKIE, &id);
        let session = s.of(&req).unwrap();
        assert!(csrf_accepts(&session, Some(&session.csrf)));
        assert!(!csrf_accepts(&session, Some("nope")));
        assert!(!csrf_accepts(&session, None));
        clock.advance(Duration::from_secs(61));
        assert!(s.of(&req).is_none());
    }

    #[test]
    fn sessions_are_bounded_and_sign_in_forms_are_signed() {
        let clock = ManualClock::new(1_000_000);
        let s = sessions(&clock);
        let admin = AdminToken::new("t");
        let first = s.sign_in(&admin, "t").unwrap();
        clock.advance(Duration::from_secs(1));
        let _second = s.sign_in(&admin, "t").unwrap();
        let _third = s.sign_in(&admin, "t").unwrap();
        assert_eq!(s.live.len(), 2);
        assert!(s.of(&with_cookie(SESSION_COOKIE, &first)).is_none());
        let (cookie_header, token) = s.sign_in_form(&TestRequest::default().to_http_request());
        let nonce = cookie_header
            .split(';')
            .next()
            .and_then(|kv| kv.split_once('='))
            .map(|(_, v)| v.to_owned())
            .unwrap();
        let req = with_cookie(SIGN_IN_COOKIE, &nonce);
        assert!(s.sign_in_form_accepts(&req, Some(&token)));
        assert!(!s.sign_in_form_accepts(&req, Some("forged")));
        assert!(!s.sign_in_form_accepts(&req, None));
        let other = with_cookie(SIGN_IN_COOKIE, "another-nonce");
        assert!(!s.sign_in_form_accepts(&other, Some(&token)));
    }
}
