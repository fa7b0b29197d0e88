//! The store: JPEG files under `data_dir/frames/` and their SQLite index,
//! kept consistent by the invariant of `docs/design.md` (file durably
//! renamed → row committed → stream entry acked).
//!
//! Everything here is blocking (fsync, rusqlite): call it from
//! `spawn_blocking` or a dedicated thread, never on an async worker.

pub mod by_path;
pub mod fixes;
mod garbage;
pub mod index;
pub mod lock;
mod places;
pub mod reconcile;
pub mod writer;

pub use reconcile::{Children, Report as ReconcileReport};

use std::path::{Path, PathBuf};

use seaframe_wire::CameraId;
use seaframe_wire::geo::{Lons, Prefilter};

use crate::base::clock::ClockSource;
use crate::base::frame::Frame;
use seaframe_wire::timestamp::Timestamp;

/// What went wrong storing or querying.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The filesystem is full (ENOSPC / EDQUOT): count the frame as failed.
    #[error("disk full writing {path}")]
    DiskFull { path: PathBuf },
    #[error("writing {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("index: {0}")]
    Index(#[from] rusqlite::Error),
    /// The batch's rows were not committed (its files are on disk; the
    /// entries stay pending and are retried).
    #[error("index write failed: {message}")]
    IndexWrite { message: String },
}

impl StoreError {
    /// The index file is not a database, or a damaged one.
    pub fn is_corruption(&self) -> bool {
        matches!(
            self,
            Self::Index(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase
                )
        )
    }
}

/// How a frame of a batch ended up stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Written and indexed now.
    New,
    /// Already there (a re-claimed entry): nothing changed.
    Already,
}

/// One indexed frame, as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameRow {
    pub id: i64,
    pub camera: CameraId,
    pub seq: u64,
    pub captured_at: Timestamp,
    /// Relative to `data_dir/frames/`, built from validated parts only.
    pub rel_path: String,
    pub bytes: u64,
    pub width: u32,
    pub height: u32,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub fix: Option<String>,
    pub speed_kn: Option<f64>,
    pub course_deg: Option<f64>,
    pub heading_deg: Option<f64>,
    pub fix_age_ms: Option<u32>,
    pub time_uncertainty_ms: Option<u32>,
    /// Between two fixes (`Some(true)`) or from the latest one.
    pub interpolated: Option<bool>,
    pub clock: ClockSource,
    /// Variance of the Laplacian, when the frame was sampled.
    pub sharpness: Option<f32>,
}

/// Which frame of each slot `picks` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    First,
    Last,
    /// The highest sharpness among the measured frames of the second (the
    /// first frame when none was measured).
    Sharpest,
}

/// A box of latitude and longitude, degrees. `min_lon > max_lon` means
/// the box crosses the antimeridian.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoBox {
    pub min_lat: f64,
    pub max_lat: f64,
    pub min_lon: f64,
    pub max_lon: f64,
}

impl From<Prefilter> for GeoBox {
    /// The R*Tree's box for a place's prefilter (which holds every point of
    /// the place: a circle's true extent on the sphere).
    fn from(p: Prefilter) -> Self {
        let (min_lon, max_lon) = match p.lons {
            Lons::All => (-180.0, 180.0),
            Lons::Within { west, east } | Lons::Across { west, east } => (west, east),
        };
        Self {
            min_lat: p.min_lat,
            max_lat: p.max_lat,
            min_lon,
            max_lon,
        }
    }
}

/// A frame retention may delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub id: i64,
    pub captured_at: Timestamp,
    pub bytes: u64,
}

/// A keyset position in a time-ordered listing: after (`captured_at`, `id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub captured_at: Timestamp,
    pub id: i64,
}

impl Cursor {
    /// An opaque string for `next_cursor`: `<captured_at_ns>.<id>`.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.captured_at.unix_nanos(), self.id)
    }

    /// The inverse of [`encode`](Self::encode); `None` for anything else.
    pub fn decode(s: &str) -> Option<Self> {
        let (ns, id) = s.split_once('.')?;
        Some(Self {
            captured_at: Timestamp::from_unix_nanos(ns.parse().ok()?),
            id: id.parse().ok()?,
        })
    }
}

/// Frames of one camera (or all) in `[from, to)`, oldest first.
#[derive(Debug, Clone)]
pub struct FrameQuery {
    pub camera: Option<CameraId>,
    pub from: Timestamp,
    pub to: Timestamp,
    pub limit: u32,
    pub after: Option<Cursor>,
}

#[derive(Debug, Clone)]
pub struct FramePage {
    pub frames: Vec<FrameRow>,
    /// Where the next page starts; `None` when this page is the last.
    pub next: Option<Cursor>,
}

/// Files + index. Share as `Arc<Store>`; methods take `&self` and are safe
/// to call from several threads (one writer connection behind a lock, a
/// separate connection for reads).
#[derive(Debug)]
pub struct Store {
    frames_dir: PathBuf,
    index: index::Index,
    /// Set when `open` found the index corrupt, moved it aside and started
    /// a new one: what happened, for the log and the status. The caller
    /// rebuilds it from the disk (a full reconcile).
    rebuilt: Option<String>,
    /// Storing (shared) and deleting (exclusive) never interleave: else a
    /// re-stored frame could find its file present, lose it to retention,
    /// and then commit a row without a file.
    gc: std::sync::RwLock<()>,
}

impl Store {
    /// Opens (creating if needed) `data_dir/frames/` and `data_dir/index.db`
    /// and removes `.tmp` files left by a crash. Call before workers start.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let frames_dir = data_dir.join("frames");
        writer::create_dir_all(&frames_dir)?;
        let removed = writer::remove_stale_tmp(&frames_dir)?;
        if removed > 0 {
            tracing::info!(removed, "removed temp files left by a crash");
        }
        let path = data_dir.join("index.db");
        let (index, rebuilt) = match index::Index::open(&path) {
            Ok(index) => (index, None),
            Err(e) if e.is_corruption() => {
                let aside = index::set_aside(&path)?;
                let note = format!(
                    "the index was corrupt ({e}): moved to {} and rebuilt from the frames on disk",
                    aside.display()
                );
                (index::Index::open(&path)?, Some(note))
            }
            Err(e) => return Err(e),
        };
        let store = Self {
            frames_dir,
            index,
            rebuilt,
            gc: std::sync::RwLock::new(()),
        };
        // A deletion a crash interrupted: finish it (files, then rows).
        let finished = store.finish_garbage()?;
        if finished > 0 {
            tracing::info!(
                frames = finished,
                "finished deleting frames a crash interrupted"
            );
        }
        Ok(store)
    }

    /// Stores a batch: files written and renamed durably, then every row in
    /// one transaction. Idempotent: a frame already stored is left as it is
    /// and reported `Ok(Stored::Already)`. One outcome per frame, in order;
    /// the worker acks `Ok` and `Err(DiskFull)` outcomes (see design.md).
    pub fn put_batch(&self, frames: &[Frame]) -> Vec<Result<Stored, StoreError>> {
        let _storing = self.gc.read().expect("gc lock poisoned");
        let written = writer::write_batch(&self.frames_dir, frames);
        crate::base::faults::crash_point("store:renamed");
        let ok: Vec<(&Frame, u64)> = frames
            .iter()
            .zip(&written)
            .filter_map(|(f, w)| w.as_ref().ok().map(|bytes| (f, *bytes)))
            .collect();
        let inserted = self.index.insert_batch(&ok);
        if inserted.is_ok() {
            crate::base::faults::crash_point("store:committed");
        }
        let mut inserted = match inserted {
            Ok(flags) => Ok(flags.into_iter()),
            Err(e) => Err(e.to_string()),
        };
        written
            .into_iter()
            .map(|w| {
                w?;
                match &mut inserted {
                    Ok(flags) => Ok(if flags.next().unwrap_or(false) {
                        Stored::New
                    } else {
                        Stored::Already
                    }),
                    Err(message) => Err(StoreError::IndexWrite {
                        message: message.clone(),
                    }),
                }
            })
            .collect()
    }

    pub fn query(&self, q: &FrameQuery) -> Result<FramePage, StoreError> {
        self.index.query(q)
    }

    pub fn frame(&self, id: i64) -> Result<Option<FrameRow>, StoreError> {
        self.index.frame(id)
    }

    /// The highest `seq` stored for `camera`, to continue numbering after a restart.
    /// The capture time of `camera`'s newest stored frame.
    pub fn newest(&self, camera: &CameraId) -> Result<Option<Timestamp>, StoreError> {
        self.index.newest(camera)
    }

    /// Where `camera`'s numbering resumes (see [`index::Index::next_seq`]).
    pub fn next_seq(&self, camera: &CameraId) -> Result<u64, StoreError> {
        self.index.next_seq(camera)
    }

    /// Reserves `camera`'s numbers below `below` before they are used.
    pub fn reserve_seq(&self, camera: &CameraId, below: u64) -> Result<(), StoreError> {
        self.index.reserve_seq(camera, below)
    }

    /// What `open` did about a corrupt index, if it found one (then the
    /// index is new and empty: reconcile everything).
    pub fn rebuilt(&self) -> Option<&str> {
        self.rebuilt.as_deref()
    }

    /// Absolute path of a row's file.
    pub fn file_path(&self, row: &FrameRow) -> PathBuf {
        self.frames_dir.join(&row.rel_path)
    }

    /// Frames indexed, per camera (for the API and tests).
    pub fn count_by_camera(&self) -> Result<Vec<(CameraId, u64)>, StoreError> {
        self.index.count_by_camera()
    }

    pub fn frames_dir(&self) -> &Path {
        &self.frames_dir
    }

    /// Frames inside `b` in `[from, to)`, oldest first; and whether more follow.
    pub fn query_box(
        &self,
        b: &GeoBox,
        from: Timestamp,
        to: Timestamp,
        after: Option<Cursor>,
        limit: u32,
    ) -> Result<(Vec<FrameRow>, bool), StoreError> {
        self.index.query_box(b, from, to, after, limit)
    }

    /// The frame of `camera` nearest in time to `at`.
    pub fn nearest(
        &self,
        camera: &CameraId,
        at: Timestamp,
    ) -> Result<Option<FrameRow>, StoreError> {
        self.index.nearest(camera, at)
    }

    /// One frame per `every_ns` slot, chosen by `pick` (per-second
    /// listings, thumbnails).
    pub fn picks(
        &self,
        camera: &CameraId,
        from: Timestamp,
        to: Timestamp,
        every_ns: i64,
        pick: Pick,
        limit: u32,
    ) -> Result<Vec<FrameRow>, StoreError> {
        self.index.picks(camera, from, to, every_ns, pick, limit)
    }

    /// Records a frame's sharpness (measured after it was stored).
    pub fn set_sharpness(
        &self,
        camera: &CameraId,
        captured_at: Timestamp,
        seq: u64,
        sharpness: f32,
    ) -> Result<(), StoreError> {
        self.index
            .set_sharpness(camera, captured_at, seq, sharpness)
    }

    /// Bytes of all stored frames.
    pub fn frames_bytes(&self) -> Result<u64, StoreError> {
        self.index.frames_bytes()
    }

    /// Bytes of the index on disk (the database file).
    pub fn index_disk_bytes(&self) -> u64 {
        file_bytes(self.index.path())
    }

    /// The oldest frames, oldest first, for retention.
    pub fn oldest(&self, limit: usize) -> Result<Vec<Candidate>, StoreError> {
        self.index.oldest(limit)
    }

    /// A named instant kept in the index (where the disk watch's slow scan
    /// got to), Unix ns.
    pub fn scan_mark(&self, name: &str) -> Result<Option<i64>, StoreError> {
        self.index.scan_mark(name)
    }

    pub fn set_scan_mark(&self, name: &str, unix_ns: i64) -> Result<(), StoreError> {
        self.index.set_scan_mark(name, unix_ns)
    }

    /// Records fixes (see [`index::Index::record_fixes`]); how many were new.
    pub fn record_fixes(&self, fixes: &[fixes::FixRow]) -> Result<usize, StoreError> {
        self.index.record_fixes(fixes)
    }

    pub fn last_fix_ms(&self) -> Result<Option<i64>, StoreError> {
        self.index.last_fix_ms()
    }

    /// Deletes up to `limit` of the oldest fixes before `before_ms`.
    pub fn forget_fixes_before(&self, before_ms: i64, limit: usize) -> Result<usize, StoreError> {
        self.index.forget_fixes_before(before_ms, limit)
    }

    /// Up to `limit` fixes after `after_ms`, oldest first.
    pub fn fixes_after(
        &self,
        after_ms: i64,
        limit: usize,
    ) -> Result<Vec<fixes::FixRow>, StoreError> {
        self.index.fixes_after(after_ms, limit)
    }

    pub fn fix_span(&self, from_ms: i64, to_ms: i64) -> Result<fixes::FixSpan, StoreError> {
        self.index.fix_span(from_ms, to_ms)
    }

    /// The fixes of a range, all or the first per `bucket_ms`.
    pub fn fixes_between(
        &self,
        from_ms: i64,
        to_ms: i64,
        bucket_ms: i64,
    ) -> Result<Vec<fixes::FixRow>, StoreError> {
        self.index.fixes_between(from_ms, to_ms, bucket_ms)
    }

    /// Checkpoints the WAL (at shutdown).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.index.checkpoint()
    }
}

/// The size of an SQLite database file, in bytes (0 when missing). Its
/// WAL is left out: it is transient and bounded (checkpointed at about
/// 4 MB), and counting it would make a small budget swing.
pub fn file_bytes(db: &Path) -> u64 {
    std::fs::metadata(db).map_or(0, |m| m.len())
}

#[cfg(test)]
mod tests {
    use seaframe_wire::geo::{EARTH_RADIUS_M, Place};

    use super::*;

    /// The point of a circle furthest east lies north of its centre in the
    /// northern hemisphere, at `asin(sin d / cos lat)` of longitude: wider
    /// than `d / cos lat`, the box the agent used to search (which lost it).
    #[test]
    fn a_circle_near_the_pole_keeps_its_rim_in_the_box() {
        let (lat, lon, radius_m) = (80.0_f64, 0.0, 100_000.0);
        let circle = Place::Circle { lat, lon, radius_m };
        let d = radius_m * 0.9999 / EARTH_RADIUS_M;
        let rim_lat = (lat.to_radians().sin() / d.cos()).asin().to_degrees();
        let rim_lon = lon + (d.sin() / lat.to_radians().cos()).asin().to_degrees();
        assert!(circle.contains(rim_lat, rim_lon));
        let old_half_width = (radius_m / EARTH_RADIUS_M).to_degrees() / lat.to_radians().cos();
        assert!(rim_lon > lon + old_half_width, "the old box held it");
        let b = GeoBox::from(circle.prefilter());
        assert!((b.min_lat..=b.max_lat).contains(&rim_lat), "{b:?}");
        assert!((b.min_lon..=b.max_lon).contains(&rim_lon), "{b:?}");
    }

    #[test]
    fn a_circle_across_the_antimeridian_is_a_wrapped_box() {
        let b = GeoBox::from(
            Place::Circle {
                lat: 0.0,
                lon: 179.99,
                radius_m: 5000.0,
            }
            .prefilter(),
        );
        assert!(b.min_lon > b.max_lon, "{b:?}");
    }
}
