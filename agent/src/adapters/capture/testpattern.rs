//! `testpattern`: a moving grey-scale image (diagonal bands that shift with
//! time) with the camera id and the capture time drawn in, encoded as JPEG
//! at the configured size. Luma only: a third of the encoding work.

use jpeg_encoder::{ColorType, Encoder};
use seaframe_wire::CameraId;

use crate::base::capture::font;
use seaframe_wire::timestamp::Timestamp;

/// Renders and encodes one frame (blocking: call from `spawn_blocking`).
#[derive(Debug)]
pub struct TestPattern {
    camera: CameraId,
    width: u16,
    height: u16,
    pixels: Vec<u8>,
}

impl TestPattern {
    pub fn new(camera: CameraId, width: u32, height: u32) -> Self {
        // Config validation bounds sides to 8192, so they fit in u16.
        let width = u16::try_from(width).unwrap_or(u16::MAX);
        let height = u16::try_from(height).unwrap_or(u16::MAX);
        Self {
            camera,
            width,
            height,
            pixels: vec![0; usize::from(width) * usize::from(height)],
        }
    }

    /// The frame for instant `at`, as JPEG bytes.
    pub fn render(&mut self, at: Timestamp) -> Result<Vec<u8>, jpeg_encoder::EncodingError> {
        let (w, h) = (usize::from(self.width), usize::from(self.height));
        let shift = (at.unix_millis() / 8).rem_euclid(256) as usize;
        for (y, row) in self.pixels.chunks_exact_mut(w).enumerate() {
            for (x, p) in row.iter_mut().enumerate() {
                *p = ((x + y + shift) & 0xFF) as u8 / 2 + 32;
            }
        }
        let scale = (w / 320).max(1);
        // "bridge 2026-11-24T08:00:00.123Z": the RFC 3339 time to the millisecond.
        let caption = format!("{} {}Z", self.camera, &at.to_rfc3339()[..23]);
        let box_w = (font::text_width(&caption, scale) + 4 * scale).min(w);
        let box_h = ((font::GLYPH_H + 4) * scale).min(h);
        for row in self.pixels.chunks_exact_mut(w).take(box_h) {
            row[..box_w].fill(0);
        }
        let mut canvas = font::Canvas {
            pixels: &mut self.pixels,
            width: w,
            height: h,
        };
        canvas.text(2 * scale, 2 * scale, scale, 255, &caption);
        let mut out = Vec::with_capacity(w * h / 8);
        Encoder::new(&mut out, 80).encode(
            &self.pixels,
            self.width,
            self.height,
            ColorType::Luma,
        )?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::jpeg;

    #[test]
    fn renders_a_jpeg_of_the_configured_size_that_moves() {
        let mut tp = TestPattern::new(CameraId::parse("bridge").unwrap(), 320, 180);
        let a = tp.render(Timestamp::from_unix_millis(0)).unwrap();
        let b = tp.render(Timestamp::from_unix_millis(500)).unwrap();
        let info = jpeg::inspect(&a).unwrap();
        assert_eq!((info.width, info.height), (320, 180));
        assert_ne!(a, b, "the image moves with time");
    }
}
