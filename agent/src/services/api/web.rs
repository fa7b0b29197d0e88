//! The crew page: `/` and `/assets/<file>`, plain HTML, CSS and ES modules
//! from `agent/web/`, embedded in the binary (no CDN: a ship has no
//! Internet). The files hold no data, so they are public; the page asks
//! for sign-in before it loads anything else when `api.token` is set.
//!
//! Each file's ETag is a hash of its bytes taken at compile time; answers
//! say `Cache-Control: no-cache`, so a browser revalidates and gets a 304.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use seaframe_http::asset;
use seaframe_http::assets::{self, Asset};

use crate::services::api::ApiState;
use seaframe_http::ApiError;

const JS: &str = "text/javascript; charset=utf-8";

static ASSETS: &[Asset] = &[
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
    asset!("live.js", include_bytes!("../../../web/live.js"), JS),
    asset!(
        "timeline.js",
        include_bytes!("../../../web/timeline.js"),
        JS
    ),
    asset!("places.js", include_bytes!("../../../web/places.js"), JS),
    asset!("status.js", include_bytes!("../../../web/status.js"), JS),
];

/// The page may load only from this agent (and its images from the tile
/// server of `api.map_tiles`).
fn serve(state: &ApiState, asset: &Asset, headers: &HeaderMap) -> Response {
    assets::serve(asset, headers, &state.csp)
}

fn find(name: &str) -> Option<&'static Asset> {
    assets::find(ASSETS, name)
}

/// `/`: the page shell.
pub async fn index(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    match find("index.html") {
        Some(a) => serve(&state, a, &headers),
        None => ApiError::NotFound("the page is not built in".into()).into_response(),
    }
}

/// `/assets/<file>`: only names in the table, so nothing from the request
/// reaches a path.
pub async fn asset(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    match find(&name).filter(|a| a.name != "index.html") {
        Some(a) => serve(&state, a, &headers),
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
