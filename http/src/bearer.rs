//! The bearer-token check (`Authorization: Bearer <token>`, RFC 6750).

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

use crate::Secret;

/// Whether `headers` carry `Authorization: Bearer <token>` with our
/// `token`. The comparison takes a time that depends only on the length of
/// ours, so neither the bytes nor the length of the token can be found by
/// timing.
pub fn bearer_matches(headers: &HeaderMap, token: &Secret) -> bool {
    token_matches(bearer_token(headers).unwrap_or(""), token)
}

/// Whether `given` is our `token`, compared in a time that depends only on
/// the length of ours (for a token that arrives another way than the
/// header, such as a sign-in form).
pub fn token_matches(given: &str, token: &Secret) -> bool {
    same(given.as_bytes(), token.expose().as_bytes())
}

/// The token of `Authorization: Bearer <token>`, if the headers carry one.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer)
}

/// Compares a given token with ours in a time that depends only on the
/// length of ours.
fn same(given: &[u8], token: &[u8]) -> bool {
    let mut diff = u8::from(given.len() != token.len());
    for (i, t) in token.iter().enumerate() {
        diff |= t ^ given.get(i).copied().unwrap_or(0);
    }
    std::hint::black_box(diff) == 0
}

/// The token of an `Authorization: Bearer <token>` value; the scheme is
/// case-insensitive (RFC 9110 §11.1).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_matches(' '))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn tokens_match_only_whole() {
        assert!(same(b"s3cret", b"s3cret"));
        for given in [&b""[..], b"s3cre", b"s3crett", b"s3creT", b"s3cret\0"] {
            assert!(!same(given, b"s3cret"), "{given:?}");
        }
    }

    #[test]
    fn the_bearer_scheme_is_any_case() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc"), Some("abc"));
        assert_eq!(bearer("BEARER abc"), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer"), None);
        assert_eq!(bearer("Bearerabc"), None);
    }

    #[test]
    fn headers_are_checked_against_the_token() {
        let token = Secret::new("s3cret");
        let mut headers = HeaderMap::new();
        assert!(!bearer_matches(&headers, &token), "no header");
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer s3cret"));
        assert!(bearer_matches(&headers, &token));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Basic s3cret"));
        assert!(!bearer_matches(&headers, &token));
    }
}
