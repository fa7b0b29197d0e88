//! Decimation checked on synthetic tracks whose turns, stop and gap are
//! known: each kept within tolerance, the gap a break, the budget held.

use super::*;

const DEG_PER_M: f64 = 1.0 / M_PER_DEG;

/// A ship at 1 fix/s on the equator's scale, from `(lat, lon)` at `t0_s`,
/// with a little deterministic noise (±`noise_m`).
struct Sailor {
    t_s: i64,
    lat: f64,
    lon: f64,
    seed: u64,
    noise_m: f64,
    out: Vec<TrackPoint>,
}

impl Sailor {
    fn new(t_s: i64, lat: f64, lon: f64, noise_m: f64) -> Self {
        let mut s = Self {
            t_s,
            lat,
            lon,
            seed: 7,
            noise_m,
            out: Vec::new(),
        };
        s.fix();
        s
    }

    fn jitter(&mut self) -> f64 {
        self.seed = self
            .seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.seed >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) * self.noise_m * DEG_PER_M
    }

    fn fix(&mut self) {
        let (jl, jn) = (self.jitter(), self.jitter());
        let lon = (self.lon + jn + 180.0).rem_euclid(360.0) - 180.0;
        self.out.push(TrackPoint {
            at_ms: self.t_s * 1000,
            lat: self.lat + jl,
            lon,
        });
    }

    /// `secs` seconds at (`east_mps`, `north_mps`).
    fn sail(&mut self, secs: i64, east_mps: f64, north_mps: f64) {
        for _ in 0..secs {
            self.t_s += 1;
            self.lat += north_mps * DEG_PER_M;
            self.lon += east_mps * DEG_PER_M / self.lat.to_radians().cos();
            self.fix();
        }
    }

    /// `secs` seconds of silence, the ship moving on unseen.
    fn gap(&mut self, secs: i64, east_mps: f64) {
        self.t_s += secs;
        self.lon += east_mps * secs as f64 * DEG_PER_M;
        self.fix();
    }

    fn at(&self, t_s: i64) -> TrackPoint {
        *self
            .out
            .iter()
            .find(|p| p.at_ms == t_s * 1000)
            .expect("a fix at that second")
    }
}

fn dist_m(a: &TrackPoint, b: &TrackPoint) -> f64 {
    let cos_lat = a.lat.to_radians().cos();
    (lon_delta(a.lon, b.lon) * cos_lat).hypot(b.lat - a.lat) * M_PER_DEG
}

/// East, a turn north, a 10-minute stop, west, an hour's gap, south.
fn voyage(noise_m: f64) -> Sailor {
    let mut s = Sailor::new(0, 10.0, 20.0, noise_m);
    s.sail(1000, 10.0, 0.0); // turn at t = 1000
    s.sail(1000, 0.0, 10.0); // stop from t = 2000
    s.sail(600, 0.0, 0.0); // under way again at t = 2600
    s.sail(1000, -10.0, 0.0); // last fix before the gap: t = 3600
    s.gap(3600, 5.0); // first fix after it: t = 7200
    s.sail(1000, 0.0, -10.0);
    s
}

/// The kept points, flat, with their segment number.
fn kept(points: &[TrackPoint], segs: &[Vec<usize>]) -> Vec<(usize, TrackPoint)> {
    segs.iter()
        .enumerate()
        .flat_map(|(n, s)| s.iter().map(move |i| (n, points[*i])))
        .collect()
}

#[test]
fn turns_stops_ends_and_the_gap_survive_within_the_budget() {
    let s = voyage(3.0);
    let pts = &s.out;
    assert_eq!(pts.len(), 4602);
    for max in [12, 25, 50, 200] {
        let segs = decimate(pts, max, GAP_MS);
        let k = kept(pts, &segs);
        assert!(k.len() <= max, "{} points for {max}", k.len());
        // The gap is a break: two segments, split exactly at it.
        assert_eq!(segs.len(), 2, "max {max}");
        assert_eq!(k.iter().rfind(|(n, _)| *n == 0).unwrap().1.at_ms, 3_600_000);
        assert_eq!(k.iter().find(|(n, _)| *n == 1).unwrap().1.at_ms, 7_200_000);
        // The first and last fix.
        assert_eq!(k[0].1, pts[0]);
        assert_eq!(k[k.len() - 1].1, pts[pts.len() - 1]);
        // Every turn, and the stop's both ends (in place and in time),
        // within 30 m and 10 s.
        for t in [1000, 2000, 2600] {
            let want = s.at(t);
            let near = k
                .iter()
                .any(|(_, p)| dist_m(p, &want) < 30.0 && (p.at_ms - want.at_ms).abs() <= 10_000);
            assert!(near, "max {max}: nothing kept near the turn at t = {t} s");
        }
    }
}

#[test]
fn every_fix_is_kept_when_the_budget_allows() {
    let s = voyage(0.0);
    let segs = decimate(&s.out, 10_000, GAP_MS);
    assert_eq!(segs.iter().map(Vec::len).sum::<usize>(), s.out.len());
    assert_eq!(segs.len(), 2);
}

#[test]
fn the_budget_holds_even_below_the_segment_ends() {
    // Ten segments (20 ends) squeezed into budgets from 2 up.
    let mut s = Sailor::new(0, 0.0, 0.0, 1.0);
    for _ in 0..9 {
        s.sail(100, 5.0, 0.0);
        s.gap(600, 5.0);
    }
    for max in 2..40 {
        let n: usize = decimate(&s.out, max, GAP_MS).iter().map(Vec::len).sum();
        assert!(n <= max && n >= 2, "{n} for {max}");
    }
    assert!(decimate(&[], 10, GAP_MS).is_empty());
}

#[test]
fn crossing_the_antimeridian_is_no_turn() {
    // East across 180° then a turn north: with room for 3 points, the turn
    // is the one kept between the ends, not the crossing.
    let mut s = Sailor::new(0, -16.0, 179.9, 0.0);
    s.sail(2000, 10.0, 0.0);
    s.sail(500, 0.0, 10.0);
    assert!(s.out.iter().any(|p| p.lon > 179.0) && s.out.iter().any(|p| p.lon < -179.0));
    let segs = decimate(&s.out, 3, GAP_MS);
    assert_eq!(segs.len(), 1);
    let k: Vec<i64> = segs[0].iter().map(|i| s.out[*i].at_ms).collect();
    assert_eq!(k, vec![0, 2_000_000, 2_500_000]);
}

#[test]
fn lon_delta_goes_the_short_way() {
    assert!((lon_delta(179.9, -179.9) - 0.2).abs() < 1e-9);
    assert!((lon_delta(-179.9, 179.9) + 0.2).abs() < 1e-9);
    assert!((lon_delta(10.0, 20.0) - 10.0).abs() < 1e-9);
}

#[test]
fn long_ranges_are_read_in_buckets_that_gaps_outlast() {
    assert_eq!(read_bucket_ms(MAX_READ_FIXES, 0, 1_000_000_000), 0);
    // A year at 1 Hz: read one per 158 s, a gap is then 474 s or more.
    let year_ms = 365 * 86_400_000;
    let b = read_bucket_ms(31_536_000, 0, year_ms);
    assert_eq!(b, 157_681);
    assert!(year_ms / b <= MAX_READ_FIXES as i64);
    assert_eq!(gap_ms_for(0), GAP_MS);
    assert_eq!(gap_ms_for(b), 3 * b);
}

#[test]
fn the_line_is_one_string_or_broken_at_gaps_and_needs_two_points() {
    let p = |at_ms: i64, lon: f64| TrackPoint {
        at_ms,
        lat: 50.0,
        lon,
    };
    let points = [p(0, 1.0), p(1000, 1.5), p(2000, 2.0), p(900_000, 3.0)];
    let one = line_geometry(&points, &[vec![0, 1, 2]]).unwrap();
    assert_eq!(one["type"], "LineString");
    assert_eq!(one["coordinates"][2], serde_json::json!([2.0, 50.0]));
    let broken = line_geometry(&points, &[vec![0, 2], vec![3]]).unwrap();
    assert_eq!(broken["type"], "MultiLineString");
    assert_eq!(broken["coordinates"][1][0], serde_json::json!([3.0, 50.0]));
    assert_eq!(line_geometry(&points, &[vec![3]]), None);
}

#[test]
fn max_points_is_checked() {
    assert_eq!(max_points_param(None), Ok(DEFAULT_MAX_POINTS));
    assert_eq!(max_points_param(Some("2")), Ok(2));
    for bad in ["1", "x", "-5", "100001"] {
        assert!(max_points_param(Some(bad)).is_err(), "{bad}");
    }
}
