//! IO-free checks of JPEG bytes: the marker structure is walked (SOI,
//! segments, a frame header, SOS, entropy-coded data, EOI) without decoding
//! anything or allocating. The agent runs it on every frame before it is
//! queued; the shore on every thumbnail before it is stored, so that both
//! ends refuse the same bytes.

/// What a valid JPEG says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JpegInfo {
    pub width: u32,
    pub height: u32,
    /// Bytes up to and including EOI (padding after it is not part of the image).
    pub len: usize,
}

/// Why bytes are not a whole JPEG.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JpegError {
    #[error("not a JPEG: no start-of-image marker")]
    NoSoi,
    #[error("not a JPEG: truncated at byte {offset}")]
    Truncated { offset: usize },
    #[error("not a JPEG: bad segment length at byte {offset}")]
    BadSegmentLength { offset: usize },
    #[error("not a JPEG: no frame header before the scan")]
    NoFrameHeader,
    #[error("not a JPEG: no end-of-image marker")]
    NoEoi,
    #[error("not a JPEG: zero width or height")]
    ZeroSize,
}

const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;

fn is_frame_header(marker: u8) -> bool {
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
    (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC)
}

/// Walks the marker structure of `bytes`.
pub fn inspect(bytes: &[u8]) -> Result<JpegInfo, JpegError> {
    if bytes.len() < 2 || bytes[0] != 0xFF || bytes[1] != SOI {
        return Err(JpegError::NoSoi);
    }
    let mut size = None;
    let mut i = 2;
    loop {
        // Markers may be preceded by any number of 0xFF fill bytes.
        while bytes.get(i) == Some(&0xFF) && bytes.get(i + 1) == Some(&0xFF) {
            i += 1;
        }
        let (Some(&0xFF), Some(&marker)) = (bytes.get(i), bytes.get(i + 1)) else {
            return Err(if i + 1 >= bytes.len() {
                JpegError::Truncated { offset: i }
            } else {
                JpegError::BadSegmentLength { offset: i }
            });
        };
        i += 2;
        match marker {
            EOI => return Err(JpegError::NoFrameHeader),
            0x01 | 0xD0..=0xD7 => continue, // TEM and RSTn have no length
            _ => {}
        }
        let (Some(&hi), Some(&lo)) = (bytes.get(i), bytes.get(i + 1)) else {
            return Err(JpegError::Truncated { offset: i });
        };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        if len < 2 {
            return Err(JpegError::BadSegmentLength { offset: i });
        }
        let end = i + len;
        if end > bytes.len() {
            return Err(JpegError::Truncated {
                offset: bytes.len(),
            });
        }
        if is_frame_header(marker) {
            if len < 7 {
                return Err(JpegError::BadSegmentLength { offset: i });
            }
            let height = u32::from(u16::from_be_bytes([bytes[i + 3], bytes[i + 4]]));
            let width = u32::from(u16::from_be_bytes([bytes[i + 5], bytes[i + 6]]));
            size = Some((width, height));
        }
        i = end;
        if marker == SOS {
            let (width, height) = size.ok_or(JpegError::NoFrameHeader)?;
            return scan_to_eoi(bytes, i, width, height);
        }
    }
}

/// Skips entropy-coded data (and further scans of progressive JPEGs) to EOI.
fn scan_to_eoi(bytes: &[u8], mut i: usize, width: u32, height: u32) -> Result<JpegInfo, JpegError> {
    if width == 0 || height == 0 {
        return Err(JpegError::ZeroSize);
    }
    while i + 1 < bytes.len() {
        if bytes[i] != 0xFF {
            i += 1;
            continue;
        }
        match bytes[i + 1] {
            EOI => {
                return Ok(JpegInfo {
                    width,
                    height,
                    len: i + 2,
                });
            }
            // Stuffed zero, fill byte or restart marker: still entropy data.
            0x00 | 0xFF | 0xD0..=0xD7 => i += 1,
            // Another segment (DHT, SOS… in progressive JPEGs): skip it whole.
            _ => {
                let Some(len) = bytes
                    .get(i + 2..i + 4)
                    .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
                else {
                    return Err(JpegError::Truncated { offset: i });
                };
                if len < 2 {
                    return Err(JpegError::BadSegmentLength { offset: i + 2 });
                }
                i += 2 + len;
            }
        }
    }
    Err(JpegError::NoEoi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encode(width: u16, height: u16) -> Vec<u8> {
        let pixels = vec![128u8; usize::from(width) * usize::from(height) * 3];
        let mut out = Vec::new();
        jpeg_encoder::Encoder::new(&mut out, 80)
            .encode(&pixels, width, height, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        out
    }

    #[test]
    fn reads_the_size_of_a_real_jpeg() {
        let jpeg = encode(64, 48);
        let info = inspect(&jpeg).unwrap();
        assert_eq!((info.width, info.height, info.len), (64, 48, jpeg.len()));
    }

    #[test]
    fn padding_after_eoi_is_not_part_of_the_image() {
        let mut jpeg = encode(16, 16);
        let len = jpeg.len();
        jpeg.extend_from_slice(&[0; 1000]);
        assert_eq!(inspect(&jpeg).unwrap().len, len);
    }

    #[test]
    fn refuses_broken_jpegs_with_a_reason() {
        let jpeg = encode(32, 32);
        assert_eq!(inspect(b""), Err(JpegError::NoSoi));
        assert_eq!(inspect(b"GIF89a"), Err(JpegError::NoSoi));
        assert_eq!(inspect(&jpeg[..jpeg.len() - 2]), Err(JpegError::NoEoi));
        assert!(inspect(&jpeg[..jpeg.len() / 2]).is_err());
        assert!(matches!(
            inspect(&jpeg[..20]),
            Err(JpegError::Truncated { .. })
        ));
        assert_eq!(
            inspect(&[0xFF, 0xD8, 0xFF, 0xD9]),
            Err(JpegError::NoFrameHeader)
        );
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = inspect(&bytes);
        }

        #[test]
        fn never_panics_on_a_damaged_jpeg(cut in 0usize..600, flip in 0usize..600, v in any::<u8>()) {
            let mut jpeg = encode(24, 24);
            if flip < jpeg.len() { jpeg[flip] = v; }
            jpeg.truncate(cut.max(2));
            let _ = inspect(&jpeg);
        }
    }
}
