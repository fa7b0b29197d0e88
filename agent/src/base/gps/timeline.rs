//! The ship's recent track and the position at any instant: fixes kept in
//! time order (by the receiver's own time), a frame's position interpolated
//! between the two fixes around its capture instant, else taken from the
//! latest fix if it is young enough, else none.

use std::collections::VecDeque;

use serde::Serialize;

use crate::base::gps::fix::Fix;
use seaframe_wire::timestamp::Timestamp;

/// Fixes kept for tagging and for the track recorder to pick up (an hour
/// at 1 Hz; the track itself is kept in the index).
pub const KEPT_FIXES: usize = 3600;

/// NMEA time is good to about a second, and sentences lag the epoch by up
/// to a few hundred ms: the uncertainty claimed for a position's time.
pub const NMEA_TIME_UNCERTAINTY_MS: u32 = 1000;

/// Where the ship was at a frame's capture instant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Position {
    pub lat: f64,
    pub lon: f64,
    /// The quality of the fix(es) it comes from (`3d`, `dgps`, `rtk`…).
    pub fix: &'static str,
    pub speed_kn: Option<f64>,
    pub course_deg: Option<f64>,
    pub heading_deg: Option<f64>,
    /// Time from the nearest fix used to the instant, ms.
    pub fix_age_ms: u32,
    /// Between two fixes (true) or from the latest one (false).
    pub interpolated: bool,
    /// How far the position's time may be off, ms.
    pub time_uncertainty_ms: u32,
}

#[derive(Debug)]
pub struct Timeline {
    fixes: VecDeque<Fix>,
    max_fix_age_ms: i64,
}

impl Timeline {
    pub fn new(max_fix_age_s: u64) -> Self {
        Self {
            fixes: VecDeque::with_capacity(64),
            max_fix_age_ms: i64::try_from(max_fix_age_s.saturating_mul(1000)).unwrap_or(i64::MAX),
        }
    }

    /// Adds a fix in time order (a repeated time replaces the earlier one).
    pub fn push(&mut self, fix: Fix) {
        let at = self.fixes.partition_point(|f| f.time < fix.time);
        if self.fixes.get(at).is_some_and(|f| f.time == fix.time) {
            self.fixes[at] = fix;
        } else {
            self.fixes.insert(at, fix);
        }
        while self.fixes.len() > KEPT_FIXES {
            self.fixes.pop_front();
        }
    }

    /// The time between the last two fixes (1 s until there are two).
    pub fn interval_ns(&self) -> i64 {
        let n = self.fixes.len();
        if n < 2 {
            return 1_000_000_000;
        }
        (self.fixes[n - 1].time.unix_nanos() - self.fixes[n - 2].time.unix_nanos()).max(1)
    }

    pub fn latest(&self) -> Option<&Fix> {
        self.fixes.back()
    }

    /// Fixes in `[from, to)`, oldest first.
    pub fn between(&self, from: Timestamp, to: Timestamp) -> impl Iterator<Item = &Fix> {
        self.fixes
            .iter()
            .filter(move |f| f.time >= from && f.time < to)
    }

    /// The position at `t`.
    pub fn position_at(&self, t: Timestamp) -> Option<Position> {
        let after = self.fixes.partition_point(|f| f.time <= t);
        let before = after.checked_sub(1).and_then(|i| self.fixes.get(i));
        let next = self.fixes.get(after);
        let ms = |a: Timestamp, b: Timestamp| (b.unix_nanos() - a.unix_nanos()) / 1_000_000;
        match (before, next) {
            (Some(a), Some(b)) if ms(a.time, b.time) <= self.max_fix_age_ms => {
                let span = (b.time.unix_nanos() - a.time.unix_nanos()) as f64;
                let k = (t.unix_nanos() - a.time.unix_nanos()) as f64 / span;
                let mut dlon = b.lon - a.lon;
                if dlon > 180.0 {
                    dlon -= 360.0;
                } else if dlon < -180.0 {
                    dlon += 360.0;
                }
                let mut lon = a.lon + dlon * k;
                if lon > 180.0 {
                    lon -= 360.0;
                } else if lon < -180.0 {
                    lon += 360.0;
                }
                let nearest = if k < 0.5 { a } else { b };
                let age = ms(a.time, t).min(ms(t, b.time));
                Some(Position {
                    lat: a.lat + (b.lat - a.lat) * k,
                    lon,
                    fix: if a.quality_name() == b.quality_name() {
                        a.quality_name()
                    } else {
                        nearest.quality_name()
                    },
                    speed_kn: nearest.speed_kn,
                    course_deg: nearest.course_deg,
                    heading_deg: nearest.heading_deg,
                    fix_age_ms: u32::try_from(age).unwrap_or(u32::MAX),
                    interpolated: true,
                    time_uncertainty_ms: NMEA_TIME_UNCERTAINTY_MS,
                })
            }
            (Some(a), _) if ms(a.time, t) <= self.max_fix_age_ms => Some(Position {
                lat: a.lat,
                lon: a.lon,
                fix: a.quality_name(),
                speed_kn: a.speed_kn,
                course_deg: a.course_deg,
                heading_deg: a.heading_deg,
                fix_age_ms: u32::try_from(ms(a.time, t)).unwrap_or(u32::MAX),
                interpolated: false,
                time_uncertainty_ms: NMEA_TIME_UNCERTAINTY_MS,
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fix(ms: i64, lat: f64, lon: f64) -> Fix {
        Fix {
            time: Timestamp::from_unix_millis(ms),
            lat,
            lon,
            mode: 3,
            quality: 1,
            satellites: Some(8),
            hdop: Some(1.0),
            altitude_m: Some(3.0),
            speed_kn: Some(12.0),
            course_deg: Some(90.0),
            heading_deg: Some(91.0),
        }
    }

    #[test]
    fn interpolates_between_the_fixes_around_an_instant() {
        let mut t = Timeline::new(10);
        t.push(fix(2000, 10.0, 20.0));
        t.push(fix(1000, 0.0, 0.0)); // out of order: sorted in
        let p = t.position_at(Timestamp::from_unix_millis(1250)).unwrap();
        assert!(
            (p.lat - 2.5).abs() < 1e-12 && (p.lon - 5.0).abs() < 1e-12,
            "{p:?}"
        );
        assert!(p.interpolated);
        assert_eq!(p.fix_age_ms, 250);
    }

    #[test]
    fn crosses_the_antimeridian_the_short_way() {
        let mut t = Timeline::new(10);
        t.push(fix(0, 0.0, 179.0));
        t.push(fix(1000, 0.0, -179.0));
        let p = t.position_at(Timestamp::from_unix_millis(750)).unwrap();
        assert!((p.lon - -179.5).abs() < 1e-9, "{p:?}");
    }

    #[test]
    fn the_latest_fix_serves_until_it_is_too_old() {
        let mut t = Timeline::new(10);
        t.push(fix(1000, 1.0, 2.0));
        let p = t.position_at(Timestamp::from_unix_millis(4000)).unwrap();
        assert_eq!((p.lat, p.fix_age_ms, p.interpolated), (1.0, 3000, false));
        assert_eq!(t.position_at(Timestamp::from_unix_millis(11_001)), None);
        assert_eq!(
            t.position_at(Timestamp::from_unix_millis(500)),
            None,
            "before any fix"
        );
    }
}
