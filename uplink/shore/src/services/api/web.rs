//! The fleet page: `/` and `/assets/<file>`, plain HTML, CSS and ES modules
//! from `uplink/shore/web/`, embedded in the binary (no CDN, no runtime
//! download: ships and many offices have no Internet). The page uses the
//! public API only (`/api/v1/…`, live changes from `/api/v1/events`).
//! These files are public (routed in [`crate::services::api`]'s public group): they
//! hold no data, and the page shows a sign-in form and loads nothing else
//! until it is signed in.
//!
//! Each file's ETag is a hash of its bytes taken at compile time; responses
//! say `Cache-Control: no-cache`, so a browser revalidates and gets a 304
//! until the binary changes.

use axum::extract::Path;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use seaframe_http::asset;
use seaframe_http::assets::{self, Asset};

use seaframe_http::ApiError;

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the page.
pub static ASSETS: &[Asset] = &[
    asset!(
        "index.html",
        include_bytes!("../../../web/index.html"),
        "text/html; charset=utf-8"
    ),
    asset!(
        "style.css",
        include_bytes!("../../../web/style.css"),
        "text/css; charset=utf-8"
    ),
    asset!("app.js", include_bytes!("../../../web/app.js"), JS),
    asset!("api.js", include_bytes!("../../../web/api.js"), JS),
    asset!("events.js", include_bytes!("../../../web/events.js"), JS),
    asset!("fleet.js", include_bytes!("../../../web/fleet.js"), JS),
    asset!("health.js", include_bytes!("../../../web/health.js"), JS),
    asset!("plot.js", include_bytes!("../../../web/plot.js"), JS),
    asset!("land.js", include_bytes!("../../../web/land.js"), JS),
    asset!(
        "land.json",
        include_bytes!("../../../web/land.json"),
        "application/json"
    ),
    asset!(
        "timeline.js",
        include_bytes!("../../../web/timeline.js"),
        JS
    ),
    asset!("vessel.js", include_bytes!("../../../web/vessel.js"), JS),
    asset!("config.js", include_bytes!("../../../web/config.js"), JS),
    asset!("time.js", include_bytes!("../../../web/time.js"), JS),
    asset!(
        "favicon.svg",
        include_bytes!("../../../web/favicon.svg"),
        "image/svg+xml"
    ),
];

/// The page may load only from this shore.
fn serve(asset: &Asset, headers: &HeaderMap) -> Response {
    assets::serve(asset, headers, &assets::page_csp(&[]))
}

fn find(name: &str) -> Option<&'static Asset> {
    assets::find(ASSETS, name)
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
    fn asset_names_are_unique() {
        let mut names: Vec<_> = ASSETS.iter().map(|a| a.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ASSETS.len());
    }
}
