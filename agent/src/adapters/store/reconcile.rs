//! Repairs the index from the disk: rows whose file is gone are dropped,
//! files without a row are indexed from their path and their own EXIF
//! (time, position), and folders left empty are removed. At start the agent
//! reconciles the recent past; `seaframe-agent reindex` does all of it; the
//! disk watch (`fswatch/`) repairs a few paths or one folder at a time while
//! the workers and retention run.
//!
//! Every repair looks first (rows, then files: a row committed after the
//! look has its file on disk before it) and then decides nothing on that
//! look alone: a row is inserted or dropped only after its file has been
//! checked again under the store's exclusive lock, where no batch is
//! half-stored (file renamed, row not yet committed) and no deletion is
//! half-done (row marked, file unlinked). So a repair never indexes a file a
//! worker is about to commit, never drops the row of a file being written,
//! and never brings back a file retention is deleting. Temp files (`*.tmp`)
//! are not frames: the layout does not parse them.

use std::collections::HashSet;
use std::path::Path;

use bytes::Bytes;

use crate::adapters::store::writer::classify;
use crate::adapters::store::{Store, StoreError};
use crate::base::clock::ClockSource;
use crate::base::exif;
use crate::base::frame::Frame;
use crate::base::gps::timeline::Position;
use crate::base::jpeg;
use crate::base::store::layout::{MINUTE_DEPTH, folder_depth, parse_rel_path};
use seaframe_wire::timestamp::Timestamp;

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

/// Rows inserted or dropped per hold of the exclusive lock (a hold must
/// stay short: the workers wait).
const LOCKED_CHUNK: usize = 256;
/// Rows read per page when a whole folder is gone.
const GONE_PAGE: usize = 1000;

/// The child folders of a folder, as [`Store::reconcile_children`] left them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Children {
    /// Names on disk, sorted, each with whether the index holds rows under it.
    pub on_disk: Vec<(String, bool)>,
    /// False when the budget ran out before every vanished child's rows were
    /// dropped (call again).
    pub complete: bool,
}

impl Store {
    /// Reconciles frames captured at or after `since` (`None`: everything).
    /// Removes empty folders as it goes: call before the workers start.
    pub fn reconcile(&self, since: Option<Timestamp>) -> Result<Report, StoreError> {
        let mut report = Report::default();
        let from = since.unwrap_or(Timestamp::from_unix_nanos(i64::MIN));
        let rows = self.index.paths_since(from)?;
        let mut known = HashSet::with_capacity(rows.len());
        let mut gone = Vec::new();
        for (_, rel) in rows {
            if self.frames_dir.join(&rel).is_file() {
                known.insert(rel);
            } else {
                gone.push(rel);
            }
        }
        self.drop_missing(&gone, &mut report)?;
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
        let mut found: Vec<String> = Vec::new();
        let cameras =
            std::fs::read_dir(&self.frames_dir).map_err(|e| classify(&self.frames_dir, e))?;
        for camera in cameras.flatten() {
            if camera.path().is_dir() {
                self.walk(
                    &camera.path(),
                    0,
                    since_key.as_ref(),
                    &known,
                    &mut found,
                    &mut report,
                )?;
            }
        }
        self.index_found(&found, &mut report)?;
        Ok(report)
    }

    /// Depth 0 is the camera folder; 5 is the minute folder holding files.
    fn walk(
        &self,
        dir: &Path,
        depth: usize,
        since_key: Option<&[String; 5]>,
        known: &HashSet<String>,
        found: &mut Vec<String>,
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
                self.walk(&path, depth + 1, next_key, known, found, report)?;
                if std::fs::remove_dir(&path).is_ok() {
                    report.dirs_removed += 1; // it was empty
                }
            } else if depth == 5 && name.ends_with(".jpg") {
                report.files_seen += 1;
                let Ok(rel) = path.strip_prefix(&self.frames_dir) else {
                    continue;
                };
                let rel = rel.to_string_lossy().into_owned();
                if !known.contains(&rel) {
                    found.push(rel);
                    if found.len() >= LOCKED_CHUNK {
                        self.index_found(found, report)?;
                        found.clear();
                    }
                }
            }
        }
        Ok(())
    }

    /// Frames named by their paths relative to `frames/` (what the disk
    /// watch saw change): each file without a row is indexed, each row
    /// whose file is gone dropped; anything that is not a frame's path is
    /// passed over. Reads at most `budget` files (decremented); returns how
    /// many of `rel_paths`, from the first, were handled.
    pub fn reconcile_paths(
        &self,
        rel_paths: &[String],
        budget: &mut usize,
        report: &mut Report,
    ) -> Result<usize, StoreError> {
        let mut gone = Vec::new();
        let mut found = Vec::new();
        let mut handled = 0;
        for rel in rel_paths {
            if parse_rel_path(rel).is_some() {
                let on_disk = self.frames_dir.join(rel).is_file();
                match (on_disk, self.index.row_by_path(rel)?) {
                    (true, None) if *budget == 0 => break,
                    (true, None) => {
                        *budget -= 1;
                        found.push(rel.clone());
                    }
                    (false, Some(row)) if !row.garbage => gone.push(rel.clone()),
                    _ => {}
                }
                report.files_seen += u64::from(on_disk);
            }
            handled += 1;
        }
        self.drop_missing(&gone, report)?;
        self.index_found(&found, report)?;
        Ok(handled)
    }

    /// One minute folder (`<camera>/YYYY/MM/DD/HH/mm`, relative): its rows
    /// against its files, as [`reconcile_paths`](Self::reconcile_paths)
    /// does for each; an empty folder is removed (with its parents while
    /// they are empty). Reads at most `budget` files; returns false when the
    /// budget ran out before the folder was done (call again).
    pub fn reconcile_minute(
        &self,
        folder: &str,
        budget: &mut usize,
        report: &mut Report,
    ) -> Result<bool, StoreError> {
        let prefix = format!("{folder}/");
        // Rows first, then files (see the module's doc).
        let rows = self.index.rows_under(&prefix, None, usize::MAX)?;
        let dir = self.frames_dir.join(folder);
        let mut entries = 0usize;
        let mut files = HashSet::new();
        match std::fs::read_dir(&dir) {
            Ok(listing) => {
                for entry in listing {
                    let entry = entry.map_err(|e| classify(&dir, e))?;
                    entries += 1;
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if name.ends_with(".jpg") {
                        files.insert(format!("{prefix}{name}"));
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(classify(&dir, e)),
        }
        report.files_seen += files.len() as u64;
        let known: HashSet<&str> = rows.iter().map(|r| r.rel_path.as_str()).collect();
        let gone: Vec<String> = rows
            .iter()
            .filter(|r| !r.garbage && !files.contains(&r.rel_path))
            .map(|r| r.rel_path.clone())
            .collect();
        self.drop_missing(&gone, report)?;
        let mut found: Vec<String> = files
            .into_iter()
            .filter(|f| !known.contains(f.as_str()) && parse_rel_path(f).is_some())
            .collect();
        found.sort();
        let done = found.len() <= *budget;
        found.truncate(*budget);
        *budget -= found.len();
        self.index_found(&found, report)?;
        if entries == 0 && dir.is_dir() {
            let _deleting = self.gc.write().expect("gc lock poisoned");
            report.dirs_removed += self.remove_empty_dirs(&dir) as u64;
        }
        Ok(done)
    }

    /// A folder above the minute level (`""` for `frames/` itself): the
    /// rows under a child folder that is gone from disk are dropped (at
    /// most `budget` of them; decremented). Returns the child folders on
    /// disk, each with whether the index knows it.
    pub fn reconcile_children(
        &self,
        folder: &str,
        budget: &mut usize,
        report: &mut Report,
    ) -> Result<Children, StoreError> {
        let prefix = if folder.is_empty() {
            String::new()
        } else {
            format!("{folder}/")
        };
        // The index first (a child made after this look is found on disk).
        let known: HashSet<String> = self.index.child_names(&prefix)?.into_iter().collect();
        let dir = self.frames_dir.join(folder);
        let mut on_disk: Vec<String> = match std::fs::read_dir(&dir) {
            Ok(listing) => listing
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| {
                    folder_depth(&format!("{prefix}{name}"))
                        .is_some_and(|d| (1..=MINUTE_DEPTH).contains(&d))
                })
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(classify(&dir, e)),
        };
        on_disk.sort();
        let mut complete = true;
        for name in known.iter().filter(|k| !on_disk.contains(k)) {
            let child = format!("{prefix}{name}/");
            let mut after: Option<String> = None;
            loop {
                if *budget == 0 {
                    complete = false;
                    break;
                }
                let page =
                    self.index
                        .rows_under(&child, after.as_deref(), GONE_PAGE.min(*budget))?;
                let Some(last) = page.last() else { break };
                after = Some(last.rel_path.clone());
                *budget = budget.saturating_sub(page.len());
                let gone: Vec<String> = page
                    .into_iter()
                    .filter(|r| !r.garbage)
                    .map(|r| r.rel_path)
                    .collect();
                self.drop_missing(&gone, report)?;
            }
        }
        let on_disk = on_disk
            .into_iter()
            .map(|name| {
                let known = known.contains(&name);
                (name, known)
            })
            .collect();
        Ok(Children { on_disk, complete })
    }

    /// Drops the rows of `rel_paths` whose file is (still) missing, checked
    /// under the exclusive lock.
    fn drop_missing(&self, rel_paths: &[String], report: &mut Report) -> Result<(), StoreError> {
        for chunk in rel_paths.chunks(LOCKED_CHUNK) {
            let _repairing = self.gc.write().expect("gc lock poisoned");
            let missing: Vec<&str> = chunk
                .iter()
                .filter(|rel| !self.frames_dir.join(rel).is_file())
                .map(String::as_str)
                .collect();
            report.rows_dropped += self.index.delete_live_paths(&missing)? as u64;
        }
        Ok(())
    }

    /// Indexes the files of `rel_paths` (read outside the lock), each
    /// inserted only if its file is (still) there, checked under the
    /// exclusive lock; a path that has a row is left as it is.
    fn index_found(&self, rel_paths: &[String], report: &mut Report) -> Result<(), StoreError> {
        for chunk in rel_paths.chunks(LOCKED_CHUNK) {
            let mut frames = Vec::with_capacity(chunk.len());
            for rel in chunk {
                let path = self.frames_dir.join(rel);
                match frame_from_file(&path, rel) {
                    Some(frame) => frames.push((rel, frame)),
                    None => {
                        report.files_unreadable += 1;
                        tracing::warn!(path = %path.display(), "not a frame this agent wrote; left alone");
                    }
                }
            }
            let _repairing = self.gc.write().expect("gc lock poisoned");
            let batch: Vec<(&Frame, u64)> = frames
                .iter()
                .filter(|(rel, _)| self.frames_dir.join(rel).is_file())
                .map(|(_, (frame, bytes))| (frame, *bytes))
                .collect();
            let inserted = self.index.insert_batch(&batch)?;
            report.files_indexed += inserted.iter().filter(|new| **new).count() as u64;
        }
        Ok(())
    }
}

/// A frame rebuilt from its file: camera, time and seq from the path (time
/// to the ms, refined by EXIF), size from the JPEG, position from EXIF; and
/// the file's length. The frame keeps no bytes (only its row is wanted).
fn frame_from_file(path: &Path, rel: &str) -> Option<(Frame, u64)> {
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
        Bytes::new(),
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
            time_uncertainty_ms: crate::base::gps::timeline::NMEA_TIME_UNCERTAINTY_MS,
        })
    });
    Some((frame, bytes.len() as u64))
}
