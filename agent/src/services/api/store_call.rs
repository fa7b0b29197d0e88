//! What the frame handlers share: a store call run off the async workers,
//! and a frame as the API shows it.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::adapters::store::{FrameRow, Store, StoreError};
use seaframe_http::ApiError;

/// What a failing store is called in a 503 (`{"error": "the frame store is
/// unavailable"}`).
pub const FRAME_STORE: &str = "the frame store";

/// A frame as the API shows it (SPEC "A frame in JSON").
pub fn frame_json(f: &FrameRow) -> Value {
    json!({
        "id": f.id,
        "camera": f.camera,
        "seq": f.seq,
        "ts": f.captured_at.to_rfc3339(),
        "lat": f.lat,
        "lon": f.lon,
        "fix": f.fix,
        "speed_kn": f.speed_kn,
        "course_deg": f.course_deg,
        "heading_deg": f.heading_deg,
        "fix_age_ms": f.fix_age_ms,
        "time_uncertainty_ms": f.time_uncertainty_ms,
        "interpolated": f.interpolated,
        "clock": f.clock.as_str(),
        "sharpness": f.sharpness,
        "bytes": f.bytes,
        "width": f.width,
        "height": f.height,
        "image_url": format!("/api/v1/frames/{}/image", f.id),
    })
}

/// Runs a blocking store call off the async workers.
pub async fn blocking<T: Send + 'static>(
    store: &Arc<Store>,
    f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = Arc::clone(store);
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|e| ApiError::unavailable(FRAME_STORE, e))?
        .map_err(|e| ApiError::unavailable(FRAME_STORE, e))
}
