//! [`check_origin`]: whether a configured origin is written as a browser
//! writes `Origin` (for lists of allowed origins, such as CORS);
//! [`tile_origin`]: the origin of a map-tile URL template.

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
