//! The fleet page: `/` and `/assets/<file>`, plain HTML, CSS and ES modules
//! from `uplink/shore/web/`, embedded in the binary (no CDN, no runtime
//! download: ships and many offices have no Internet). The page uses the
//! public API only (`/api/v1/…`, live changes from `/api/v1/events`).
//! These files are public (routed in [`crate::api`]'s public group): they
//! hold no data, and the page shows a sign-in form and loads nothing else
//! until it is signed in.
//!
//! Each file's ETag is a hash of its bytes taken at compile time; responses
//! say `Cache-Control: no-cache`, so a browser revalidates and gets a 304
//! until the binary changes.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
    pub etag: &'static str,
}

/// FNV-1a, 64 bits: a content hash the compiler can take.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    h
}

/// `"<16 hex digits>"`, quotes included, as an ETag is written.
const fn etag(bytes: &[u8]) -> [u8; 18] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let h = fnv1a(bytes);
    let mut out = [b'"'; 18];
    let mut i = 0;
    while i < 16 {
        out[1 + i] = HEX[((h >> (60 - 4 * i)) & 0xf) as usize];
        i += 1;
    }
    out
}

macro_rules! asset {
    ($name:literal, $type:expr) => {{
        const BODY: &[u8] = include_bytes!(concat!("../../web/", $name));
        const TAG: [u8; 18] = etag(BODY);
        Asset {
            name: $name,
            content_type: $type,
            body: BODY,
            etag: match std::str::from_utf8(&TAG) {
                Ok(s) => s,
                Err(_) => panic!("an ETag is ASCII"),
            },
        }
    }};
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the page.
pub static ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("events.js", JS),
    asset!("fleet.js", JS),
    asset!("health.js", JS),
    asset!("plot.js", JS),
    asset!("land.js", JS),
    asset!("land.json", "application/json"),
    asset!("timeline.js", JS),
    asset!("vessel.js", JS),
    asset!("config.js", JS),
    asset!("time.js", JS),
    asset!("favicon.svg", "image/svg+xml"),
];

/// The page may load only from this shore.
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; \
                   script-src 'self'; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'";

fn serve(asset: &Asset, headers: &HeaderMap) -> Response {
    let tag = HeaderValue::from_static(asset.etag);
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == asset.etag || t.trim() == "*")
        });
    let common = [
        (header::ETAG, tag),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ),
    ];
    if fresh {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        common,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        )],
        asset.body,
    )
        .into_response()
}

fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// `/` and `/index.html`: the page shell.
pub(crate) async fn index(headers: HeaderMap) -> Response {
    match find("index.html") {
        Some(a) => serve(a, &headers),
        None => ApiError::NotFound("the page is not built in".into()).into_response(),
    }
}

/// `/assets/<file>`.
pub(crate) async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    // Only the names in the table: nothing from the request reaches a path.
    match find(&name).filter(|a| a.name != "index.html") {
        Some(a) => serve(a, &headers),
        None => ApiError::NotFound(format!("no such asset: {name}")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_follow_the_content() {
        assert_eq!(&etag(b""), b"\"cbf29ce484222325\"");
        assert_ne!(etag(b"a"), etag(b"b"));
        let mut names: Vec<_> = ASSETS.iter().map(|a| a.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ASSETS.len());
    }
}
