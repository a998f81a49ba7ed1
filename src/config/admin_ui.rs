//! The merchant dashboard's section: how long a sign-in lasts, whether its
//! cookie is marked `Secure`, and how many sessions are kept.

use super::first_failure;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminUiSettings {
    /// How long a dashboard sign-in lasts, in seconds (business time): the
    /// session cookie's Max-Age and the server's own expiry.
    pub session_ttl_secs: u64,
    /// Marks the session cookie `Secure` (sent over HTTPS only). Set it when
    /// a TLS proxy is in front; it is also set for requests that arrive as
    /// `https`.
    pub secure_cookies: bool,
    /// Most signed-in sessions kept at once; beyond it the one closest to
    /// expiry is signed out.
    pub sessions_max: usize,
}

impl Default for AdminUiSettings {
    fn default() -> Self {
        Self {
            session_ttl_secs: 8 * 3600,
            secure_cookies: false,
            sessions_max: 1000,
        }
    }
}

impl AdminUiSettings {
    pub(super) fn validate(&self) -> Result<(), String> {
        first_failure(&[
            (
                "admin_ui.session_ttl_secs must be between 1 and 2592000 (30 days)",
                (1..=2_592_000).contains(&self.session_ttl_secs),
            ),
            (
                "admin_ui.sessions_max must be between 1 and 1000000",
                (1..=1_000_000).contains(&self.sessions_max),
            ),
        ])
    }
}
