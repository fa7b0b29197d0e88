//! A JPEG's EXIF, written by us (no re-encode): an APP1 segment with the
//! capture time (DateTimeOriginal, SubSecTimeOriginal, OffsetTime*) and,
//! when known, the position (GPS IFD: latitude, longitude, time, date,
//! speed in knots, track and heading, true). Big-endian TIFF. With it a
//! frame describes itself, and the index can be rebuilt from disk alone.

use crate::gps::timeline::Position;
use crate::timestamp::Timestamp;

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
