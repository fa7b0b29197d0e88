//! A thumbnail as the lists show it.

use serde_json::{Value, json};

use crate::adapters::index::ThumbRow;
use crate::base::when::rfc3339_ns;
use crate::services::views::image_url;

/// A thumbnail as the lists show it (and the feed's `thumb` event).
pub fn thumb_json(t: &ThumbRow) -> Value {
    json!({
        "id": t.id,
        "vessel": t.vessel,
        "camera": t.camera,
        "ts": rfc3339_ns(t.captured_at_ns),
        "lat": t.lat,
        "lon": t.lon,
        "bytes": t.bytes,
        "image_url": image_url(t.id),
    })
}
