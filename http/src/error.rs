//! `ApiError`: every failure of either API (the agent's and the shore's) as
//! `{"error": "..."}` with the right status — 400 for a user's mistake
//! (naming the parameter), 401 without credentials, 403 with a role too low
//! or a change from another page, 404 for nothing there, 405 for a method a
//! route does not take, 409 for a name taken, 429 for sign-ins too fast,
//! 503 when the store, the index, the disk or the broker fails (cause
//! logged, not shown). Every message and logged cause goes through the
//! redactor: a URL with a password quoted back from a body never leaves
//! whole.

use crate::redact_text;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("sign in, or send Authorization: Bearer <API token>")]
    Unauthorized,
    /// A sign-in refused: what was wrong, in the service's words.
    #[error("{0}")]
    SignInFailed(&'static str),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    /// Sign-ins refused for this long.
    #[error("too many failed sign-ins: try again in {0} s")]
    TooManyRequests(u64),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    /// Something of ours failed; the cause goes to the log only.
    #[error("{what} is unavailable")]
    Unavailable { what: &'static str, cause: String },
}

impl ApiError {
    pub fn bad(param: &str, why: impl std::fmt::Display) -> Self {
        Self::BadRequest(format!("{param}: {why}"))
    }

    /// `what` failed with `cause` (logged, not shown): 503.
    pub fn unavailable(what: &'static str, cause: impl std::fmt::Display) -> Self {
        Self::Unavailable {
            what,
            cause: cause.to_string(),
        }
    }

    /// The index (the shore's, or the agent's frame index) failed: 503.
    pub fn index(e: impl std::fmt::Display) -> Self {
        Self::unavailable("the index", e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized | Self::SignInFailed(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unavailable { what, cause } => {
                tracing::error!(what, cause = %redact_text(cause), "API: answering 503");
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        let message = redact_text(&self.to_string());
        let mut response = (status, Json(json!({ "error": message }))).into_response();
        match self {
            Self::Unauthorized => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::TooManyRequests(s) => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(s));
            }
            _ => {}
        }
        response
    }
}
