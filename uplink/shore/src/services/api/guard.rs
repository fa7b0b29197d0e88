//! The guard in front of every route but the public ones (`/healthz`, the
//! page shell, sign-in): it finds who is asking — an API token, the
//! deprecated `[api] token`, or a session cookie — refuses with 401 when
//! nobody is, with 403 when their role is below the route's, and with 403
//! when a cookie-authenticated request that changes something lacks the
//! session's CSRF token (or comes from another origin). Bearer requests
//! need no CSRF token: a browser never adds one by itself. What it found
//! goes into the request's extensions as a [`Principal`].

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use seaframe_http::bearer_token;

use crate::base::auth::credential::{csrf_for, hash_secret, same};
use crate::base::auth::role::Role;
use crate::base::when::now_ns;
use crate::services::api::ApiState;
use crate::services::auth::{CSRF_HEADER, Principal, Via};
use seaframe_http::ApiError;
pub use seaframe_http::session_cookie;

/// The name the deprecated `[api] token` acts under.
pub const BREAK_GLASS_NAME: &str = "api.token";

/// Middleware: lets the request through when its principal has `role` at
/// least.
pub async fn require(
    State((state, role)): State<(ApiState, Role)>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let checked = match authenticate(&state, req.headers()).await {
        Ok(p) => check(&p, role, req.method(), req.headers()).map(|()| p),
        Err(e) => Err(e),
    };
    match checked {
        Ok(principal) => {
            req.extensions_mut().insert(principal);
            Ok(next.run(req).await)
        }
        Err(e) => {
            state
                .metrics
                .count_refused(matches!(e, ApiError::Forbidden(_)));
            Err(e)
        }
    }
}

/// Who sent `headers`: the bearer token when there is an `Authorization`
/// header (and then only it), else the session cookie.
pub async fn authenticate(state: &ApiState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    if headers.contains_key(header::AUTHORIZATION) {
        let token = bearer_token(headers).ok_or(ApiError::Unauthorized)?;
        if let Some(glass) = &state.auth.break_glass
            && same(token, glass.expose())
        {
            return Ok(Principal {
                name: BREAK_GLASS_NAME.into(),
                role: Role::Operator,
                via: Via::BreakGlass,
            });
        }
        let account = state
            .index
            .token_account(&hash_secret(token))
            .await
            .map_err(ApiError::index)?
            .ok_or(ApiError::Unauthorized)?;
        return Ok(Principal {
            name: account.name,
            role: account.role,
            via: Via::Token,
        });
    }
    let secret = session_cookie(headers).ok_or(ApiError::Unauthorized)?;
    let hash = hash_secret(secret);
    let (account, expires_at_ns) = state
        .index
        .session_account(&hash, now_ns())
        .await
        .map_err(ApiError::index)?
        .ok_or(ApiError::Unauthorized)?;
    Ok(Principal {
        name: account.name,
        role: account.role,
        via: Via::Session {
            hash,
            csrf: csrf_for(secret),
            expires_at_ns,
        },
    })
}

/// Whether `p` may make this request: its role, and for a cookie session
/// that changes something, the CSRF token and the origin.
fn check(p: &Principal, role: Role, method: &Method, headers: &HeaderMap) -> Result<(), ApiError> {
    if let Via::Session { csrf, .. } = &p.via
        && !is_safe(method)
    {
        same_origin(headers)?;
        let given = headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !same(given, csrf) {
            return Err(ApiError::Forbidden(format!(
                "a change made with the session cookie needs the {CSRF_HEADER} header \
                 (the csrf of the sign-in answer)"
            )));
        }
    }
    if p.role < role {
        return Err(ApiError::Forbidden(format!(
            "this needs the {role} role; {} is {}",
            p.name, p.role
        )));
    }
    Ok(())
}

/// Methods that change nothing (RFC 9110 §9.2.1).
fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Refuses a request whose `Origin` names another host than the one it
/// was sent to (a page elsewhere posting to the shore). No `Origin`:
/// not a cross-origin browser request.
pub fn same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    match seaframe_http::origin_is_host(headers) {
        None | Some(true) => Ok(()),
        Some(false) => Err(ApiError::Forbidden(
            "the request's Origin is not this shore".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn origins_must_be_this_host() {
        let mut h = HeaderMap::new();
        assert!(same_origin(&h).is_ok(), "no Origin");
        h.insert(header::HOST, HeaderValue::from_static("shore:8781"));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://shore:8781"),
        );
        assert!(same_origin(&h).is_ok());
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(same_origin(&h).is_err());
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(same_origin(&h).is_err());
    }

    #[test]
    fn a_session_change_needs_the_csrf_token_and_the_role() {
        let p = Principal {
            name: "v".into(),
            role: Role::Operator,
            via: Via::Session {
                hash: "h".into(),
                csrf: "good".into(),
                expires_at_ns: 0,
            },
        };
        let mut h = HeaderMap::new();
        assert!(check(&p, Role::Viewer, &Method::GET, &h).is_ok());
        assert!(check(&p, Role::Operator, &Method::PUT, &h).is_err());
        h.insert(CSRF_HEADER, HeaderValue::from_static("bad"));
        assert!(check(&p, Role::Operator, &Method::PUT, &h).is_err());
        h.insert(CSRF_HEADER, HeaderValue::from_static("good"));
        assert!(check(&p, Role::Operator, &Method::PUT, &h).is_ok());
        assert!(check(&p, Role::Admin, &Method::GET, &h).is_err());
        let token = Principal {
            via: Via::Token,
            ..p
        };
        assert!(check(&token, Role::Operator, &Method::PUT, &HeaderMap::new()).is_ok());
    }
}
