//! `/api/v1/video?camera=&from=&to=&fps=`: an MP4 (H.264) of the range,
//! streamed as ffmpeg encodes it; a client that hangs up stops ffmpeg.

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use crate::adapters::video::{Video, VideoError, VideoRequest};
use crate::services::api::ApiState;
use crate::services::api::params::{self, QueryParams};
use seaframe_http::ApiError;

pub async fn get(
    State(state): State<ApiState>,
    QueryParams(p): QueryParams,
) -> Result<Response, ApiError> {
    let camera = params::camera(&p)?.ok_or_else(|| ApiError::bad("camera", "is required"))?;
    let from = params::time(&p, "from")?.ok_or_else(|| ApiError::bad("from", "is required"))?;
    let to = params::time(&p, "to")?.ok_or_else(|| ApiError::bad("to", "is required"))?;
    if from >= to {
        return Err(ApiError::bad("from", "must be before to"));
    }
    let fps = match p.get("fps") {
        None => None,
        Some(s) => Some(
            s.parse::<u32>()
                .ok()
                .filter(|f| (1..=120).contains(f))
                .ok_or_else(|| {
                    ApiError::bad("fps", format!("{s:?} is not a whole number from 1 to 120"))
                })?,
        ),
    };
    let req = VideoRequest {
        camera,
        from,
        to,
        fps,
    };
    let asked = req.clone();
    if !super::store_call::blocking(&state.store, move |s| asked.has_frames(s)).await? {
        return Err(ApiError::NotFound(format!(
            "no frames of camera {} from {} to {}",
            req.camera,
            req.from.to_rfc3339(),
            req.to.to_rfc3339()
        )));
    }
    let (video, stdout) = Video::start(state.store.clone(), req).map_err(|e| match e {
        VideoError::NoFfmpeg | VideoError::Spawn(_) => ApiError::unavailable("video export", e),
    })?;
    // The encoder lives as long as the body: a hang-up drops both.
    let body = tokio_util::io::ReaderStream::new(stdout).map(move |chunk| {
        let _keep = &video;
        chunk
    });
    Ok((
        [(header::CONTENT_TYPE, "video/mp4")],
        Body::from_stream(body),
    )
        .into_response())
}
