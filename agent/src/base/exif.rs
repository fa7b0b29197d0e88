//! A JPEG's EXIF, written by us (no re-encode): an APP1 segment with the
//! capture time (DateTimeOriginal, SubSecTimeOriginal, OffsetTime*) and,
//! when known, the position (GPS IFD: latitude, longitude, time, date,
//! speed in knots, track and heading, true). Big-endian TIFF. With it a
//! frame describes itself, and the index can be rebuilt from disk alone.

use crate::base::gps::timeline::Position;
use seaframe_wire::timestamp::Timestamp;

enum Value {
    Ascii(String),
    Bytes(Vec<u8>),
    Long(u32),
    Rationals(Vec<(u32, u32)>),
}

impl Value {
    /// (TIFF type, count, bytes).
    fn encode(&self) -> (u16, u32, Vec<u8>) {
        match self {
            Self::Bytes(b) => (1, b.len() as u32, b.clone()),
            Self::Ascii(s) => {
                let mut b = s.as_bytes().to_vec();
                b.push(0);
                (2, b.len() as u32, b)
            }
            Self::Long(v) => (4, 1, v.to_be_bytes().to_vec()),
            Self::Rationals(rs) => {
                let b = rs
                    .iter()
                    .flat_map(|(n, d)| [n.to_be_bytes(), d.to_be_bytes()].concat())
                    .collect();
                (5, rs.len() as u32, b)
            }
        }
    }
}

fn ifd_len(entries: &[(u16, Value)]) -> u32 {
    let data: u32 = entries
        .iter()
        .map(|(_, v)| v.encode().2.len() as u32)
        .filter(|n| *n > 4)
        .map(|n| n + n % 2)
        .sum();
    2 + 12 * entries.len() as u32 + 4 + data
}

/// One IFD at `offset` (from the TIFF header): entries sorted by tag, then
/// the values that do not fit in four bytes.
fn write_ifd(out: &mut Vec<u8>, offset: u32, mut entries: Vec<(u16, Value)>) {
    entries.sort_by_key(|(tag, _)| *tag);
    let mut data_at = offset + 2 + 12 * entries.len() as u32 + 4;
    let mut data = Vec::new();
    out.extend_from_slice(&(entries.len() as u16).to_be_bytes());
    for (tag, value) in &entries {
        let (kind, count, bytes) = value.encode();
        out.extend_from_slice(&tag.to_be_bytes());
        out.extend_from_slice(&kind.to_be_bytes());
        out.extend_from_slice(&count.to_be_bytes());
        if bytes.len() <= 4 {
            let mut inline = bytes.clone();
            inline.resize(4, 0);
            out.extend_from_slice(&inline);
        } else {
            out.extend_from_slice(&data_at.to_be_bytes());
            data.extend_from_slice(&bytes);
            if bytes.len() % 2 == 1 {
                data.push(0);
            }
            data_at += bytes.len() as u32 + (bytes.len() % 2) as u32;
        }
    }
    out.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    out.extend_from_slice(&data);
}

/// Degrees as (degrees, minutes, seconds) rationals.
fn dms(deg: f64) -> Value {
    let deg = deg.abs();
    let d = deg.floor();
    let m = ((deg - d) * 60.0).floor();
    let s = (deg - d - m / 60.0) * 3600.0;
    Value::Rationals(vec![
        (d as u32, 1),
        (m as u32, 1),
        ((s * 10_000.0).round() as u32, 10_000),
    ])
}

fn rational(v: f64) -> Value {
    Value::Rationals(vec![((v.abs() * 1000.0).round() as u32, 1000)])
}

/// The whole APP1 segment (marker, length, `Exif\0\0`, TIFF).
pub fn app1(captured_at: Timestamp, position: Option<&Position>) -> Vec<u8> {
    let dt = captured_at.to_datetime();
    let date = format!(
        "{:04}:{:02}:{:02}",
        dt.year(),
        u8::from(dt.month()),
        dt.day()
    );
    let exif = vec![
        (
            0x9003,
            Value::Ascii(format!(
                "{date} {:02}:{:02}:{:02}",
                dt.hour(),
                dt.minute(),
                dt.second()
            )),
        ),
        (0x9010, Value::Ascii("+00:00".into())),
        (0x9011, Value::Ascii("+00:00".into())),
        (0x9291, Value::Ascii(format!("{:03}", dt.millisecond()))),
    ];
    let gps = position.map(|p| {
        let mut v = vec![
            (0x0000, Value::Bytes(vec![2, 3, 0, 0])),
            (
                0x0001,
                Value::Ascii(if p.lat >= 0.0 { "N" } else { "S" }.into()),
            ),
            (0x0002, dms(p.lat)),
            (
                0x0003,
                Value::Ascii(if p.lon >= 0.0 { "E" } else { "W" }.into()),
            ),
            (0x0004, dms(p.lon)),
            (
                0x0007,
                Value::Rationals(vec![
                    (u32::from(dt.hour()), 1),
                    (u32::from(dt.minute()), 1),
                    (
                        u32::from(dt.second()) * 1000 + u32::from(dt.millisecond()),
                        1000,
                    ),
                ]),
            ),
            (0x001D, Value::Ascii(date.clone())),
        ];
        if let Some(kn) = p.speed_kn {
            v.push((0x000C, Value::Ascii("N".into())));
            v.push((0x000D, rational(kn)));
        }
        if let Some(c) = p.course_deg {
            v.push((0x000E, Value::Ascii("T".into())));
            v.push((0x000F, rational(c)));
        }
        if let Some(h) = p.heading_deg {
            v.push((0x0010, Value::Ascii("T".into())));
            v.push((0x0011, rational(h)));
        }
        v
    });
    // IFD0 holds the pointers; the Exif IFD and GPS IFD follow it.
    let ifd0_entries = 1 + u32::from(gps.is_some());
    let ifd0_len = 2 + 12 * ifd0_entries + 4;
    let exif_at = 8 + ifd0_len;
    let gps_at = exif_at + ifd_len(&exif);
    let mut ifd0 = vec![(0x8769, Value::Long(exif_at))];
    if gps.is_some() {
        ifd0.push((0x8825, Value::Long(gps_at)));
    }
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    write_ifd(&mut tiff, 8, ifd0);
    write_ifd(&mut tiff, exif_at, exif);
    if let Some(gps) = gps {
        write_ifd(&mut tiff, gps_at, gps);
    }
    let len = (2 + 6 + tiff.len()) as u16;
    let mut seg = vec![0xFF, 0xE1];
    seg.extend_from_slice(&len.to_be_bytes());
    seg.extend_from_slice(b"Exif\0\0");
    seg.extend_from_slice(&tiff);
    seg
}

/// Where the APP1 goes: after SOI and a JFIF APP0 if there is one.
pub fn insertion_point(jpeg: &[u8]) -> usize {
    if jpeg.len() >= 6 && jpeg[2] == 0xFF && jpeg[3] == 0xE0 {
        let app0_len = usize::from(u16::from_be_bytes([jpeg[4], jpeg[5]]));
        (4 + app0_len).min(jpeg.len())
    } else {
        2.min(jpeg.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_segment_is_well_formed_and_ifds_are_where_they_point() {
        let p = Position {
            lat: -33.5,
            lon: 151.25,
            fix: "3d",
            speed_kn: Some(12.5),
            course_deg: Some(90.0),
            heading_deg: None,
            fix_age_ms: 100,
            interpolated: true,
            time_uncertainty_ms: 1000,
        };
        let seg = app1(
            Timestamp::parse_user("2026-11-24T08:05:09.123Z").unwrap(),
            Some(&p),
        );
        assert_eq!(&seg[..2], &[0xFF, 0xE1]);
        assert_eq!(
            usize::from(u16::from_be_bytes([seg[2], seg[3]])),
            seg.len() - 2
        );
        assert_eq!(&seg[4..10], b"Exif\0\0");
        let tiff = &seg[10..];
        assert_eq!(&tiff[..4], b"MM\0\x2a");
        let text = String::from_utf8_lossy(tiff);
        assert!(text.contains("2026:11:24 08:05:09"), "{text}");
        assert!(text.contains("2026:11:24"));
    }
}

/// What a frame's own EXIF says (read back by reconcile and reindex).
#[derive(Debug, Clone, PartialEq)]
pub struct Tags {
    pub captured_at: Option<Timestamp>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub speed_kn: Option<f64>,
    pub course_deg: Option<f64>,
    pub heading_deg: Option<f64>,
}

/// A big-endian TIFF inside an APP1 segment, read defensively.
struct Tiff<'a>(&'a [u8]);

impl Tiff<'_> {
    fn u16(&self, at: usize) -> Option<u16> {
        Some(u16::from_be_bytes(self.0.get(at..at + 2)?.try_into().ok()?))
    }

    fn u32(&self, at: usize) -> Option<u32> {
        Some(u32::from_be_bytes(self.0.get(at..at + 4)?.try_into().ok()?))
    }

    /// (tag → (type, count, value offset or inline position)) of the IFD at `at`.
    fn entries(&self, at: usize) -> Vec<(u16, u16, u32, usize)> {
        let Some(n) = self.u16(at) else {
            return Vec::new();
        };
        (0..usize::from(n).min(64))
            .filter_map(|i| {
                let e = at + 2 + 12 * i;
                let (tag, kind, count) = (self.u16(e)?, self.u16(e + 2)?, self.u32(e + 4)?);
                let size = match kind {
                    1 | 2 => count as usize,
                    3 => 2 * count as usize,
                    4 => 4 * count as usize,
                    5 => 8 * count as usize,
                    _ => return None,
                };
                let value_at = if size <= 4 {
                    e + 8
                } else {
                    self.u32(e + 8)? as usize
                };
                Some((tag, kind, count, value_at))
            })
            .collect()
    }

    fn ascii(&self, at: usize, count: u32) -> Option<String> {
        let bytes = self.0.get(at..at + count as usize)?;
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        String::from_utf8(bytes[..end].to_vec()).ok()
    }

    fn rationals(&self, at: usize, count: u32) -> Option<Vec<f64>> {
        (0..count as usize)
            .map(|i| {
                let (n, d) = (self.u32(at + 8 * i)?, self.u32(at + 8 * i + 4)?);
                (d != 0).then(|| f64::from(n) / f64::from(d))
            })
            .collect()
    }
}

/// Reads the tags this agent writes; `None` without such an EXIF segment.
pub fn read(jpeg: &[u8]) -> Option<Tags> {
    // Find the first APP1 "Exif" segment among the leading segments.
    let mut i = 2;
    let tiff = loop {
        if jpeg.get(i) != Some(&0xFF) {
            return None;
        }
        let marker = *jpeg.get(i + 1)?;
        let len = usize::from(u16::from_be_bytes([*jpeg.get(i + 2)?, *jpeg.get(i + 3)?]));
        if marker == 0xE1 && jpeg.get(i + 4..i + 10) == Some(b"Exif\0\0") {
            break Tiff(jpeg.get(i + 10..i + 2 + len)?);
        }
        if marker == 0xDA || len < 2 {
            return None;
        }
        i += 2 + len;
    };
    if tiff.0.get(..4) != Some(b"MM\0\x2a") {
        return None;
    }
    let ifd0 = tiff.entries(tiff.u32(4)? as usize);
    let pointer = |tag: u16| {
        ifd0.iter()
            .find(|e| e.0 == tag)
            .map(|e| e.3)
            .and_then(|at| tiff.u32(at))
    };
    let mut tags = Tags {
        captured_at: None,
        lat: None,
        lon: None,
        speed_kn: None,
        course_deg: None,
        heading_deg: None,
    };
    if let Some(exif_at) = pointer(0x8769) {
        let exif = tiff.entries(exif_at as usize);
        let text = |tag: u16| {
            exif.iter()
                .find(|e| e.0 == tag)
                .and_then(|e| tiff.ascii(e.3, e.2))
        };
        if let Some(dt) = text(0x9003) {
            let ms = text(0x9291)
                .and_then(|s| format!("{s:0<3}")[..3].parse::<u32>().ok())
                .unwrap_or(0);
            let iso = format!(
                "{}T{}.{ms:03}Z",
                dt.get(..10)?.replace(':', "-"),
                dt.get(11..19)?
            );
            tags.captured_at = Timestamp::parse_user(&iso).ok();
        }
    }
    if let Some(gps_at) = pointer(0x8825) {
        let gps = tiff.entries(gps_at as usize);
        let find = |tag: u16| gps.iter().find(|e| e.0 == tag);
        let text = |tag: u16| find(tag).and_then(|e| tiff.ascii(e.3, e.2));
        let number = |tag: u16| {
            find(tag)
                .and_then(|e| tiff.rationals(e.3, e.2))
                .and_then(|v| v.first().copied())
        };
        let degrees = |tag: u16| {
            let v = find(tag).and_then(|e| tiff.rationals(e.3, e.2))?;
            (v.len() == 3).then(|| v[0] + v[1] / 60.0 + v[2] / 3600.0)
        };
        let sign = |tag: u16, negative: &str| {
            if text(tag).as_deref() == Some(negative) {
                -1.0
            } else {
                1.0
            }
        };
        tags.lat = degrees(0x0002).map(|d| d * sign(0x0001, "S"));
        tags.lon = degrees(0x0004).map(|d| d * sign(0x0003, "W"));
        tags.speed_kn = number(0x000D);
        tags.course_deg = number(0x000F);
        tags.heading_deg = number(0x0011);
    }
    Some(tags)
}

#[cfg(test)]
mod read_tests {
    use super::*;

    #[test]
    fn what_is_written_reads_back() {
        let p = Position {
            lat: -33.856784,
            lon: 151.215297,
            fix: "3d",
            speed_kn: Some(12.5),
            course_deg: Some(271.25),
            heading_deg: Some(270.0),
            fix_age_ms: 100,
            interpolated: true,
            time_uncertainty_ms: 1000,
        };
        let at = Timestamp::parse_user("2026-11-24T08:05:09.123Z").unwrap();
        let mut jpeg = vec![0xFF, 0xD8];
        jpeg.extend(app1(at, Some(&p)));
        jpeg.extend([0xFF, 0xD9]);
        let t = read(&jpeg).unwrap();
        assert_eq!(t.captured_at, Some(at));
        assert!(
            (t.lat.unwrap() - p.lat).abs() < 1e-7 && (t.lon.unwrap() - p.lon).abs() < 1e-7,
            "{t:?}"
        );
        assert_eq!(
            (t.speed_kn, t.course_deg, t.heading_deg),
            (Some(12.5), Some(271.25), Some(270.0))
        );
        assert_eq!(read(&[0xFF, 0xD8, 0xFF, 0xD9]), None);
        assert_eq!(read(b"garbage"), None);
    }
}
