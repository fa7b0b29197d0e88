//! Thumbnails as an agent publishes them (the wire's envelope), for the
//! shore's tests, the end-to-end tests and the shore's ingest bench.

use seaframe_wire::{CameraId, Clock, Thumb, ThumbMeta, ThumbPosition, VesselName};

/// A 3-D fix at `lat`/`lon`, 100 ms old, with no speed or course; set
/// those with struct update syntax where a test needs them.
pub fn thumb_position(lat: f64, lon: f64) -> ThumbPosition {
    ThumbPosition {
        lat,
        lon,
        fix: "3d".into(),
        speed_kn: None,
        course_deg: None,
        heading_deg: None,
        fix_age_ms: 100,
    }
}

/// `jpeg` (`width` × `height` px) from `vessel`'s `camera`, taken at
/// `captured_at_ns` on the GPS clock at `position`. Panics on a bad vessel
/// or camera name: those are the test's own constants.
pub fn thumb(
    vessel: &str,
    camera: &str,
    captured_at_ns: i64,
    (width, height): (u16, u16),
    position: ThumbPosition,
    jpeg: Vec<u8>,
) -> Thumb {
    Thumb {
        meta: ThumbMeta {
            vessel: VesselName::parse(vessel).expect("a test's vessel name is valid"),
            camera: CameraId::parse(camera).expect("a test's camera id is valid"),
            captured_at_ns,
            seq: 1,
            clock: Clock::Gps,
            width,
            height,
            position: Some(position),
        },
        jpeg,
    }
}
