//! [`check_origin`]: whether a configured origin is written as a browser
//! writes `Origin` (for lists of allowed origins, such as CORS).

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
