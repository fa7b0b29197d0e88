//! Track decimation both ends serve long ranges with: a track cut into
//! segments at its gaps, each thinned by time-aware Douglas-Peucker.
//!
//! The distance a point is judged by is the synchronized Euclidean distance
//! (SED, Meratnia & de By's "top-down time-ratio"): from the point to where
//! the ship would be at the point's time moving evenly along the chord.
//! A turn is far from the chord; a stop is far from the even motion (the
//! chord keeps moving while the ship does not), so both are kept, with the
//! first and last fix of every segment. A gap (no fix for longer than
//! `gap_ms`) ends a segment: a link or GPS outage shows as a break, never a
//! straight line drawn through it. Every point gets a rank (the largest
//! tolerance at which Douglas-Peucker would still keep it, clamped by its
//! parent's so that ranks nest); the `max_points` of highest rank are kept,
//! which is Douglas-Peucker at the finest tolerance that fits the budget.
//! Longitudes are taken the short way round, so a track across the
//! antimeridian is judged as the ship sailed it.

/// A fix as decimation sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackPoint {
    pub at_ms: i64,
    pub lat: f64,
    pub lon: f64,
}

/// No fix for longer than this (ms) breaks the track, by default.
pub const GAP_MS: i64 = 60_000;

/// The points a track is served in when the request names no `max_points`,
/// and the most it may name.
pub const DEFAULT_MAX_POINTS: usize = 5_000;
pub const MAX_MAX_POINTS: usize = 100_000;

/// Fixes read at most to serve one range: a range holding more is read as
/// the first fix of each of this many equal time buckets, then decimated.
pub const MAX_READ_FIXES: u64 = 200_000;

/// A track query's `max_points`: absent, [`DEFAULT_MAX_POINTS`]; else a
/// number from 2 to [`MAX_MAX_POINTS`], or why it is not (for the
/// service's own error naming the parameter).
pub fn max_points_param(value: Option<&str>) -> Result<usize, String> {
    match value {
        None => Ok(DEFAULT_MAX_POINTS),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (2..=MAX_MAX_POINTS).contains(&n) => Ok(n),
            _ => Err(format!("{s:?} is not a number from 2 to {MAX_MAX_POINTS}")),
        },
    }
}

/// A range's track as both ends serve it, a GeoJSON `FeatureCollection`:
/// `points` (read with `bucket_ms`, see [`read_bucket_ms`]) decimated to
/// `max_points`, the line first (with `line_properties`; none with fewer
/// than two points kept), then `point_feature(i)` for each point `i` kept,
/// in time order.
pub fn feature_collection(
    points: &[TrackPoint],
    max_points: usize,
    bucket_ms: i64,
    line_properties: serde_json::Value,
    point_feature: impl Fn(usize) -> serde_json::Value,
) -> serde_json::Value {
    let segments = decimate(points, max_points, gap_ms_for(bucket_ms));
    let mut features = Vec::new();
    if let Some(line) = line_geometry(points, &segments) {
        features.push(serde_json::json!({
            "type": "Feature", "geometry": line, "properties": line_properties,
        }));
    }
    features.extend(segments.iter().flatten().map(|i| point_feature(*i)));
    serde_json::json!({"type": "FeatureCollection", "features": features})
}

/// The GeoJSON geometry of the kept points of `segments` (indices into
/// `points`, as [`decimate`] gives them): a `LineString`, or a
/// `MultiLineString` when gaps break the track; none with fewer than two
/// points.
fn line_geometry(points: &[TrackPoint], segments: &[Vec<usize>]) -> Option<serde_json::Value> {
    let lines: Vec<Vec<[f64; 2]>> = segments
        .iter()
        .map(|s| s.iter().map(|i| [points[*i].lon, points[*i].lat]).collect())
        .collect();
    if lines.iter().map(Vec::len).sum::<usize>() < 2 {
        return None;
    }
    Some(match lines.as_slice() {
        [one] => serde_json::json!({"type": "LineString", "coordinates": one}),
        _ => serde_json::json!({"type": "MultiLineString", "coordinates": lines}),
    })
}

/// The bucket (ms) to read `count` fixes spanning `first_ms..=last_ms` in;
/// 0: read every fix.
pub fn read_bucket_ms(count: u64, first_ms: i64, last_ms: i64) -> i64 {
    if count <= MAX_READ_FIXES {
        0
    } else {
        (last_ms - first_ms) / MAX_READ_FIXES as i64 + 1
    }
}

/// The gap threshold for fixes read one per `bucket_ms` (two read fixes
/// may lie almost two buckets apart with no gap between them).
pub fn gap_ms_for(bucket_ms: i64) -> i64 {
    GAP_MS.max(bucket_ms.saturating_mul(3))
}

/// Metres per degree of latitude (and of longitude at the equator).
const M_PER_DEG: f64 = 111_195.0;

/// The indices of `points` (in time order) to keep, by segment: at most
/// `max_points` in all (at least 2 are kept when there are 2), each segment
/// with its first and last point while the budget allows.
pub fn decimate(points: &[TrackPoint], max_points: usize, gap_ms: i64) -> Vec<Vec<usize>> {
    let segments = split_at_gaps(points, gap_ms);
    let keep: Vec<bool> = if points.len() <= max_points {
        vec![true; points.len()]
    } else {
        let rank = ranks(points, &segments);
        let mut order: Vec<usize> = (0..points.len()).collect();
        // Highest rank first; among equals (segment ends), the earliest.
        order.sort_by(|a, b| rank[*b].total_cmp(&rank[*a]).then(a.cmp(b)));
        let mut keep = vec![false; points.len()];
        for i in order.into_iter().take(max_points.max(2)) {
            keep[i] = true;
        }
        keep
    };
    segments
        .into_iter()
        .map(|(a, b)| (a..=b).filter(|i| keep[*i]).collect::<Vec<_>>())
        .filter(|s| !s.is_empty())
        .collect()
}

/// `(first, last)` index of each run of points with no gap inside.
fn split_at_gaps(points: &[TrackPoint], gap_ms: i64) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..points.len() {
        if points[i].at_ms - points[i - 1].at_ms > gap_ms {
            out.push((start, i - 1));
            start = i;
        }
    }
    if !points.is_empty() {
        out.push((start, points.len() - 1));
    }
    out
}

/// Each point's rank: infinite for segment ends, else its SED to the chord
/// that Douglas-Peucker tested it against, at most its parent's rank.
fn ranks(points: &[TrackPoint], segments: &[(usize, usize)]) -> Vec<f64> {
    let mut rank = vec![0.0; points.len()];
    let mut stack: Vec<(usize, usize, f64)> = Vec::new();
    for &(a, b) in segments {
        rank[a] = f64::INFINITY;
        rank[b] = f64::INFINITY;
        stack.push((a, b, f64::INFINITY));
    }
    while let Some((a, b, ceiling)) = stack.pop() {
        if b <= a + 1 {
            continue;
        }
        let (mut far, mut far_m) = (a + 1, -1.0);
        for (i, p) in points.iter().enumerate().take(b).skip(a + 1) {
            let d = sed_m(&points[a], &points[b], p);
            if d > far_m {
                (far, far_m) = (i, d);
            }
        }
        let r = far_m.min(ceiling);
        rank[far] = r;
        stack.push((a, far, r));
        stack.push((far, b, r));
    }
    rank
}

/// `lon - from` taken the short way round, in degrees (−180, 180].
pub fn lon_delta(from: f64, lon: f64) -> f64 {
    let d = (lon - from).rem_euclid(360.0);
    if d > 180.0 { d - 360.0 } else { d }
}

/// Synchronized Euclidean distance of `p` from the chord `a`–`b`, metres
/// (a local flat projection: good to a fraction for chords of hundreds of
/// kilometres, which is all a ranking needs).
fn sed_m(a: &TrackPoint, b: &TrackPoint, p: &TrackPoint) -> f64 {
    let span_ms = (b.at_ms - a.at_ms) as f64;
    let f = if span_ms > 0.0 {
        ((p.at_ms - a.at_ms) as f64 / span_ms).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let cos_lat = ((a.lat + b.lat) / 2.0).to_radians().cos();
    let (bx, by) = (lon_delta(a.lon, b.lon) * cos_lat, b.lat - a.lat);
    let (px, py) = (lon_delta(a.lon, p.lon) * cos_lat, p.lat - a.lat);
    let (dx, dy) = (px - bx * f, py - by * f);
    dx.hypot(dy) * M_PER_DEG
}

#[cfg(test)]
#[path = "track_tests.rs"]
mod tests;
