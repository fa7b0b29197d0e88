//! A thumbnail from a stored frame: decoded at the smallest JPEG scale that
//! is still wide enough, shrunk to the configured width by averaging, and
//! re-encoded small. Blocking (a few ms): run it on a blocking thread.

use jpeg_encoder::{ColorType, Encoder};

use crate::base::picture::{Picture, PictureError};

/// JPEG quality of thumbnails: small on the wire, still readable.
pub const QUALITY: u8 = 60;

#[derive(Debug, thiserror::Error)]
pub enum ThumbnailError {
    #[error(transparent)]
    Decode(#[from] PictureError),
    #[error("encoding the thumbnail: {0}")]
    Encode(#[from] jpeg_encoder::EncodingError),
}

/// A thumbnail's JPEG and size.
#[derive(Clone, PartialEq, Eq)]
pub struct Thumbnail {
    pub jpeg: Vec<u8>,
    pub width: u16,
    pub height: u16,
}

impl std::fmt::Debug for Thumbnail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Thumbnail({}x{}, {} bytes)",
            self.width,
            self.height,
            self.jpeg.len()
        )
    }
}

/// Makes a thumbnail `width_px` wide (or the frame's width, if narrower).
pub fn make(frame_jpeg: &[u8], width_px: u16) -> Result<Thumbnail, ThumbnailError> {
    let picture = Picture::decode_scaled(frame_jpeg, width_px)?;
    let small = shrink(&picture, usize::from(width_px));
    let (w, h) = (
        u16::try_from(small.width).unwrap_or(u16::MAX),
        u16::try_from(small.height).unwrap_or(u16::MAX),
    );
    let color = if small.channels == 1 {
        ColorType::Luma
    } else {
        ColorType::Rgb
    };
    let mut jpeg = Vec::with_capacity(small.pixels.len() / 10);
    Encoder::new(&mut jpeg, QUALITY).encode(&small.pixels, w, h, color)?;
    Ok(Thumbnail {
        jpeg,
        width: w,
        height: h,
    })
}

/// `picture` shrunk to `width` (aspect kept) by averaging each output
/// pixel's box of source pixels; a narrower picture is returned as is.
fn shrink(picture: &Picture, width: usize) -> Picture {
    if picture.width <= width || width == 0 {
        return picture.clone();
    }
    let height = (picture.height * width / picture.width).max(1);
    let c = picture.channels;
    let span = |i: usize, from: usize, to: usize| {
        (i * from / to, ((i + 1) * from / to).max(i * from / to + 1))
    };
    let mut pixels = Vec::with_capacity(width * height * c);
    for y in 0..height {
        let (y0, y1) = span(y, picture.height, height);
        for x in 0..width {
            let (x0, x1) = span(x, picture.width, width);
            let n = u32::try_from((y1 - y0) * (x1 - x0)).unwrap_or(1);
            for ch in 0..c {
                let mut sum = 0u32;
                for row in y0..y1 {
                    let base = row * picture.width * c;
                    for col in x0..x1 {
                        sum += u32::from(picture.pixels[base + col * c + ch]);
                    }
                }
                pixels.push(u8::try_from(sum / n).unwrap_or(u8::MAX));
            }
        }
    }
    Picture {
        width,
        height,
        channels: c,
        pixels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::capture::testpattern::TestPattern;
    use seaframe_wire::timestamp::Timestamp;

    fn frame(width: u32, height: u32) -> Vec<u8> {
        TestPattern::new("bridge".parse().unwrap(), width, height)
            .render(Timestamp::from_unix_millis(0))
            .unwrap()
    }

    #[test]
    fn a_1080p_frame_becomes_a_small_320px_jpeg() {
        let big = frame(1920, 1080);
        let t = make(&big, 320).unwrap();
        assert_eq!((t.width, t.height), (320, 180));
        let back = Picture::decode_scaled(&t.jpeg, 320).unwrap();
        assert_eq!((back.width, back.height), (320, 180));
        assert!(
            t.jpeg.len() < big.len() / 5,
            "{} of {}",
            t.jpeg.len(),
            big.len()
        );
    }

    #[test]
    fn a_narrow_frame_keeps_its_size() {
        let t = make(&frame(160, 120), 320).unwrap();
        assert_eq!((t.width, t.height), (160, 120));
    }

    #[test]
    fn shrinking_averages() {
        let p = Picture {
            width: 4,
            height: 2,
            channels: 1,
            pixels: vec![0, 100, 200, 200, 0, 100, 200, 200],
        };
        let s = shrink(&p, 2);
        assert_eq!((s.width, s.height), (2, 1));
        assert_eq!(s.pixels, [50, 200]);
    }

    #[test]
    fn a_corrupt_frame_is_an_error() {
        assert!(make(b"\xFF\xD8\xFF\xDB broken", 320).is_err());
    }
}
