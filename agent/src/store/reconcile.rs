//! Repairs the index from the disk: rows whose file is gone are dropped,
//! files without a row are indexed from their path and their own EXIF
//! (time, position), and folders left empty are removed. At start the agent
//! reconciles the recent past; `seaframe-agent reindex` does all of it.

use std::collections::HashSet;
use std::path::Path;

use bytes::Bytes;

use super::layout::parse_rel_path;
use super::{Store, StoreError};
use crate::clock::ClockSource;
use crate::frame::Frame;
use crate::gps::timeline::Position;
use crate::store::writer::classify;
use crate::timestamp::Timestamp;
use crate::{exif, jpeg};

/// What a reconcile found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub files_seen: u64,
    pub rows_dropped: u64,
    pub files_indexed: u64,
    /// Files in the layout that are not readable JPEGs (left alone, logged).
    pub files_unreadable: u64,
    pub dirs_removed: u64,
}

const INSERT_CHUNK: usize = 500;

impl Store {
    /// Reconciles frames captured at or after `since` (`None`: everything).
    pub fn reconcile(&self, since: Option<Timestamp>) -> Result<Report, StoreError> {
        let mut report = Report::default();
        let from = since.unwrap_or(Timestamp::from_unix_nanos(i64::MIN));
        let rows = self.index.paths_since(from)?;
        let mut known = HashSet::with_capacity(rows.len());
        let mut gone = Vec::new();
        for (id, rel) in rows {
            if self.frames_dir.join(&rel).is_file() {
                known.insert(rel);
            } else {
                gone.push(id);
            }
        }
        report.rows_dropped = self.index.delete_rows(&gone)? as u64;
        // The folder of `since` (camera/YYYY/MM/DD/HH/mm) bounds the walk.
        let since_key = since.map(|t| {
            let dt = t.to_datetime();
            [
                format!("{:04}", dt.year()),
                format!("{:02}", u8::from(dt.month())),
                format!("{:02}", dt.day()),
                format!("{:02}", dt.hour()),
                format!("{:02}", dt.minute()),
            ]
        });
        let mut pending: Vec<(Frame, u64)> = Vec::new();
        let cameras =
            std::fs::read_dir(&self.frames_dir).map_err(|e| classify(&self.frames_dir, e))?;
        for camera in cameras.flatten() {
            if camera.path().is_dir() {
                self.walk(
                    &camera.path(),
                    0,
                    since_key.as_ref(),
                    &known,
                    &mut pending,
                    &mut report,
                )?;
            }
        }
        self.flush_pending(&mut pending, &mut report)?;
        Ok(report)
    }

    /// Depth 0 is the camera folder; 5 is the minute folder holding files.
    fn walk(
        &self,
        dir: &Path,
        depth: usize,
        since_key: Option<&[String; 5]>,
        known: &HashSet<String>,
        pending: &mut Vec<(Frame, u64)>,
        report: &mut Report,
    ) -> Result<(), StoreError> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| classify(dir, e))?
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if path.is_dir() {
                if depth >= 5 {
                    continue;
                }
                // Skip folders wholly before `since` (names are zero-padded).
                if since_key.is_some_and(|key| name < key[depth]) {
                    continue;
                }
                let next_key = since_key.filter(|key| name == key[depth]);
                self.walk(&path, depth + 1, next_key, known, pending, report)?;
                if std::fs::remove_dir(&path).is_ok() {
                    report.dirs_removed += 1; // it was empty
                }
            } else if depth == 5 && name.ends_with(".jpg") {
                report.files_seen += 1;
                let Ok(rel) = path.strip_prefix(&self.frames_dir) else {
                    continue;
                };
                let rel = rel.to_string_lossy().into_owned();
                if known.contains(&rel) {
                    continue;
                }
                match frame_from_file(&path, &rel) {
                    Some(frame) => {
                        let bytes = frame.jpeg.len() as u64;
                        pending.push((frame, bytes));
                        if pending.len() >= INSERT_CHUNK {
                            self.flush_pending(pending, report)?;
                        }
                    }
                    None => {
                        report.files_unreadable += 1;
                        tracing::warn!(path = %path.display(), "not a frame this agent wrote; left alone");
                    }
                }
            }
        }
        Ok(())
    }

    fn flush_pending(
        &self,
        pending: &mut Vec<(Frame, u64)>,
        report: &mut Report,
    ) -> Result<(), StoreError> {
        let batch: Vec<(&Frame, u64)> = pending.iter().map(|(f, b)| (f, *b)).collect();
        let inserted = self.index.insert_batch(&batch)?;
        report.files_indexed += inserted.iter().filter(|new| **new).count() as u64;
        pending.clear();
        Ok(())
    }
}

/// A frame rebuilt from its file: camera, time and seq from the path (time
/// to the ms, refined by EXIF), size from the JPEG, position from EXIF.
fn frame_from_file(path: &Path, rel: &str) -> Option<Frame> {
    let parsed = parse_rel_path(rel)?;
    let bytes = std::fs::read(path).ok()?;
    let info = jpeg::inspect(&bytes).ok()?;
    let tags = exif::read(&bytes);
    let captured_at = tags
        .as_ref()
        .and_then(|t| t.captured_at)
        .filter(|t| t.unix_millis() == parsed.captured_at_ms.unix_millis())
        .unwrap_or(parsed.captured_at_ms);
    let mut frame = Frame::new(
        parsed.camera,
        parsed.seq,
        captured_at,
        ClockSource::System,
        info.width,
        info.height,
        Bytes::from(bytes),
    );
    frame.position = tags.and_then(|t| {
        Some(Position {
            lat: t.lat?,
            lon: t.lon?,
            fix: "exif",
            speed_kn: t.speed_kn,
            course_deg: t.course_deg,
            heading_deg: t.heading_deg,
            fix_age_ms: 0,
            interpolated: false,
            time_uncertainty_ms: crate::gps::timeline::NMEA_TIME_UNCERTAINTY_MS,
        })
    });
    Some(frame)
}
