//! Frames by place and by instant, on the index ([`Index`]): a lat/lon box
//! (the R*Tree, or the time index for a box that holds most frames), the
//! frame nearest an instant, and one frame per second (`picks`).

use rusqlite::{OptionalExtension, params};
use seaframe_wire::CameraId;

use crate::adapters::store::index::{COLUMNS, Index, row_to_frame};
use crate::adapters::store::{Cursor, FrameRow, GeoBox, Pick, StoreError};
use seaframe_wire::timestamp::Timestamp;

/// A place box holding at least this many frames is searched from the time
/// index rather than from the R*Tree (`query_box`).
const BIG_BOX_FRAMES: i64 = 20_000;

impl Index {
    /// Frames inside a lat/lon box (`min_lon > max_lon` crosses the
    /// antimeridian) in `[from, to)`, oldest first, after the cursor.
    pub fn query_box(
        &self,
        b: &GeoBox,
        from: Timestamp,
        to: Timestamp,
        after: Option<Cursor>,
        limit: u32,
    ) -> Result<(Vec<FrameRow>, bool), StoreError> {
        let conn = self.reader.lock().expect("index reader lock poisoned");
        let (after_ns, after_id) =
            after.map_or((i64::MIN, i64::MIN), |c| (c.captured_at.unix_nanos(), c.id));
        let wraps = b.min_lon > b.max_lon;
        // Two plans; which is fast depends on how much of the index the box
        // holds. A small box (few frames in it, whatever the time range):
        // start from the R*Tree and sort what it finds. A big box (a day of
        // track, a busy harbour): walk the time index and keep the frames
        // inside the box, which fills a page at once. Counting the box's
        // frames up to the threshold decides.
        let geo_lon = if wraps {
            "(min_lon >= ?3 OR max_lon <= ?4)"
        } else {
            "min_lon >= ?3 AND max_lon <= ?4"
        };
        let in_box: i64 = conn
            .prepare_cached(&format!(
                "SELECT COUNT(*) FROM (SELECT 1 FROM frames_geo \
                 WHERE min_lat >= ?1 AND max_lat <= ?2 AND {geo_lon} LIMIT ?5)"
            ))?
            .query_row(
                params![b.min_lat, b.max_lat, b.min_lon, b.max_lon, BIG_BOX_FRAMES],
                |r| r.get(0),
            )?;
        let cols = COLUMNS
            .split(", ")
            .map(|c| format!("f.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = if in_box < BIG_BOX_FRAMES {
            let lon_clause = if wraps {
                "(g.max_lon >= ?3 - 1e-4 OR g.min_lon <= ?4 + 1e-4) AND (f.lon >= ?3 OR f.lon <= ?4)"
            } else {
                "g.max_lon >= ?3 - 1e-4 AND g.min_lon <= ?4 + 1e-4 AND f.lon >= ?3 AND f.lon <= ?4"
            };
            // CROSS JOIN makes SQLite start from the R*Tree: left to itself
            // it walks the time index and probes the tree per row. The tree
            // keeps 32-bit floats (rounded outwards), so it is searched a
            // little wider and the exact columns decide.
            format!(
                "SELECT {cols} FROM frames_geo g CROSS JOIN frames f ON f.id = g.id \
                 WHERE g.max_lat >= ?1 - 1e-4 AND g.min_lat <= ?2 + 1e-4 AND {lon_clause} \
                   AND f.lat >= ?1 AND f.lat <= ?2 \
                   AND f.garbage = 0 AND f.captured_at_ns >= ?5 AND f.captured_at_ns < ?6 \
                   AND (f.captured_at_ns, f.id) > (?7, ?8) \
                 ORDER BY f.captured_at_ns, f.id LIMIT ?9"
            )
        } else {
            let lon_clause = if wraps {
                "(f.lon >= ?3 OR f.lon <= ?4)"
            } else {
                "f.lon >= ?3 AND f.lon <= ?4"
            };
            format!(
                "SELECT {cols} FROM frames f INDEXED BY frames_by_time \
                 WHERE f.captured_at_ns >= ?5 AND f.captured_at_ns < ?6 \
                   AND (f.captured_at_ns, f.id) > (?7, ?8) AND f.garbage = 0 \
                   AND f.lat >= ?1 AND f.lat <= ?2 AND {lon_clause} \
                 ORDER BY f.captured_at_ns, f.id LIMIT ?9"
            )
        };
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows: Vec<FrameRow> = stmt
            .query_map(
                params![
                    b.min_lat,
                    b.max_lat,
                    b.min_lon,
                    b.max_lon,
                    from.unix_nanos(),
                    to.unix_nanos(),
                    after_ns,
                    after_id,
                    i64::from(limit) + 1
                ],
                row_to_frame,
            )?
            .collect::<Result<_, _>>()?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        Ok((rows, more))
    }

    /// The frame of `camera` nearest in time to `at` (either side).
    pub fn nearest(
        &self,
        camera: &CameraId,
        at: Timestamp,
    ) -> Result<Option<FrameRow>, StoreError> {
        let conn = self.reader.lock().expect("index reader lock poisoned");
        let mut before = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM frames WHERE garbage = 0 AND camera = ?1 AND captured_at_ns <= ?2 \
             ORDER BY captured_at_ns DESC, id DESC LIMIT 1"
        ))?;
        let a = before
            .query_row(params![camera.as_str(), at.unix_nanos()], row_to_frame)
            .optional()?;
        let mut after = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM frames WHERE garbage = 0 AND camera = ?1 AND captured_at_ns > ?2 \
             ORDER BY captured_at_ns, id LIMIT 1"
        ))?;
        let b = after
            .query_row(params![camera.as_str(), at.unix_nanos()], row_to_frame)
            .optional()?;
        let gap = |f: &FrameRow| (f.captured_at.unix_nanos() - at.unix_nanos()).unsigned_abs();
        Ok(match (a, b) {
            (Some(a), Some(b)) => Some(if gap(&b) < gap(&a) { b } else { a }),
            (a, b) => a.or(b),
        })
    }

    /// One frame per `every_ns` slot (slots aligned on the Unix epoch) of
    /// `camera` in `[from, to)`, chosen by `pick`, at most `limit` slots.
    pub fn picks(
        &self,
        camera: &CameraId,
        from: Timestamp,
        to: Timestamp,
        every_ns: i64,
        pick: Pick,
        limit: u32,
    ) -> Result<Vec<FrameRow>, StoreError> {
        let conn = self.reader.lock().expect("index reader lock poisoned");
        // One pass over the range's (id, time, score) in time order picks
        // the frame of each slot (no window function, no sort: a full hour
        // per second is a few milliseconds); then the picked rows are read.
        let every_ns = every_ns.max(1);
        let mut chosen: Vec<(i64, i64, Option<f64>)> = Vec::new();
        {
            // Only `sharpest` needs the score; without it the scan reads
            // the (camera, time, id) index alone.
            let (score, live) = match pick {
                Pick::Sharpest => ("sharpness", "AND garbage = 0"),
                Pick::First | Pick::Last => ("NULL", ""),
            };
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT id, captured_at_ns, {score} FROM frames INDEXED BY frames_by_camera_time \
                 WHERE camera = ?1 AND captured_at_ns >= ?2 AND captured_at_ns < ?3 {live} \
                 ORDER BY captured_at_ns, id"
            ))?;
            let mut rows =
                stmt.query(params![camera.as_str(), from.unix_nanos(), to.unix_nanos()])?;
            while let Some(r) = rows.next()? {
                let (id, ns, score): (i64, i64, Option<f64>) = (r.get(0)?, r.get(1)?, r.get(2)?);
                let slot = ns.div_euclid(every_ns);
                let full = chosen.len() == limit as usize;
                match chosen.last_mut() {
                    Some(c) if c.0 == slot => {
                        let better = match pick {
                            Pick::First => false,
                            Pick::Last => true,
                            // A measured frame beats an unmeasured one; the
                            // earliest wins a tie.
                            Pick::Sharpest => score.is_some_and(|s| c.2.is_none_or(|old| s > old)),
                        };
                        if better {
                            *c = (slot, id, score);
                        }
                    }
                    _ if full => break,
                    _ => chosen.push((slot, id, score)),
                }
            }
        }
        // (Rows being deleted are skipped here when the scan could not.)
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM frames WHERE id = ?1 AND garbage = 0"
        ))?;
        let mut out = Vec::with_capacity(chosen.len());
        for (_, id, _) in &chosen {
            if let Some(row) = stmt.query_row([id], row_to_frame).optional()? {
                out.push(row);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::clock::ClockSource;
    use crate::base::frame::Frame;

    /// 30 000 frames along a line of latitude 50, one every 0.1 s, moving
    /// 1e-5° of longitude each; every page of a box query, either plan,
    /// equals the frames a plain filter finds, in time order.
    #[test]
    fn both_place_plans_page_exactly_what_is_in_the_box() {
        use crate::base::gps::timeline::Position;
        let dir = tempfile::tempdir().unwrap();
        let index = Index::open(&dir.path().join("index.db")).unwrap();
        let cam = CameraId::parse("a").unwrap();
        let frames: Vec<Frame> = (0..30_000u64)
            .map(|k| {
                let at = Timestamp::from_unix_nanos(k as i64 * 100_000_000);
                let mut f = Frame::new(
                    cam.clone(),
                    k,
                    at,
                    ClockSource::System,
                    1,
                    1,
                    bytes::Bytes::new(),
                );
                f.position = Some(Position {
                    lat: 50.0,
                    lon: k as f64 * 1e-5,
                    fix: "3d",
                    speed_kn: None,
                    course_deg: None,
                    heading_deg: None,
                    fix_age_ms: 0,
                    interpolated: false,
                    time_uncertainty_ms: 0,
                });
                f
            })
            .collect();
        let batch: Vec<(&Frame, u64)> = frames.iter().map(|f| (f, 1)).collect();
        index.insert_batch(&batch).unwrap();
        // A small box (R*Tree first) and one holding 25 000 frames (time
        // index first), each with a time range cutting it.
        for (min_lon, max_lon, from_k, to_k) in
            [(0.1, 0.1005, 0u64, 30_000u64), (0.0, 0.25, 1000, 29_000)]
        {
            let b = GeoBox {
                min_lat: 49.0,
                max_lat: 51.0,
                min_lon,
                max_lon,
            };
            let expected: Vec<u64> = (from_k..to_k)
                .filter(|k| (min_lon..=max_lon).contains(&(*k as f64 * 1e-5)))
                .collect();
            let ts = |k: u64| Timestamp::from_unix_nanos(k as i64 * 100_000_000);
            let mut got = Vec::new();
            let mut after = None;
            loop {
                let (rows, more) = index
                    .query_box(&b, ts(from_k), ts(to_k), after, 997)
                    .unwrap();
                got.extend(rows.iter().map(|r| r.seq));
                after = rows.last().map(|r| Cursor {
                    captured_at: r.captured_at,
                    id: r.id,
                });
                if !more {
                    break;
                }
            }
            assert_eq!(got, expected, "box {min_lon}..{max_lon}");
        }
    }
}
