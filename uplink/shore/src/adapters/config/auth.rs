//! `[auth]`: how long a sign-in lasts and how its cookie is marked.

use serde::Deserialize;

/// Sign-in on the fleet page ([`crate::services::auth`]). Accounts themselves are
/// in the index (`seaframe-shore account …`), not here.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// How long a sign-in lasts (then the page asks again).
    #[serde(default = "default_session_ttl_s")]
    pub session_ttl_s: u64,
    /// Marks the session cookie `Secure` (sent over HTTPS only). Set it
    /// when the shore is reached through a TLS proxy; a request that says
    /// `X-Forwarded-Proto: https` gets a `Secure` cookie either way.
    #[serde(default)]
    pub secure_cookie: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            session_ttl_s: default_session_ttl_s(),
            secure_cookie: false,
        }
    }
}

/// The longest a sign-in may last.
pub const MAX_SESSION_TTL_S: u64 = 30 * 24 * 3600;

fn default_session_ttl_s() -> u64 {
    12 * 3600
}
