//! [`Frame`]: one captured JPEG with its camera, sequence number and capture
//! time. The unit that flows from capture through the queue to the store.

use std::fmt;

use bytes::Bytes;
use seaframe_wire::CameraId;

use crate::timestamp::Timestamp;

/// One frame as captured. Cloning is cheap (the JPEG is shared).
#[derive(Clone, PartialEq, Eq)]
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
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Frame")
            .field("camera", &self.camera)
            .field("seq", &self.seq)
            .field("captured_at", &self.captured_at)
            .field("size", &format_args!("{}x{}", self.width, self.height))
            .field("jpeg_bytes", &self.jpeg.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_prints_sizes_not_bytes() {
        let frame = Frame {
            camera: CameraId::parse("bridge").unwrap(),
            seq: 7,
            captured_at: Timestamp::from_unix_millis(0),
            width: 640,
            height: 360,
            jpeg: Bytes::from(vec![0xAB; 1000]),
        };
        let s = format!("{frame:?}");
        assert!(s.contains("jpeg_bytes: 1000"), "{s}");
        assert!(s.contains("640x360"), "{s}");
        assert!(!s.contains("171"), "bytes leaked into Debug: {s}");
    }
}
