//! Who may do what on the shore: accounts with a [`Role`], their
//! credentials ([`credential`]: Argon2id passwords, API tokens and session
//! cookies kept only as SHA-256 hashes) and the sign-in backoff
//! ([`throttle`]). The HTTP side — the guard every route but the health
//! check sits behind, sign-in and account management — is in
//! [`crate::services::api`]; the rows are in the [`crate::adapters::index`] so that every
//! shore instance sharing an index shares the accounts.
//!
//! A request is authenticated by `Authorization: Bearer <token>` (an API
//! token of an account, or the deprecated `[api] token` as an operator) or
//! by the session cookie of a sign-in; a request with a cookie that changes
//! something must also carry the session's CSRF token
//! ([`credential::csrf_for`]) in `X-Seaframe-CSRF`.

pub mod accounts;

use std::sync::Arc;

use seaframe_http::Secret;

use crate::adapters::config::auth::AuthConfig;
use crate::base::auth::role::Role;
use crate::base::auth::throttle::Throttle;

/// The header carrying the CSRF token of a cookie session.
pub const CSRF_HEADER: &str = "x-seaframe-csrf";

/// Who a request is from, once authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    pub role: Role,
    pub via: Via,
}

/// How a request was authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// An account's API token.
    Token,
    /// A session cookie: its hash (for signing out), its CSRF token (for
    /// the page that reloads) and when it ends.
    Session {
        hash: String,
        csrf: String,
        expires_at_ns: i64,
    },
    /// The deprecated `[api] token` of the config.
    BreakGlass,
}

/// What the guard and sign-in share. Cheap to clone inside an `Arc`.
#[derive(Debug)]
pub struct Auth {
    pub config: AuthConfig,
    /// The deprecated `[api] token`: an operator without an account.
    pub break_glass: Option<Secret>,
    pub throttle: Throttle,
}

impl Auth {
    pub fn new(config: AuthConfig, break_glass: Option<Secret>) -> Arc<Self> {
        Arc::new(Self {
            config,
            break_glass,
            throttle: Throttle::default(),
        })
    }
}
