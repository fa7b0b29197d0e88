//! [`QueryParams`]: the query string as a map, read without axum's
//! plain-text rejections, so that each value is parsed by the service with
//! an error that names its parameter.

use std::collections::HashMap;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

pub type Params = HashMap<String, String>;

/// The query string as a map. A parameter given empty (`?camera=&from=`, as
/// a form with blank fields sends it) counts as not given; of a repeated
/// one the last wins. Values are percent-decoded, invalid UTF-8 replaced
/// (the value then fails its own parsing, by name).
#[derive(Debug, Clone, Default)]
pub struct QueryParams(pub Params);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        Ok(Self(
            url::form_urlencoded::parse(query.as_bytes())
                .filter(|(_, v)| !v.trim().is_empty())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::Request;

    use super::*;

    #[tokio::test]
    async fn blanks_are_not_given_and_the_last_repeat_wins() {
        let req = Request::get("/x?camera=&from=2026&to=1&to=2&name=a%20b")
            .body(())
            .expect("a request");
        let (mut parts, ()) = req.into_parts();
        let QueryParams(p) = QueryParams::from_request_parts(&mut parts, &())
            .await
            .expect("infallible");
        assert_eq!(p.get("camera"), None);
        assert_eq!(p.get("from").map(String::as_str), Some("2026"));
        assert_eq!(p.get("to").map(String::as_str), Some("2"));
        assert_eq!(p.get("name").map(String::as_str), Some("a b"));
    }
}
