//! `ApiError`: every failure of the API as `{"error": "..."}` with the right
//! status — 400 for a user's mistake (naming the parameter), 401 without the
//! token, 404 for nothing there, 503 when the store fails (cause logged,
//! not shown).

use axum::Json;
use axum::http::StatusCode;
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
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Unavailable(cause) => {
                tracing::error!("API: store unavailable: {cause}");
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}
