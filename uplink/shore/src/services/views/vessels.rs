//! A vessel as `GET /vessels` lists it.

use serde_json::{Value, json};

use crate::adapters::index::VesselSummary;
use crate::base::when::{rfc3339_ms, rfc3339_ns};
use crate::services::views::image_url;

/// A vessel as `GET /vessels` lists it (and the feed's `vessel` event).
pub fn vessel_json(v: VesselSummary) -> Value {
    json!({
        "name": v.name,
        "online": v.online,
        "last_seen": v.last_seen_ns.map(rfc3339_ns),
        "last_position": v.last_fix.map(|f| json!({
            "lat": f.lat,
            "lon": f.lon,
            "speed_kn": f.speed_kn,
            "course_deg": f.course_deg,
            "at": rfc3339_ms(f.at_ms),
        })),
        "cameras": v.cameras.into_iter().map(|c| json!({
            "id": c.camera,
            "latest_thumb": c.latest.map(|(id, ns)| json!({
                "id": id,
                "ts": rfc3339_ns(ns),
                "image_url": image_url(id),
            })),
        })).collect::<Vec<_>>(),
    })
}
