//! [`Frame`]: one captured JPEG with its camera, sequence number and capture
//! time. The unit that flows from capture through the queue to the store.

use std::fmt;

use bytes::Bytes;
use seaframe_wire::CameraId;

use crate::base::clock::ClockSource;
use crate::base::gps::timeline::Position;
use seaframe_wire::timestamp::Timestamp;

/// One frame as captured. Cloning is cheap (the JPEG is shared).
#[derive(Clone, PartialEq)]
pub struct Frame {
    pub camera: CameraId,
    /// Per camera, increasing; with `captured_at` it names the frame on disk.
    pub seq: u64,
    /// When the frame arrived from the device (UTC, ns); never when stored.
    pub captured_at: Timestamp,
    pub width: u32,
    pub height: u32,
    /// The camera's own JPEG bytes.
    pub jpeg: Bytes,
    /// Whether `captured_at` is the system clock's or GPS-corrected.
    pub clock: ClockSource,
    /// Where the ship was at `captured_at`; set by the worker from the
    /// GPS timeline (`None`: no fix young enough).
    pub position: Option<Position>,
    /// How sharp the frame is ([`crate::services::sharpness`]); set by the worker for
    /// the frames it samples, `None` for the others.
    pub sharpness: Option<f32>,
}

impl Frame {
    /// A frame fresh from a camera, not yet tagged with a position.
    pub fn new(
        camera: CameraId,
        seq: u64,
        captured_at: Timestamp,
        clock: ClockSource,
        width: u32,
        height: u32,
        jpeg: Bytes,
    ) -> Self {
        Self {
            camera,
            seq,
            captured_at,
            width,
            height,
            jpeg,
            clock,
            position: None,
            sharpness: None,
        }
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Frame")
            .field("camera", &self.camera)
            .field("seq", &self.seq)
            .field("captured_at", &self.captured_at)
            .field("size", &format_args!("{}x{}", self.width, self.height))
            .field("jpeg_bytes", &self.jpeg.len())
            .field("clock", &self.clock)
            .field("position", &self.position.as_ref().map(|p| (p.lat, p.lon)))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_prints_sizes_not_bytes() {
        let frame = Frame::new(
            CameraId::parse("bridge").unwrap(),
            7,
            Timestamp::from_unix_millis(0),
            ClockSource::System,
            640,
            360,
            Bytes::from(vec![0xAB; 1000]),
        );
        let s = format!("{frame:?}");
        assert!(s.contains("jpeg_bytes: 1000"), "{s}");
        assert!(s.contains("640x360"), "{s}");
        assert!(!s.contains("171"), "bytes leaked into Debug: {s}");
    }
}
