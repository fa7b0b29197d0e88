//! The on-disk layout, pure: a frame's path relative to `frames/` is
//! `<camera>/<YYYY>/<MM>/<DD>/<HH>/<mm>/<SS.fff>-<seq>.jpg` in UTC, built
//! only from a validated [`CameraId`], a [`Timestamp`] and a number — and
//! parsed back (for reconcile) only when every part is well formed.

use seaframe_wire::CameraId;

use crate::timestamp::Timestamp;

/// The relative path of a frame's file.
pub fn rel_path(camera: &CameraId, captured_at: Timestamp, seq: u64) -> String {
    let dt = captured_at.to_datetime();
    format!(
        "{camera}/{:04}/{:02}/{:02}/{:02}/{:02}/{:02}.{:03}-{seq}.jpg",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.millisecond(),
    )
}

/// What a well-formed relative path says: camera, capture time to the
/// millisecond, and seq.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedPath {
    pub camera: CameraId,
    pub captured_at_ms: Timestamp,
    pub seq: u64,
}

fn number<T: std::str::FromStr>(s: &str, digits: usize) -> Option<T> {
    (s.len() == digits && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// Parses a path made by [`rel_path`]; `None` for anything else.
pub fn parse_rel_path(path: &str) -> Option<ParsedPath> {
    let parts: Vec<&str> = path.split('/').collect();
    let [camera, year, month, day, hour, minute, file] = parts.as_slice() else {
        return None;
    };
    let camera = CameraId::parse(camera).ok()?;
    let (stamp, seq) = file.strip_suffix(".jpg")?.split_once('-')?;
    let (second, milli) = stamp.split_once('.')?;
    let seq: u64 = (!seq.is_empty() && seq.bytes().all(|b| b.is_ascii_digit()))
        .then(|| seq.parse().ok())
        .flatten()?;
    let month = time::Month::try_from(number::<u8>(month, 2)?).ok()?;
    let date = time::Date::from_calendar_date(number(year, 4)?, month, number(day, 2)?).ok()?;
    let time = time::Time::from_hms_milli(
        number(hour, 2)?,
        number(minute, 2)?,
        number(second, 2)?,
        number(milli, 3)?,
    )
    .ok()?;
    let ns = time::PrimitiveDateTime::new(date, time)
        .assume_utc()
        .unix_timestamp_nanos();
    Some(ParsedPath {
        camera,
        captured_at_ms: Timestamp::from_unix_nanos(i64::try_from(ns).ok()?),
        seq,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lays_out_by_utc_date_and_time() {
        let cam = CameraId::parse("bridge").unwrap();
        let t = Timestamp::parse_user("2026-11-24T08:05:09.123456789Z").unwrap();
        assert_eq!(
            rel_path(&cam, t, 42),
            "bridge/2026/11/24/08/05/09.123-42.jpg"
        );
    }

    #[test]
    fn refuses_what_it_did_not_make() {
        for p in [
            "../2026/11/24/08/05/09.123-42.jpg",
            "/bridge/2026/11/24/08/05/09.123-42.jpg",
            "bridge/2026/11/24/08/05/09.123-42.jpg.tmp",
            "bridge/2026/13/24/08/05/09.123-42.jpg",
            "bridge/2026/11/24/08/05/9.123-42.jpg",
            "bridge/2026/11/24/08/05/09.123-.jpg",
            "bridge/2026/11/24/08/05/09.123-4a.jpg",
            "bridge/2026/11/24/08/05/x/09.123-4.jpg",
        ] {
            assert_eq!(parse_rel_path(p), None, "{p}");
        }
    }

    proptest! {
        #[test]
        fn round_trips(ns in 0i64..4_102_444_800_000_000_000, seq in any::<u64>()) {
            let cam = CameraId::parse("mast-2").unwrap();
            let t = Timestamp::from_unix_nanos(ns);
            let parsed = parse_rel_path(&rel_path(&cam, t, seq)).unwrap();
            prop_assert_eq!(parsed.camera, cam);
            prop_assert_eq!(parsed.seq, seq);
            prop_assert_eq!(parsed.captured_at_ms.unix_millis(), t.unix_millis());
        }
    }
}
