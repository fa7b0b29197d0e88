//! The thumbnail envelope: the payload of `seaframe/v1/<vessel>/thumb/<camera>`.
//! A version byte, length-prefixed metadata, then the raw JPEG bytes (never
//! base64). [`Thumb::encode`] and [`Thumb::decode`] are the only code that
//! reads or writes it; `docs/wire.md` describes the bytes for other languages.
//!
//! Layout (integers big-endian):
//!
//! ```text
//! u8  version (= 1)
//! u16 metadata length M
//! M   metadata: vessel, camera (u8 length + ASCII each), captured_at_ns i64,
//!     seq u64, clock u8, width u16, height u16, has_position u8,
//!     [lat f64, lon f64, fix (u8 length + ASCII), speed_kn f32, course_deg f32,
//!      heading_deg f32 (NaN = unknown), fix_age_ms u32]
//!     — a decoder skips metadata bytes after the fields it knows, so version 1
//!     can grow fields at its end
//! ..  JPEG bytes to the end of the payload (FF D8 … )
//! ```

use std::fmt;

use crate::name::{CameraId, NameError, VesselName};

/// The envelope version this crate writes and reads.
pub const VERSION: u8 = 1;

/// The largest payload [`Thumb::decode`] accepts: a thumbnail is tens of KB,
/// so anything this big is a mistake or an attack, refused before parsing.
pub const MAX_PAYLOAD_BYTES: usize = 2 * 1024 * 1024;

/// The longest fix-quality name, in bytes (ASCII).
const MAX_FIX_LEN: usize = 32;

/// How the capture time was obtained, as the agent knew it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// The board's clock, believed synchronised.
    System,
    /// Corrected from GPS time.
    Gps,
}

impl Clock {
    fn to_byte(self) -> u8 {
        match self {
            Self::System => 0,
            Self::Gps => 1,
        }
    }

    fn from_byte(b: u8) -> Result<Self, DecodeError> {
        match b {
            0 => Ok(Self::System),
            1 => Ok(Self::Gps),
            other => Err(DecodeError::BadClock(other)),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::Gps => "gps",
        }
    }
}

/// Where the ship was when the frame was captured.
#[derive(Debug, Clone, PartialEq)]
pub struct ThumbPosition {
    pub lat: f64,
    pub lon: f64,
    /// Fix quality as the agent names it (`3d`, `dgps`, `rtk`…), ≤ 32 bytes.
    pub fix: String,
    pub speed_kn: Option<f32>,
    pub course_deg: Option<f32>,
    pub heading_deg: Option<f32>,
    pub fix_age_ms: u32,
}

/// The metadata of one thumbnail: everything but the image.
#[derive(Debug, Clone, PartialEq)]
pub struct ThumbMeta {
    pub vessel: VesselName,
    pub camera: CameraId,
    /// Capture time of the original frame, ns since the Unix epoch (UTC).
    pub captured_at_ns: i64,
    /// The frame's per-camera sequence number on board.
    pub seq: u64,
    pub clock: Clock,
    /// Size of the thumbnail (not of the original frame), px.
    pub width: u16,
    pub height: u16,
    pub position: Option<ThumbPosition>,
}

/// One thumbnail with its metadata, as it crosses the link.
#[derive(Clone, PartialEq)]
pub struct Thumb {
    pub meta: ThumbMeta,
    pub jpeg: Vec<u8>,
}

impl fmt::Debug for Thumb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Thumb")
            .field("meta", &self.meta)
            .field("jpeg_bytes", &self.jpeg.len())
            .finish()
    }
}

/// Why a payload is not a thumbnail envelope this crate understands.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("payload is {0} bytes; at most {MAX_PAYLOAD_BYTES} are accepted")]
    TooLarge(usize),
    #[error("payload is empty")]
    Empty,
    #[error("envelope version {0} is not supported (this build reads {VERSION})")]
    UnsupportedVersion(u8),
    #[error("payload ends inside the {0}")]
    Truncated(&'static str),
    #[error("{field}: {source}")]
    BadName {
        field: &'static str,
        source: NameError,
    },
    #[error("{0} is not UTF-8")]
    NotUtf8(&'static str),
    #[error("fix quality is not ASCII of at most 32 bytes")]
    BadFix,
    #[error("clock byte {0} is not known")]
    BadClock(u8),
    #[error("position flag {0} is neither 0 nor 1")]
    BadPositionFlag(u8),
    #[error("position {lat},{lon} is outside -90..90, -180..180")]
    BadPosition { lat: f64, lon: f64 },
    #[error("the image does not start like a JPEG (FF D8)")]
    NotJpeg,
}

/// Why a thumbnail cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("fix quality {0:?} is longer than 32 bytes or not ASCII")]
    BadFix(String),
    #[error("encoded payload would be {0} bytes; at most {MAX_PAYLOAD_BYTES} are accepted")]
    TooLarge(usize),
}

impl Thumb {
    /// The payload bytes for this thumbnail.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let m = &self.meta;
        let mut meta = Vec::with_capacity(128);
        put_str(&mut meta, m.vessel.as_str());
        put_str(&mut meta, m.camera.as_str());
        meta.extend_from_slice(&m.captured_at_ns.to_be_bytes());
        meta.extend_from_slice(&m.seq.to_be_bytes());
        meta.push(m.clock.to_byte());
        meta.extend_from_slice(&m.width.to_be_bytes());
        meta.extend_from_slice(&m.height.to_be_bytes());
        match &m.position {
            None => meta.push(0),
            Some(p) => {
                if p.fix.len() > MAX_FIX_LEN || !p.fix.is_ascii() {
                    return Err(EncodeError::BadFix(p.fix.clone()));
                }
                meta.push(1);
                meta.extend_from_slice(&p.lat.to_be_bytes());
                meta.extend_from_slice(&p.lon.to_be_bytes());
                put_str(&mut meta, &p.fix);
                for v in [p.speed_kn, p.course_deg, p.heading_deg] {
                    meta.extend_from_slice(&v.unwrap_or(f32::NAN).to_be_bytes());
                }
                meta.extend_from_slice(&p.fix_age_ms.to_be_bytes());
            }
        }
        let total = 3 + meta.len() + self.jpeg.len();
        if total > MAX_PAYLOAD_BYTES {
            return Err(EncodeError::TooLarge(total));
        }
        let meta_len = u16::try_from(meta.len()).expect("metadata is at most a few hundred bytes");
        let mut out = Vec::with_capacity(total);
        out.push(VERSION);
        out.extend_from_slice(&meta_len.to_be_bytes());
        out.extend_from_slice(&meta);
        out.extend_from_slice(&self.jpeg);
        Ok(out)
    }

    /// Reads a payload. Never panics, whatever the bytes; every way a payload
    /// can be wrong is a [`DecodeError`].
    pub fn decode(payload: &[u8]) -> Result<Self, DecodeError> {
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(DecodeError::TooLarge(payload.len()));
        }
        let mut r = Reader(payload);
        let version = r.u8("version").map_err(|_| DecodeError::Empty)?;
        if version != VERSION {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        let meta_len = usize::from(r.u16("metadata length")?);
        let mut m = Reader(r.take(meta_len, "metadata")?);
        let jpeg = r.0;

        let vessel =
            VesselName::parse(m.str("vessel")?).map_err(|source| DecodeError::BadName {
                field: "vessel",
                source,
            })?;
        let camera = CameraId::parse(m.str("camera")?).map_err(|source| DecodeError::BadName {
            field: "camera",
            source,
        })?;
        let captured_at_ns = i64::from_be_bytes(m.array("capture time")?);
        let seq = u64::from_be_bytes(m.array("sequence number")?);
        let clock = Clock::from_byte(m.u8("clock")?)?;
        let width = m.u16("width")?;
        let height = m.u16("height")?;
        let position = match m.u8("position flag")? {
            0 => None,
            1 => Some(read_position(&mut m)?),
            other => return Err(DecodeError::BadPositionFlag(other)),
        };
        if !jpeg.starts_with(&[0xFF, 0xD8]) {
            return Err(DecodeError::NotJpeg);
        }
        Ok(Self {
            meta: ThumbMeta {
                vessel,
                camera,
                captured_at_ns,
                seq,
                clock,
                width,
                height,
                position,
            },
            jpeg: jpeg.to_vec(),
        })
    }
}

fn read_position(m: &mut Reader<'_>) -> Result<ThumbPosition, DecodeError> {
    let lat = f64::from_be_bytes(m.array("latitude")?);
    let lon = f64::from_be_bytes(m.array("longitude")?);
    if !((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)) {
        return Err(DecodeError::BadPosition { lat, lon });
    }
    let fix = m.str("fix quality").and_then(|s| {
        if s.len() <= MAX_FIX_LEN && s.is_ascii() {
            Ok(s.to_owned())
        } else {
            Err(DecodeError::BadFix)
        }
    })?;
    let mut optional = |what| -> Result<Option<f32>, DecodeError> {
        let v = f32::from_be_bytes(m.array(what)?);
        Ok(v.is_finite().then_some(v))
    };
    let speed_kn = optional("speed")?;
    let course_deg = optional("course")?;
    let heading_deg = optional("heading")?;
    let fix_age_ms = u32::from_be_bytes(m.array("fix age")?);
    Ok(ThumbPosition {
        lat,
        lon,
        fix,
        speed_kn,
        course_deg,
        heading_deg,
        fix_age_ms,
    })
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    // Names are ≤ 32 bytes (validated types) and fix ≤ 32 (checked above).
    let len = u8::try_from(s.len()).expect("names and fix are at most 32 bytes");
    out.push(len);
    out.extend_from_slice(s.as_bytes());
}

/// A cursor over a byte slice whose every read names what it was reading,
/// so that a truncated payload says where it ended.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.0.len() < n {
            return Err(DecodeError::Truncated(what));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let bytes = self.take(N, what)?;
        Ok(bytes.try_into().expect("take returned N bytes"))
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    fn str(&mut self, what: &'static str) -> Result<&'a str, DecodeError> {
        let len = usize::from(self.u8(what)?);
        let bytes = self.take(len, what)?;
        std::str::from_utf8(bytes).map_err(|_| DecodeError::NotUtf8(what))
    }
}

#[cfg(test)]
#[path = "envelope_tests.rs"]
mod tests;
