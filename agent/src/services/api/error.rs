//! `ApiError`: every failure of the API as `{"error": "..."}` with the right
//! status — 400 for a user's mistake (naming the parameter), 401 without the
//! token, 403 for a change from another page, 404 for nothing there, 405 for a method a route does not take, 503
//! when the store fails (cause logged, not shown).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("missing or wrong bearer token")]
    Unauthorized,
    /// Authenticated, but refused (a change from another page).
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The store failed; the cause goes to the log, never to the client.
    #[error("the frame store is unavailable")]
    Unavailable(String),
}

impl ApiError {
    pub fn bad(param: &str, why: impl std::fmt::Display) -> Self {
        Self::BadRequest(format!("{param}: {why}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unavailable(cause) => {
                tracing::error!(cause = %cause, "API: the store failed, answering 503");
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        let mut response = (status, Json(json!({ "error": self.to_string() }))).into_response();
        if matches!(self, Self::Unauthorized) {
            // RFC 6750 §3: say which scheme would have worked.
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
