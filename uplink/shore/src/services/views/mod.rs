//! What the API and the live feed show: a thumbnail, a vessel, a vessel's
//! status and its alerts as typed views (serialised as they are), and a
//! config as JSON (its secrets redacted by key), built once here for both:
//! a REST answer and the event the feed sends for the same thing are the
//! same object.

mod config;
mod health;
mod thumbs;
mod vessels;

pub use config::{config_json, config_key};
pub use health::{AlertView, CameraStatusView, FleetHealthView, StatusView};
pub use thumbs::ThumbView;
pub use vessels::{CameraView, LatestThumb, PositionView, VesselView};

/// Where a thumbnail's JPEG is served.
pub fn image_url(id: i64) -> String {
    format!("/api/v1/thumbs/{id}/image")
}
