//! Signing in on the crew page: `POST /api/v1/session` exchanges the API
//! token for a session cookie (`HttpOnly`, `SameSite=Strict`), so that
//! `<img>` and `<video>` load without custom headers; `GET` says whether
//! sign-in is needed and done; `DELETE` signs out.
//!
//! Session ids are 32 random bytes; only their SHA-256 is kept, in memory
//! (a restart signs everyone out), compared in constant time, each with an
//! expiry. Neither the token nor an id is ever logged or echoed.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest as _, Sha256};

use crate::services::api::ApiState;
use crate::services::api::guard::{authorized, same_origin, session_cookie};
use seaframe_http::ApiError;

/// Sessions kept at most; beyond, the one closest to its expiry goes.
const MAX_SESSIONS: usize = 64;

/// The longest token a sign-in may send.
const MAX_TOKEN_BYTES: usize = 1024;

/// The open sessions: SHA-256 of each id, and when it expires.
#[derive(Debug)]
pub struct Sessions {
    ttl: Duration,
    open: Mutex<Vec<([u8; 32], Instant)>>,
}

fn digest(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

/// Equal in a time that does not depend on where they differ.
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y));
    std::hint::black_box(diff) == 0
}

impl Sessions {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            open: Mutex::new(Vec::new()),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<([u8; 32], Instant)>> {
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Opens a session; returns its id (for the cookie only).
    pub fn open(&self, now: Instant) -> Result<String, getrandom::Error> {
        let mut raw = [0u8; 32];
        getrandom::fill(&mut raw)?;
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        let mut open = self.lock();
        open.retain(|(_, until)| *until > now);
        if open.len() >= MAX_SESSIONS
            && let Some(i) = open
                .iter()
                .enumerate()
                .min_by_key(|(_, (_, until))| *until)
                .map(|(i, _)| i)
        {
            open.swap_remove(i);
        }
        open.push((digest(&id), now + self.ttl));
        Ok(id)
    }

    /// Whether `id` is an open session at `now`. Every open session is
    /// compared, each in constant time.
    pub fn valid(&self, id: &str, now: Instant) -> bool {
        let given = digest(id);
        let open = self.lock();
        open.iter().fold(false, |hit, (d, until)| {
            hit | (same(d, &given) & (*until > now))
        })
    }

    /// Ends the session `id` (nothing if there is none).
    pub fn close(&self, id: &str) {
        let given = digest(id);
        self.lock().retain(|(d, _)| !same(d, &given));
    }
}

#[derive(Deserialize)]
struct SignIn {
    token: String,
}

/// The agent serves plain HTTP on board (no `Secure`).
fn cookie(value: &str, max_age_s: u64) -> HeaderValue {
    seaframe_http::set_session_cookie(value, max_age_s, false)
        .expect("a base64url id and digits make a valid header")
}

/// `GET /api/v1/session` (no token needed): `{"required", "signed_in"}`.
pub async fn get(State(state): State<ApiState>, headers: HeaderMap) -> Json<serde_json::Value> {
    Json(json!({
        "required": state.token.is_some(),
        "signed_in": authorized(&state, &headers),
    }))
}

/// `POST /api/v1/session` with `{"token": "…"}` as JSON: sets the cookie.
pub async fn sign_in(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    // A form on another site cannot post JSON without asking first (CORS),
    // and a browser says where it comes from.
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    if !json {
        return Err(ApiError::bad("Content-Type", "must be application/json"));
    }
    same_origin(&headers)?;
    let Some(token) = &state.token else {
        return Err(ApiError::bad(
            "token",
            "this agent has no api.token: the API needs no sign-in",
        ));
    };
    let body: SignIn = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad("body", format!("{{\"token\": \"…\"}}: {e}")))?;
    if body.token.len() > MAX_TOKEN_BYTES || !seaframe_http::token_matches(&body.token, token) {
        tracing::warn!("crew page sign-in refused: wrong token");
        return Err(ApiError::SignInFailed("wrong API token"));
    }
    let id = state.sessions.open(Instant::now()).map_err(|e| {
        ApiError::unavailable("sign-in", format!("no randomness for a session id: {e}"))
    })?;
    tracing::info!("crew page signed in");
    let ttl_s = state.sessions.ttl().as_secs();
    let mut response = Json(json!({ "signed_in": true, "expires_in_s": ttl_s })).into_response();
    let h = response.headers_mut();
    h.insert(header::SET_COOKIE, cookie(&id, ttl_s));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `DELETE /api/v1/session`: ends the session and clears the cookie.
pub async fn sign_out(
    State(state): State<ApiState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    same_origin(&headers)?;
    if let Some(id) = session_cookie(&headers) {
        state.sessions.close(id);
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie("", 0));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_valid_until_it_expires_or_closes() {
        let s = Sessions::new(Duration::from_secs(60));
        let t0 = Instant::now();
        let id = s.open(t0).expect("randomness");
        assert!(s.valid(&id, t0));
        assert!(!s.valid("not-an-id", t0));
        assert!(!s.valid(&id, t0 + Duration::from_secs(61)), "expired");
        let other = s.open(t0).expect("randomness");
        assert_ne!(id, other);
        s.close(&other);
        assert!(!s.valid(&other, t0));
        assert!(s.valid(&id, t0), "closing one leaves the others");
    }

    #[test]
    fn the_number_of_sessions_is_bounded() {
        let s = Sessions::new(Duration::from_secs(60));
        let t0 = Instant::now();
        let first = s.open(t0).expect("randomness");
        for _ in 0..MAX_SESSIONS {
            s.open(t0 + Duration::from_secs(1)).expect("randomness");
        }
        assert_eq!(s.lock().len(), MAX_SESSIONS);
        assert!(!s.valid(&first, t0), "the one closest to expiry went");
    }
}
