//! CORS for an integrator's own page: the origins of `api.cors_origins`
//! get `Access-Control-Allow-Origin` (and a preflight answer); any other
//! origin, and every origin when the list is empty, gets no CORS header.
//! Credentials (cookies) are not shared across origins: such a page sends
//! the bearer token.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiState;

/// Checks a configured origin: `http` or `https`, a host, an optional
/// port, nothing else (as a browser writes `Origin`).
pub fn check_origin(origin: &str) -> Result<(), &'static str> {
    let u = url::Url::parse(origin).map_err(|_| "not a URL")?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err("the scheme must be http or https");
    }
    if u.origin().ascii_serialization() != origin {
        return Err("must be scheme://host[:port] only, lower case, no path or slash");
    }
    Ok(())
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bare_origins_are_accepted() {
        assert!(check_origin("https://ops.example.com").is_ok());
        assert!(check_origin("http://10.0.0.7:8080").is_ok());
        for bad in [
            "",
            "*",
            "ops.example.com",
            "https://ops.example.com/",
            "https://ops.example.com/page",
            "HTTPS://OPS.example.com",
            "ftp://ops.example.com",
            "http://10.0.0.7:80",
        ] {
            assert!(check_origin(bad).is_err(), "{bad:?}");
        }
    }
}
