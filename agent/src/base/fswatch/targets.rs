//! Which folders hold an inotify watch at a given time: pure, so that the
//! bound is plain to see and tested. A month of minute folders (cameras × 30
//! × 24 × 60) is far more than inotify's `max_user_watches` allows, so only
//! the folders where changes are frequent and wanted quickly are watched:
//! `frames/` itself, each camera's folder, and for each camera the recent
//! hours — their year, month and day folders, the hour folders and every
//! minute folder up to now. Everything older is left to the slow scan.
//!
//! At most `1 + cameras × (1 + 3 × (recent_hours + 1) + (recent_hours + 1)
//! × 61)` folders: with the default (the current and the previous hour),
//! about 126 per camera.

use seaframe_wire::CameraId;

use crate::base::store::layout::folders;
use seaframe_wire::timestamp::Timestamp;

const HOUR_NS: i64 = 3_600_000_000_000;
const MINUTE_NS: i64 = 60_000_000_000;

/// The folders to watch at `now` (relative to `frames/`, `""` for
/// `frames/` itself), most wanted first: `frames/`, the cameras, then hour
/// by hour from the current one back over `recent_hours` more, each with
/// its parents and its minute folders newest first (minutes after `now`
/// are left out: they do not exist yet). A budget of watches keeps a prefix.
pub fn targets(cameras: &[CameraId], now: Timestamp, recent_hours: u32) -> Vec<String> {
    let mut out = vec![String::new()];
    out.extend(cameras.iter().map(ToString::to_string));
    let now_ns = now.unix_nanos();
    let this_hour_ns = now_ns - now_ns.rem_euclid(HOUR_NS);
    for back in 0..=i64::from(recent_hours) {
        let hour_ns = this_hour_ns - back * HOUR_NS;
        let last_minute = if back == 0 {
            (now_ns - this_hour_ns) / MINUTE_NS
        } else {
            59
        };
        for camera in cameras {
            let [year, month, day, hour, _] = folders(camera, Timestamp::from_unix_nanos(hour_ns));
            for folder in [year, month, day, hour] {
                if !out.contains(&folder) {
                    out.push(folder);
                }
            }
            for minute in (0..=last_minute).rev() {
                let at = Timestamp::from_unix_nanos(hour_ns + minute * MINUTE_NS);
                let [.., minute_folder] = folders(camera, at);
                out.push(minute_folder);
            }
        }
    }
    out
}

/// The minute `now` falls in (targets change only when it does).
pub fn minute_of(now: Timestamp) -> i64 {
    now.unix_nanos().div_euclid(MINUTE_NS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse_user(s).unwrap()
    }

    fn cams(names: &[&str]) -> Vec<CameraId> {
        names.iter().map(|n| CameraId::parse(n).unwrap()).collect()
    }

    #[test]
    fn the_current_and_previous_hour_with_their_parents() {
        let t = targets(&cams(&["bow"]), at("2026-03-10T14:02:30Z"), 1);
        let expected: Vec<&str> = [
            "",
            "bow",
            "bow/2026",
            "bow/2026/03",
            "bow/2026/03/10",
            "bow/2026/03/10/14",
            "bow/2026/03/10/14/02",
            "bow/2026/03/10/14/01",
            "bow/2026/03/10/14/00",
            "bow/2026/03/10/13",
        ]
        .to_vec();
        assert_eq!(t[..expected.len()], expected[..]);
        let minutes_13: Vec<&String> = t
            .iter()
            .filter(|f| f.starts_with("bow/2026/03/10/13/"))
            .collect();
        assert_eq!(minutes_13.len(), 60);
        assert_eq!(minutes_13[0], "bow/2026/03/10/13/59", "newest first");
        assert_eq!(t.len(), expected.len() + 60);
        // Nothing in the future, nothing older than the previous hour.
        assert!(
            !t.iter()
                .any(|f| f.ends_with("14/03") || f.starts_with("bow/2026/03/10/12"))
        );
    }

    #[test]
    fn midnight_of_a_new_year_watches_both_days_parents() {
        let t = targets(&cams(&["a"]), at("2027-01-01T00:00:05Z"), 1);
        for f in [
            "a/2027/01/01/00/00",
            "a/2026/12/31/23",
            "a/2026/12/31/23/59",
            "a/2026",
            "a/2026/12",
            "a/2026/12/31",
        ] {
            assert!(t.contains(&f.to_owned()), "{f} in {t:?}");
        }
        assert!(!t.contains(&"a/2027/01/01/00/01".to_owned()));
    }

    #[test]
    fn the_bound_grows_with_cameras_not_with_history() {
        let four = cams(&["a", "b", "c", "d"]);
        let t = targets(&four, at("2026-03-10T14:59:59Z"), 1);
        // 1 + 4 × (camera + year, month, day + 2 hours + 120 minutes).
        assert_eq!(t.len(), 1 + 4 * (1 + 3 + 2 + 120));
        let mut unique = t.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), t.len(), "no folder twice");
        // Priority: frames/ and the cameras first, the current hour before the previous.
        assert_eq!(&t[..5], ["", "a", "b", "c", "d"]);
        let pos = |f: &str| t.iter().position(|x| x == f).unwrap();
        assert!(pos("d/2026/03/10/14/00") < pos("a/2026/03/10/13/59"));
        // Only the current hour: 1 + 4 × (1 + 3 + 1 + 60).
        assert_eq!(
            targets(&four, at("2026-03-10T14:59:59Z"), 0).len(),
            1 + 4 * 65
        );
        assert_eq!(targets(&[], at("2026-03-10T14:59:59Z"), 1), [""]);
    }

    #[test]
    fn targets_change_with_the_minute() {
        assert_eq!(
            minute_of(at("2026-03-10T14:02:00Z")),
            minute_of(at("2026-03-10T14:02:59.999Z"))
        );
        assert_ne!(
            minute_of(at("2026-03-10T14:02:59.999Z")),
            minute_of(at("2026-03-10T14:03:00Z"))
        );
    }
}
