//! Thumbnails: by vessel (`/vessels/{v}/thumbs`), fleet-wide by place and
//! time (`/thumbs`), one (`/thumbs/{id}`) and its JPEG (`/thumbs/{id}/image`,
//! typed by what its bytes are, never sniffed).
//! Lists are oldest first with a stable cursor (`(captured_at_ns, id)`).

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::adapters::blobs::BlobName;
use crate::adapters::index::{ThumbQuery, ThumbRow};
use crate::services::api::ApiState;
use crate::services::api::params::{self, QueryParams, ThumbId, VesselPath};
use crate::services::views::ThumbView;
use seaframe_http::ApiError;

async fn list(state: &ApiState, query: ThumbQuery) -> Result<Json<Value>, ApiError> {
    let page = state.index.thumbs(&query).await.map_err(ApiError::index)?;
    Ok(Json(json!({
        "thumbs": page.rows.iter().map(ThumbView::from).collect::<Vec<_>>(),
        "next_cursor": page.next.map(params::encode_cursor),
    })))
}

pub async fn by_vessel(
    State(state): State<ApiState>,
    VesselPath(vessel): VesselPath,
    QueryParams(p): QueryParams,
) -> Result<Json<Value>, ApiError> {
    let (from_ns, to_ns) = params::range(&p)?;
    let query = ThumbQuery {
        vessel: Some(vessel.clone()),
        camera: params::camera(&p)?,
        from_ns,
        to_ns,
        place: params::place(&p)?,
        after: params::cursor(&p)?,
        limit: params::limit(&p)?,
    };
    if !state
        .index
        .vessel_known(&vessel)
        .await
        .map_err(ApiError::index)?
    {
        return Err(ApiError::NotFound(format!(
            "vessel: no vessel named {vessel}"
        )));
    }
    list(&state, query).await
}

pub async fn search(
    State(state): State<ApiState>,
    QueryParams(p): QueryParams,
) -> Result<Json<Value>, ApiError> {
    let (from_ns, to_ns) = params::range(&p)?;
    let vessel = p
        .get("vessel")
        .map(|s| {
            seaframe_wire::VesselName::parse(s)
                .map_err(|e| ApiError::bad("vessel", format!("{s:?} {e}")))
        })
        .transpose()?;
    let query = ThumbQuery {
        vessel,
        camera: params::camera(&p)?,
        from_ns,
        to_ns,
        place: params::place(&p)?,
        after: params::cursor(&p)?,
        limit: params::limit(&p)?,
    };
    list(&state, query).await
}

async fn find(state: &ApiState, id: i64) -> Result<ThumbRow, ApiError> {
    state
        .index
        .thumb(id)
        .await
        .map_err(ApiError::index)?
        .ok_or_else(|| ApiError::NotFound(format!("id: no thumbnail {id}")))
}

pub async fn one(
    State(state): State<ApiState>,
    ThumbId(id): ThumbId,
) -> Result<Json<ThumbView>, ApiError> {
    Ok(Json(ThumbView::from(&find(&state, id).await?)))
}

pub async fn image(
    State(state): State<ApiState>,
    ThumbId(id): ThumbId,
) -> Result<Response, ApiError> {
    let t = find(&state, id).await?;
    let name = BlobName {
        vessel: t.vessel,
        camera: t.camera,
        captured_at_ns: t.captured_at_ns,
    };
    let jpeg = state
        .blobs
        .read(&name)
        .await
        .map_err(|e| ApiError::Unavailable {
            what: "the thumbnail store",
            cause: e.to_string(),
        })?;
    Ok((
        [
            (header::CONTENT_TYPE, served_type(&jpeg)),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        jpeg,
    )
        .into_response())
}

/// `image/jpeg` only for bytes that are a whole JPEG. Ingest refuses
/// anything else now, but an older shore stored what started with FF D8:
/// such bytes go out as an opaque download that no browser renders or
/// sniffs (with `nosniff`) into HTML or script.
fn served_type(bytes: &[u8]) -> &'static str {
    match seaframe_wire::jpeg::inspect(bytes) {
        Ok(_) => "image/jpeg",
        Err(_) => "application/octet-stream",
    }
}
