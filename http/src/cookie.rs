//! The browser session cookie the agent's crew page and the shore's fleet
//! page both sign in with: its name, how a request's is read, and the
//! `Set-Cookie` that opens or ends one (`HttpOnly`, `SameSite=Strict`,
//! `Path=/`, `Secure` when the page came over TLS). What a session *is*
//! (a token's sign-in in memory, an account's row) stays with each service.

use axum::http::header::{self, InvalidHeaderValue};
use axum::http::{HeaderMap, HeaderValue};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "seaframe_session";

/// The session cookie's value, if the request carries one (among other
/// cookies, in one `Cookie` header or several); an empty one is none.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, value)| *name == SESSION_COOKIE && !value.is_empty())
        .map(|(_, value)| value)
}

/// The `Set-Cookie` value holding `value` for `max_age_s` seconds (an
/// empty value and 0 end the session). Fails only for a value that is no
/// header text, which a service's own random ids never are.
pub fn set_session_cookie(
    value: &str,
    max_age_s: u64,
    secure: bool,
) -> Result<HeaderValue, InvalidHeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        assert_eq!(session_cookie(&h), None);
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; seaframe_session=abc; b=2"),
        );
        assert_eq!(session_cookie(&h), Some("abc"));
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("x=1"));
        h.append(
            header::COOKIE,
            HeaderValue::from_static("seaframe_session=def"),
        );
        assert_eq!(session_cookie(&h), Some("def"));
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("seaframe_session="),
        );
        assert_eq!(session_cookie(&h), None, "empty is none");
    }

    #[test]
    fn the_cookie_set_is_http_only_strict_and_secure_over_tls() {
        let c = set_session_cookie("id", 60, false).unwrap();
        assert_eq!(
            c,
            "seaframe_session=id; Path=/; HttpOnly; SameSite=Strict; Max-Age=60"
        );
        let c = set_session_cookie("", 0, true).unwrap();
        assert!(c.to_str().unwrap().ends_with("Max-Age=0; Secure"));
        assert!(set_session_cookie("a\nb", 1, false).is_err());
    }
}
