//! What the API and the live feed show: the JSON of a thumbnail, a vessel,
//! a config and a vessel's health, built once here for both (a REST answer
//! and the event the feed sends for the same thing are the same object).

mod config;
mod health;
mod thumbs;
mod vessels;

pub use config::{config_json, config_key};
pub use health::{FleetHealthView, alert_json, status_json};
pub use thumbs::thumb_json;
pub use vessels::vessel_json;

/// Where a thumbnail's JPEG is served.
pub fn image_url(id: i64) -> String {
    format!("/api/v1/thumbs/{id}/image")
}
