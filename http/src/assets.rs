//! Files embedded in a binary and served as a page's assets: a table built
//! at compile time ([`asset!`]) with content ETags, answered with 304s.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
    pub etag: &'static str,
}

/// `"<16 hex digits>"` of FNV-1a (64 bits) of `bytes`, quotes included, as
/// an ETag is written: a content hash the compiler can take.
pub const fn etag(bytes: &[u8]) -> [u8; 18] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    let mut out = [b'"'; 18];
    let mut i = 0;
    while i < 16 {
        out[1 + i] = HEX[((h >> (60 - 4 * i)) & 0xf) as usize];
        i += 1;
    }
    out
}

/// An [`Asset`] of `name`, its bytes (`include_bytes!` at the caller) and
/// content type, its ETag taken at compile time.
#[macro_export]
macro_rules! asset {
    ($name:literal, $body:expr, $type:expr) => {{
        const BODY: &[u8] = $body;
        const TAG: [u8; 18] = $crate::assets::etag(BODY);
        $crate::assets::Asset {
            name: $name,
            content_type: $type,
            body: BODY,
            etag: match ::std::str::from_utf8(&TAG) {
                Ok(s) => s,
                Err(_) => panic!("an ETag is ASCII"),
            },
        }
    }};
}

/// The asset of `name` in `assets`, if any: only names in the table, so
/// nothing from a request reaches a path.
pub fn find<'a>(assets: &'a [Asset], name: &str) -> Option<&'a Asset> {
    assets.iter().find(|a| a.name == name)
}

/// The pages' content security policy: everything from their own server
/// only, and images also from `image_origins` (a map's tile server).
pub fn page_csp(image_origins: &[&str]) -> HeaderValue {
    let mut img = String::from("'self' data:");
    for origin in image_origins {
        img.push(' ');
        img.push_str(origin);
    }
    let policy = format!(
        "default-src 'self'; img-src {img}; style-src 'self'; script-src 'self'; \
         connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
    );
    // Origins are checked (`check_origin`): printable ASCII.
    HeaderValue::from_str(&policy).unwrap_or_else(|_| page_csp(&[]))
}

/// The asset, or 304 when the request holds its ETag; `no-cache` (a
/// browser revalidates), `nosniff`, and the page's content security policy.
pub fn serve(asset: &Asset, headers: &HeaderMap, csp: &HeaderValue) -> Response {
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == asset.etag || t.trim() == "*")
        });
    let common = [
        (header::ETAG, HeaderValue::from_static(asset.etag)),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (header::CONTENT_SECURITY_POLICY, csp.clone()),
    ];
    if fresh {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    let kind = [(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    )];
    (common, kind, asset.body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_only_the_page_and_the_image_origins() {
        let plain = page_csp(&[]);
        assert!(plain.to_str().unwrap().contains("img-src 'self' data:;"));
        let tiles = page_csp(&["https://tiles.example.org"]);
        assert!(
            tiles
                .to_str()
                .unwrap()
                .contains("img-src 'self' data: https://tiles.example.org;")
        );
        assert_eq!(page_csp(&["bad\norigin"]), plain);
    }

    #[test]
    fn etags_follow_the_content() {
        assert_eq!(&etag(b""), b"\"cbf29ce484222325\"");
        assert_ne!(etag(b"a"), etag(b"b"));
    }
}
