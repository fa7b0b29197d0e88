//! Small pictures from big JPEGs: a decode at 1/2, 1/4 or 1/8 scale (the
//! JPEG's own DCT scaling, so a 1080p frame never exists in memory at full
//! size), to grey or RGB. Used for sharpness and thumbnails; never on the
//! capture path (callers run it on a blocking thread).

use std::io::Cursor;

use jpeg_decoder::{Decoder, PixelFormat};

/// A decoded picture: 8-bit grey (1 channel) or RGB (3), row-major.
#[derive(Clone, PartialEq, Eq)]
pub struct Picture {
    pub width: usize,
    pub height: usize,
    pub channels: usize,
    pub pixels: Vec<u8>,
}

impl std::fmt::Debug for Picture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Picture")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("channels", &self.channels)
            .finish()
    }
}

/// Why a JPEG could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum PictureError {
    #[error("JPEG does not decode: {0}")]
    Decode(#[from] jpeg_decoder::Error),
    #[error("JPEG has no header")]
    NoHeader,
    #[error("JPEG pixel format {0:?} is not supported")]
    Format(PixelFormat),
}

impl Picture {
    /// Decodes `jpeg` at the smallest of the JPEG's own scales (1/8, 1/4,
    /// 1/2, 1) whose width is still at least `min_width_px` (or at full size
    /// when the picture is narrower).
    pub fn decode_scaled(jpeg: &[u8], min_width_px: u16) -> Result<Self, PictureError> {
        let mut decoder = Decoder::new(Cursor::new(jpeg));
        decoder.read_info()?;
        let info = decoder.info().ok_or(PictureError::NoHeader)?;
        // The decoder picks the smallest scale that reaches the request on
        // either axis; an unreachable height leaves the width to decide.
        let (width, height) = decoder.scale(min_width_px.min(info.width), u16::MAX)?;
        let pixels = decoder.decode()?;
        let format = decoder.info().map_or(info.pixel_format, |i| i.pixel_format);
        let channels = match format {
            PixelFormat::L8 => 1,
            PixelFormat::RGB24 => 3,
            other => return Err(PictureError::Format(other)),
        };
        Ok(Self {
            width: usize::from(width),
            height: usize::from(height),
            channels,
            pixels,
        })
    }

    /// The grey level of every pixel (BT.601 weights for RGB).
    pub fn luma(&self) -> Vec<u8> {
        if self.channels == 1 {
            return self.pixels.clone();
        }
        self.pixels
            .chunks_exact(3)
            .map(|p| {
                let y = 299 * u32::from(p[0]) + 587 * u32::from(p[1]) + 114 * u32::from(p[2]);
                u8::try_from(y / 1000).unwrap_or(u8::MAX)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::capture::testpattern::TestPattern;

    #[test]
    fn decodes_at_the_smallest_scale_that_is_wide_enough() {
        let camera = seaframe_wire::CameraId::parse("bridge").unwrap();
        let jpeg = TestPattern::new(camera, 1920, 1080)
            .render(seaframe_wire::timestamp::Timestamp::from_unix_millis(0))
            .unwrap();
        let p = Picture::decode_scaled(&jpeg, 160).unwrap();
        assert_eq!((p.width, p.height), (240, 135));
        let p = Picture::decode_scaled(&jpeg, 300).unwrap();
        assert_eq!((p.width, p.height), (480, 270));
        assert_eq!(p.luma().len(), 480 * 270);
    }

    #[test]
    fn a_broken_jpeg_is_an_error() {
        assert!(Picture::decode_scaled(b"\xFF\xD8 not a jpeg", 160).is_err());
        assert!(Picture::decode_scaled(b"", 160).is_err());
    }
}
