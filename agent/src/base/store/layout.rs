//! The on-disk layout, pure: a frame's path relative to `frames/` is
//! `<camera>/<YYYY>/<MM>/<DD>/<HH>/<mm>/<SS.fff>-<seq>.jpg` in UTC, built
//! only from a validated [`CameraId`], a [`Timestamp`] and a number — and
//! parsed back (for reconcile) only when every part is well formed. The
//! folders above a frame (camera, year, month, day, hour, minute) are named
//! and recognised here too.

use seaframe_wire::CameraId;

use seaframe_wire::timestamp::Timestamp;

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

/// Depth of a minute folder below `frames/` (camera 1, year 2, … minute 6).
pub const MINUTE_DEPTH: usize = 6;

/// The folders above `camera`'s frames of the minute of `at`, relative to
/// `frames/`: year, month, day, hour and minute (depths 2 to 6).
pub fn folders(camera: &CameraId, at: Timestamp) -> [String; 5] {
    let dt = at.to_datetime();
    let year = format!("{camera}/{:04}", dt.year());
    let month = format!("{year}/{:02}", u8::from(dt.month()));
    let day = format!("{month}/{:02}", dt.day());
    let hour = format!("{day}/{:02}", dt.hour());
    let minute = format!("{hour}/{:02}", dt.minute());
    [year, month, day, hour, minute]
}

/// The depth of a well-formed folder path relative to `frames/` (`""` is
/// 0, a camera 1, … a minute folder [`MINUTE_DEPTH`]); `None` for anything
/// the layout does not make.
pub fn folder_depth(rel: &str) -> Option<usize> {
    if rel.is_empty() {
        return Some(0);
    }
    let parts: Vec<&str> = rel.split('/').collect();
    let (camera, numbers) = parts.split_first()?;
    CameraId::parse(camera).ok()?;
    // Year, month, day, hour, minute: digits and plausible values.
    let ranges: [(usize, u16, u16); 5] =
        [(4, 0, 9999), (2, 1, 12), (2, 1, 31), (2, 0, 23), (2, 0, 59)];
    if numbers.len() > ranges.len() {
        return None;
    }
    for (part, (digits, lo, hi)) in numbers.iter().zip(ranges) {
        let n: u16 = number(part, digits)?;
        if !(lo..=hi).contains(&n) {
            return None;
        }
    }
    Some(parts.len())
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

    #[test]
    fn folders_are_named_and_recognised() {
        let cam = CameraId::parse("bridge").unwrap();
        let t = Timestamp::parse_user("2026-11-24T08:05:09Z").unwrap();
        let f = folders(&cam, t);
        assert_eq!(f[4], "bridge/2026/11/24/08/05");
        for (i, folder) in f.iter().enumerate() {
            assert_eq!(folder_depth(folder), Some(i + 2), "{folder}");
        }
        assert_eq!(folder_depth(""), Some(0));
        assert_eq!(folder_depth("bridge"), Some(1));
        for bad in [
            "Bridge",
            "bridge/26",
            "bridge/2026/13",
            "bridge/2026/11/24/24",
            "bridge/2026/11/24/08/05/09",
            "bridge/2026/x1",
        ] {
            assert_eq!(folder_depth(bad), None, "{bad}");
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
