//! [`check_origin`]: whether a configured origin is written as a browser
//! writes `Origin` (for lists of allowed origins, such as CORS);
//! [`tile_origin`]: the origin of a map-tile URL template;
//! [`origin_is_host`]: whether a request comes from the page it was sent
//! to (the pages' guard against cross-site request forgery).

use axum::http::{HeaderMap, header};

/// Checks an origin: `http` or `https`, a host, an optional port, nothing
/// else, in the form a browser sends (lower case, no default port).
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

/// The origin (`scheme://host[:port]`) of an XYZ map-tile URL template
/// such as `https://tiles.example.org/{z}/{x}/{y}.png`: `http` or `https`,
/// `{z}`, `{x}` and `{y}` each present, no credentials (the template
/// reaches the browser; a key in the query string is the tile server's
/// usual way).
pub fn tile_origin(template: &str) -> Result<String, &'static str> {
    for part in ["{z}", "{x}", "{y}"] {
        if !template.contains(part) {
            return Err("must hold {z}, {x} and {y}");
        }
    }
    let sample = template
        .replace("{z}", "0")
        .replace("{x}", "0")
        .replace("{y}", "0");
    let u = url::Url::parse(&sample).map_err(|_| "not a URL")?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err("the scheme must be http or https");
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err("must not hold a user or password (the browser sees it)");
    }
    if sample.contains(['{', '}']) || u.host_str().is_none_or(str::is_empty) {
        return Err("only {z}, {x} and {y} may be placeholders, and a host is needed");
    }
    Ok(u.origin().ascii_serialization())
}

/// `host[:port]` of an `Origin` value, as a `Host` header writes it.
fn origin_host(origin: &str) -> Option<String> {
    let u = url::Url::parse(origin).ok()?;
    let host = u.host_str()?;
    Some(match u.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    })
}

/// Whether the request's `Origin` names the host it was sent to (`Host`);
/// `None` when it has no `Origin` (not a cross-origin browser request).
pub fn origin_is_host(headers: &HeaderMap) -> Option<bool> {
    let origin = headers.get(header::ORIGIN)?.to_str().ok();
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    Some(match (origin.and_then(origin_host), host) {
        (Some(o), Some(h)) => o.eq_ignore_ascii_case(h),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn origins_are_compared_with_the_host() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("10.0.0.5:8780"));
        assert_eq!(origin_is_host(&h), None);
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://10.0.0.5:8780"),
        );
        assert_eq!(origin_is_host(&h), Some(true));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://10.0.0.5:9000"),
        );
        assert_eq!(origin_is_host(&h), Some(false));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert_eq!(origin_is_host(&h), Some(false));
    }

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

    #[test]
    fn tile_templates_give_their_origin() {
        assert_eq!(
            tile_origin("https://Tiles.example.org/{z}/{x}/{y}.png?key=k").as_deref(),
            Ok("https://tiles.example.org")
        );
        assert_eq!(
            tile_origin("http://10.0.0.9:8080/osm/{z}/{x}/{y}.png").as_deref(),
            Ok("http://10.0.0.9:8080")
        );
        for bad in [
            "",
            "https://tiles.example.org/{z}/{x}.png",
            "ftp://tiles.example.org/{z}/{x}/{y}.png",
            "https://user:pw@tiles.example.org/{z}/{x}/{y}.png",
            "https://tiles.example.org/{z}/{x}/{y}/{s}.png",
            "/{z}/{x}/{y}.png",
        ] {
            assert!(tile_origin(bad).is_err(), "{bad:?}");
        }
    }
}
