//! A vessel as `GET /vessels` lists it and the feed's `vessel` event sends
//! it: its summary from the index, with its health and alerts.

use seaframe_wire::{CameraId, VesselName};
use serde::Serialize;

use super::health::{AlertView, FleetHealthView, StatusView};
use super::image_url;
use crate::adapters::index::VesselSummary;
use crate::base::when::{rfc3339_ms, rfc3339_ns};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VesselView {
    pub name: VesselName,
    pub online: bool,
    pub last_seen: Option<String>,
    pub last_position: Option<PositionView>,
    pub cameras: Vec<CameraView>,
    /// The latest status kept (`null`: none yet).
    pub health: Option<StatusView>,
    pub alerts: Vec<AlertView>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PositionView {
    pub lat: f64,
    pub lon: f64,
    pub speed_kn: Option<f64>,
    pub course_deg: Option<f64>,
    pub at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CameraView {
    pub id: CameraId,
    pub latest_thumb: Option<LatestThumb>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatestThumb {
    pub id: i64,
    pub ts: String,
    pub image_url: String,
}

impl VesselView {
    /// `v` with its health and alerts from `health`.
    pub fn new(v: VesselSummary, health: &FleetHealthView) -> Self {
        let name = v.name.as_str();
        Self {
            health: health.status(name).map(StatusView::from),
            alerts: health.alerts_of(name).map(AlertView::from).collect(),
            online: v.online,
            last_seen: v.last_seen_ns.map(rfc3339_ns),
            last_position: v.last_fix.map(|f| PositionView {
                lat: f.lat,
                lon: f.lon,
                speed_kn: f.speed_kn,
                course_deg: f.course_deg,
                at: rfc3339_ms(f.at_ms),
            }),
            cameras: v
                .cameras
                .into_iter()
                .map(|c| CameraView {
                    id: c.camera,
                    latest_thumb: c.latest.map(|(id, ns)| LatestThumb {
                        id,
                        ts: rfc3339_ns(ns),
                        image_url: image_url(id),
                    }),
                })
                .collect(),
            name: v.name,
        }
    }

    /// What tells the feed that a vessel changed: all but the cameras'
    /// newest thumbnails (each new thumbnail has its own event).
    pub fn key(&self) -> Self {
        let mut key = self.clone();
        for c in &mut key.cameras {
            c.latest_thumb = None;
        }
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::index::CameraSummary;

    fn vessel(online: bool, thumb: i64) -> VesselView {
        let summary = VesselSummary {
            name: VesselName::parse("v").unwrap(),
            online,
            last_seen_ns: Some(1),
            last_fix: None,
            cameras: vec![CameraSummary {
                camera: CameraId::parse("bow").unwrap(),
                latest: Some((thumb, 1_000)),
            }],
        };
        VesselView::new(summary, &FleetHealthView::default())
    }

    #[test]
    fn a_vessel_key_leaves_out_the_newest_thumbnails() {
        assert_ne!(vessel(true, 1), vessel(true, 2));
        assert_eq!(vessel(true, 1).key(), vessel(true, 2).key());
        assert_ne!(vessel(true, 1).key(), vessel(false, 2).key());
    }
}
