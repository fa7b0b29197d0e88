//! A thumbnail as the lists show it.

use seaframe_wire::{CameraId, VesselName};
use serde::Serialize;

use super::image_url;
use crate::adapters::index::ThumbRow;
use crate::base::when::rfc3339_ns;

/// A thumbnail as the lists show it (and the feed's `thumb` event).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThumbView {
    pub id: i64,
    pub vessel: VesselName,
    pub camera: CameraId,
    pub ts: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub bytes: u64,
    pub image_url: String,
}

impl From<&ThumbRow> for ThumbView {
    fn from(t: &ThumbRow) -> Self {
        Self {
            id: t.id,
            vessel: t.vessel.clone(),
            camera: t.camera.clone(),
            ts: rfc3339_ns(t.captured_at_ns),
            lat: t.lat,
            lon: t.lon,
            bytes: t.bytes,
            image_url: image_url(t.id),
        }
    }
}
