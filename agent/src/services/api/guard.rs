//! Who may call the API: with `api.token` set, a request needs the bearer
//! token or a session cookie from signing in; a change (any method but
//! GET/HEAD/OPTIONS) authenticated by cookie must also come from this
//! agent's own page (its `Origin`), against cross-site request forgery.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use seaframe_http::{bearer_matches, origin_is_host};

use crate::services::api::ApiState;
use seaframe_http::ApiError;

pub use seaframe_http::session_cookie;

fn has_session(state: &ApiState, headers: &HeaderMap) -> bool {
    session_cookie(headers).is_some_and(|id| state.sessions.valid(id, Instant::now()))
}

/// Whether the request may read the API: no token configured, the bearer
/// token, or an open session.
pub fn authorized(state: &ApiState, headers: &HeaderMap) -> bool {
    match &state.token {
        None => true,
        Some(token) => bearer_matches(headers, token) || has_session(state, headers),
    }
}

/// Refuses a request whose `Origin` names another host than the one it
/// was sent to. No `Origin`: not a cross-origin browser request.
pub fn same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    match origin_is_host(headers) {
        None | Some(true) => Ok(()),
        Some(false) => Err(ApiError::Forbidden(
            "the request's Origin is not this agent".into(),
        )),
    }
}

/// The middleware on every route but `/healthz`, the page and sign-in.
pub async fn require_token(
    State(state): State<ApiState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let headers = req.headers();
    let change = !req.method().is_safe();
    if let Some(token) = &state.token
        && !bearer_matches(headers, token)
    {
        if !has_session(&state, headers) {
            return Err(ApiError::Unauthorized);
        }
        // A cookie rides along with any request the browser makes: a
        // change must say it comes from our own page.
        if change && origin_is_host(headers) != Some(true) {
            return Err(ApiError::Forbidden(
                "a change signed in by cookie must come from this agent's page (Origin)".into(),
            ));
        }
    }
    // A page elsewhere may change things only if it is a configured origin.
    if change
        && origin_is_host(headers) == Some(false)
        && !super::cors::allowed(&state.cors, headers)
    {
        return Err(ApiError::Forbidden(
            "the request's Origin is not this agent nor in api.cors_origins".into(),
        ));
    }
    Ok(next.run(req).await)
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderValue, header};

    use super::*;

    #[test]
    fn a_change_from_another_origin_is_refused() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("10.0.0.5:8780"));
        assert!(same_origin(&h).is_ok(), "no Origin");
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://10.0.0.5:8780"),
        );
        assert!(same_origin(&h).is_ok());
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(same_origin(&h).is_err());
    }
}
