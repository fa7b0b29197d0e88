//! CORS for an integrator's own page: the origins of `api.cors_origins`
//! get `Access-Control-Allow-Origin` (and a preflight answer); any other
//! origin, and every origin when the list is empty, gets no CORS header.
//! Credentials (cookies) are not shared across origins: such a page sends
//! the bearer token. The list is checked with
//! [`seaframe_http::check_origin`] when the config is validated.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::services::api::ApiState;

/// The request's `Origin`, if it is one of `origins`.
fn allowed_origin<'h>(origins: &[String], headers: &'h HeaderMap) -> Option<&'h HeaderValue> {
    let origin = headers.get(header::ORIGIN)?;
    let text = origin.to_str().ok()?;
    origins.iter().any(|o| o == text).then_some(origin)
}

/// Whether the request comes from a configured origin.
pub fn allowed(origins: &[String], headers: &HeaderMap) -> bool {
    allowed_origin(origins, headers).is_some()
}

/// The outermost layer: answers a preflight from a configured origin, and
/// marks the answers to it.
pub async fn layer(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    let Some(origin) = allowed_origin(&state.cors, req.headers()).cloned() else {
        return next.run(req).await;
    };
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = if preflight {
        let mut r = StatusCode::NO_CONTENT.into_response();
        let h = r.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, DELETE"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        r
    } else {
        next.run(req).await
    };
    let h = response.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    response
}
