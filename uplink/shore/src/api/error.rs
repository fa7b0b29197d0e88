//! `ApiError`: every failure of the shore API as `{"error": "..."}` with
//! the right status — 400 for a user's mistake (naming the parameter), 401
//! without the token, 404 for nothing there, 405 for a method a route does
//! not take, 503 when the index, the disk or the broker fails (cause logged,
//! not shown).

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

    pub fn index(e: impl std::fmt::Display) -> Self {
        Self::Unavailable {
            what: "the index",
            cause: e.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unavailable { what, cause } => {
                tracing::error!(what, cause = %cause, "API: answering 503");
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        let mut response = (status, Json(json!({ "error": self.to_string() }))).into_response();
        if matches!(self, Self::Unauthorized) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
