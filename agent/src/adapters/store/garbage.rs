//! Deleting frames without ever leaving a row that points at nothing (the
//! "garbage" step of docs/design.md): mark the rows, unlink the files,
//! fsync their directories, remove directories left empty, drop the rows.
//! A crash anywhere in between leaves marked rows, which the next start
//! (`Store::open`) finishes the same way.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::adapters::store::writer::classify;
use crate::adapters::store::{Store, StoreError};

impl Store {
    /// Deletes the frames `ids`, files and rows together.
    pub fn collect_garbage(&self, ids: &[i64]) -> Result<usize, StoreError> {
        let _deleting = self.gc.write().expect("gc lock poisoned");
        let paths = self.index.mark_garbage(ids)?;
        crate::base::faults::crash_point("delete:marked");
        self.unlink_and_drop(paths)
    }

    /// Deletes every frame of `camera` (all cameras: `None`) captured
    /// before `before`, in bounded batches. Returns how many.
    pub fn purge(
        &self,
        camera: Option<&seaframe_wire::CameraId>,
        before: seaframe_wire::timestamp::Timestamp,
    ) -> Result<usize, StoreError> {
        let mut total = 0;
        loop {
            let ids = self.index.ids_before(camera, before, 1000)?;
            if ids.is_empty() {
                return Ok(total);
            }
            total += self.collect_garbage(&ids)?;
        }
    }

    /// Finishes any deletion left half done (at start).
    pub(super) fn finish_garbage(&self) -> Result<usize, StoreError> {
        let paths = self.index.garbage_paths()?;
        if paths.is_empty() {
            return Ok(0);
        }
        self.unlink_and_drop(paths)
    }

    fn unlink_and_drop(&self, rel_paths: Vec<String>) -> Result<usize, StoreError> {
        let mut dirs = BTreeSet::new();
        for rel in &rel_paths {
            let path = self.frames_dir.join(rel);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(classify(&path, e)),
            }
            if let Some(dir) = path.parent() {
                dirs.insert(dir.to_owned());
            }
        }
        for dir in &dirs {
            if let Ok(d) = std::fs::File::open(dir) {
                d.sync_all().map_err(|e| classify(dir, e))?;
            }
            self.remove_empty_dirs(dir);
        }
        crate::base::faults::crash_point("delete:unlinked");
        self.index.drop_garbage()?;
        Ok(rel_paths.len())
    }

    /// Removes `dir` and its parents while empty, up to (not including) the
    /// camera's folder. Call under the exclusive lock: a batch being stored
    /// may have just made a folder that it is about to fill.
    pub(super) fn remove_empty_dirs(&self, dir: &Path) -> usize {
        let mut removed = 0;
        let mut dir: PathBuf = dir.to_owned();
        // frames/<camera>/YYYY/MM/DD/HH/mm: five levels below the camera.
        for _ in 0..5 {
            if !dir.starts_with(&self.frames_dir) || std::fs::remove_dir(&dir).is_err() {
                break; // not empty (or already gone): stop here
            }
            removed += 1;
            match dir.parent() {
                Some(parent) => dir = parent.to_owned(),
                None => break,
            }
        }
        removed
    }
}
