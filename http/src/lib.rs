//! seaframe-http: the pieces the agent's API and the shore's API have in
//! common, so that both check a token, read a query string and redact
//! secrets the same way, and answer a failure in the same words and status
//! ([`ApiError`]). Each service keeps its own routes.

pub mod assets;
mod bearer;
mod cookie;
mod error;
mod origin;
mod query;
mod redact;
mod secret;

pub use bearer::{bearer_matches, bearer_token, token_matches};
pub use cookie::{SESSION_COOKIE, session_cookie, set_session_cookie};
pub use error::ApiError;
pub use origin::{check_origin, origin_is_host, tile_origin};
pub use query::{Params, QueryParams};
pub use redact::{
    REDACTED, is_secret_key, redact_json, redact_text, redact_url, redact_url_str, restore_redacted,
};
pub use secret::Secret;
