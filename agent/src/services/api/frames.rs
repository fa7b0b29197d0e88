//! `/api/v1/frames`: listing by camera and time (paginated), one frame's
//! metadata, and its JPEG streamed from disk.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::adapters::store::{FrameQuery, FrameRow};
use crate::services::api::ApiState;
use crate::services::api::params::{self, FrameId, QueryParams};
use crate::services::api::store_call::{FRAME_STORE, blocking, frame_json};
use seaframe_http::ApiError;

pub async fn list(
    State(state): State<ApiState>,
    QueryParams(p): QueryParams,
) -> Result<Json<Value>, ApiError> {
    if let Some(place) = super::places::place(&p)? {
        return super::places::list(&state, &p, place).await;
    }
    let camera = params::camera(&p)?;
    let (from, to) = params::range(&p)?;
    let query = FrameQuery {
        camera,
        from,
        to,
        limit: params::limit(&p)?,
        after: params::cursor(&p)?,
    };
    let page = blocking(&state.store, move |s| s.query(&query)).await?;
    Ok(Json(json!({
        "frames": page.frames.iter().map(frame_json).collect::<Vec<_>>(),
        "next_cursor": page.next.map(|c| c.encode()),
    })))
}

async fn row(state: &ApiState, FrameId(id): FrameId) -> Result<FrameRow, ApiError> {
    blocking(&state.store, move |s| s.frame(id))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no frame {id}")))
}

pub async fn one(State(state): State<ApiState>, id: FrameId) -> Result<Json<Value>, ApiError> {
    Ok(Json(frame_json(&row(&state, id).await?)))
}

pub async fn image(State(state): State<ApiState>, id: FrameId) -> Result<Response, ApiError> {
    let row = row(&state, id).await?;
    let path = state.store.file_path(&row);
    let file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ApiError::NotFound(format!(
                "frame {}'s file is missing",
                row.id
            )));
        }
        Err(e) => {
            return Err(ApiError::unavailable(
                FRAME_STORE,
                format!("{}: {e}", path.display()),
            ));
        }
    };
    // The file's own length, not the row's: a wrong Content-Length would
    // cut the body or hang the client.
    let len = file
        .metadata()
        .await
        .map_err(|e| ApiError::unavailable(FRAME_STORE, format!("{}: {e}", path.display())))?
        .len();
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg".to_owned()),
            (header::CONTENT_LENGTH, len.to_string()),
        ],
        body,
    )
        .into_response())
}

/// `DELETE /api/v1/frames?camera=&before=`: a manual purge (files and rows
/// together, through the garbage step). `before` is required; `camera`
/// optional (all cameras).
pub async fn purge(
    State(state): State<ApiState>,
    QueryParams(p): QueryParams,
) -> Result<Json<Value>, ApiError> {
    let camera = params::camera(&p)?;
    let before =
        params::time(&p, "before")?.ok_or_else(|| ApiError::bad("before", "is required"))?;
    let deleted = blocking(&state.store, move |s| s.purge(camera.as_ref(), before)).await?;
    tracing::info!(deleted, before = %before, "frames purged on request");
    Ok(Json(json!({ "deleted": deleted })))
}
