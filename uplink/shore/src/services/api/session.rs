//! Signing in on the fleet page. `POST /api/v1/session` (public) takes
//! `{"name", "password"}` as JSON and sets the session cookie (`HttpOnly`,
//! `SameSite=Strict`, `Path=/`, `Secure` behind TLS); its answer carries
//! the session's CSRF token, which the page sends back in
//! `X-Seaframe-CSRF` on every change. `GET` says who is signed in (and
//! the CSRF token again, for a page reloaded); `DELETE` signs out.
//!
//! Failed sign-ins are counted (`seaframe_shore_sign_ins_total`) and slow
//! the name and the address down ([`crate::base::auth::throttle`]).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Extension, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::base::auth::credential::{MAX_PASSWORD_BYTES, csrf_for};
use crate::base::when::rfc3339_ns;
use crate::services::api::ApiState;
use crate::services::api::guard::same_origin;
use crate::services::auth::accounts::{self, AccountError};
use crate::services::auth::{Principal, Via};
use crate::services::metrics::SignIn;
use seaframe_http::ApiError;

#[derive(Deserialize)]
struct SignInBody {
    name: String,
    password: String,
}

impl std::fmt::Debug for SignInBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInBody")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Maps an account failure to the API's answer.
pub(super) fn account_error(e: AccountError) -> ApiError {
    match e {
        AccountError::Invalid(m) => ApiError::BadRequest(m),
        AccountError::Exists(_) => ApiError::Conflict(e.to_string()),
        AccountError::NotFound(_) => ApiError::NotFound(e.to_string()),
        AccountError::Index(e) => ApiError::index(e),
        e @ (AccountError::Credential(_) | AccountError::Blocking(_)) => ApiError::Unavailable {
            what: "sign-in",
            cause: e.to_string(),
        },
    }
}

/// Whether the request came over TLS (as a proxy in front says).
fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

fn cookie(value: &str, max_age_s: u64, secure: bool) -> Result<HeaderValue, ApiError> {
    seaframe_http::set_session_cookie(value, max_age_s, secure).map_err(|e| ApiError::Unavailable {
        what: "sign-in",
        cause: e.to_string(),
    })
}

/// `POST /api/v1/session`.
pub async fn sign_in(
    State(state): State<ApiState>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    // A form on another site cannot send JSON without asking first (CORS),
    // and a browser says where it comes from.
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    if !json {
        return Err(ApiError::bad("Content-Type", "must be application/json"));
    }
    same_origin(&headers)?;
    let body: SignInBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad("body", format!("{{\"name\", \"password\"}}: {e}")))?;
    if body.name.len() > 64 || body.password.len() > MAX_PASSWORD_BYTES {
        return Err(ApiError::bad("body", "name or password too long"));
    }
    let ip = connect.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.0.ip());
    let throttle = &state.auth.throttle;
    if let Some(wait) = throttle.wait(&body.name, ip, Instant::now()) {
        state.metrics.count_sign_in(SignIn::Throttled);
        tracing::warn!(name = %body.name, %ip, wait_s = wait.as_secs_f64(), "sign-in refused: too many failures");
        return Err(ApiError::TooManyRequests(wait.as_secs().max(1)));
    }
    let account = accounts::check(&*state.index, &body.name, &body.password)
        .await
        .map_err(account_error)?;
    let Some(account) = account else {
        throttle.failed(&body.name, ip, Instant::now());
        state.metrics.count_sign_in(SignIn::Failed);
        tracing::warn!(name = %body.name, %ip, "sign-in failed");
        return Err(ApiError::SignInFailed("wrong name or password"));
    };
    throttle.succeeded(&body.name, ip);
    let ttl_s = state.auth.config.session_ttl_s;
    let (secret, expires_at_ns) = accounts::open_session(&*state.index, &account.name, ttl_s)
        .await
        .map_err(account_error)?;
    state.metrics.count_sign_in(SignIn::Ok);
    tracing::info!(name = %account.name, role = %account.role, %ip, "signed in");
    let secure = state.auth.config.secure_cookie || over_tls(&headers);
    let answer = json!({
        "name": account.name,
        "role": account.role.as_str(),
        "csrf": csrf_for(&secret),
        "expires_at": rfc3339_ns(expires_at_ns),
    });
    let mut response = (StatusCode::OK, Json(answer)).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie(&secret, ttl_s, secure)?);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `GET /api/v1/session`: who is asking.
pub async fn whoami(Extension(p): Extension<Principal>) -> Json<Value> {
    let mut answer = json!({ "name": p.name, "role": p.role.as_str() });
    answer["via"] = match &p.via {
        Via::Token => "token".into(),
        Via::BreakGlass => "api.token".into(),
        Via::Session {
            csrf,
            expires_at_ns,
            ..
        } => {
            answer["csrf"] = csrf.as_str().into();
            answer["expires_at"] = rfc3339_ns(*expires_at_ns).into();
            "session".into()
        }
    };
    Json(answer)
}

/// `DELETE /api/v1/session`: signs out (the session ends for every
/// instance) and clears the cookie.
pub async fn sign_out(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Via::Session { hash, .. } = &p.via {
        state
            .index
            .remove_session(hash)
            .await
            .map_err(ApiError::index)?;
        tracing::info!(name = %p.name, "signed out");
    }
    let secure = state.auth.config.secure_cookie || over_tls(&headers);
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie("", 0, secure)?);
    Ok(response)
}
