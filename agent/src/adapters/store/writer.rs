//! Durable, atomic file writes for a batch of frames (blocking): each file
//! goes to `<name>.tmp`, is fsynced and renamed; then every directory that
//! received a rename, or a new subdirectory, is fsynced once. Steps 1–2 of
//! the invariant in docs/design.md.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::adapters::store::StoreError;
use crate::base::exif;
use crate::base::frame::Frame;
use crate::base::store::layout::rel_path;

const TMP_SUFFIX: &str = ".tmp";

/// Maps an IO error on `path`: a full filesystem is its own case.
pub fn classify(path: &Path, err: io::Error) -> StoreError {
    match err.raw_os_error() {
        Some(libc::ENOSPC) | Some(libc::EDQUOT) => StoreError::DiskFull {
            path: path.to_owned(),
        },
        _ => StoreError::Io {
            path: path.to_owned(),
            source: err,
        },
    }
}

/// Creates `dir` and its missing parents, fsyncing each parent that gained
/// an entry so that the new directories survive a power cut.
pub fn create_dir_all(dir: &Path) -> Result<(), StoreError> {
    let mut dirty = BTreeSet::new();
    ensure_dir(dir, &mut dirty)?;
    for d in &dirty {
        sync_dir(d)?;
    }
    Ok(())
}

fn ensure_dir(dir: &Path, dirty: &mut BTreeSet<PathBuf>) -> Result<(), StoreError> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        ensure_dir(parent, dirty)?;
        dirty.insert(parent.to_owned());
    }
    match fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(classify(dir, e)),
    }
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| classify(dir, e))
}

/// Deletes `*.tmp` files under `frames_dir` (left by a crash mid-write).
/// Returns how many were removed.
pub fn remove_stale_tmp(frames_dir: &Path) -> Result<u64, StoreError> {
    let mut removed = 0;
    let mut stack = vec![frames_dir.to_owned()];
    while let Some(dir) = stack.pop() {
        let entries = fs::read_dir(&dir).map_err(|e| classify(&dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| classify(&dir, e))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|e| classify(&path, e))?;
            if kind.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().ends_with(TMP_SUFFIX) {
                fs::remove_file(&path).map_err(|e| classify(&path, e))?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}

/// Writes every frame of the batch durably; one outcome (bytes written)
/// per frame, in order. Idempotent: a file already there with the same
/// length is left alone.
pub fn write_batch(frames_dir: &Path, frames: &[Frame]) -> Vec<Result<u64, StoreError>> {
    let mut dirty: BTreeSet<PathBuf> = BTreeSet::new();
    let mut outcomes: Vec<(Option<PathBuf>, Result<u64, StoreError>)> = frames
        .iter()
        .map(|frame| {
            let path = frames_dir.join(rel_path(&frame.camera, frame.captured_at, frame.seq));
            let dir = path.parent().unwrap_or(frames_dir).to_owned();
            let result = write_one(&path, &dir, frame, &mut dirty);
            (Some(dir), result)
        })
        .collect();
    for dir in &dirty {
        if let Err(e) = sync_dir(dir) {
            let message = e.to_string();
            for (d, result) in &mut outcomes {
                if d.as_deref() == Some(dir.as_path()) && result.is_ok() {
                    *result = Err(StoreError::Io {
                        path: dir.clone(),
                        source: io::Error::other(message.clone()),
                    });
                }
            }
        }
    }
    outcomes.into_iter().map(|(_, r)| r).collect()
}

/// The frame's JPEG with our EXIF segment inserted (never re-encoded).
fn write_one(
    path: &Path,
    dir: &Path,
    frame: &Frame,
    dirty: &mut BTreeSet<PathBuf>,
) -> Result<u64, StoreError> {
    let app1 = exif::app1(frame.captured_at, frame.position.as_ref());
    let at = exif::insertion_point(&frame.jpeg);
    let (head, tail) = frame.jpeg.split_at(at);
    let len = (head.len() + app1.len() + tail.len()) as u64;
    if fs::metadata(path).is_ok_and(|m| m.len() == len) {
        return Ok(len);
    }
    ensure_dir(dir, dirty)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(TMP_SUFFIX);
    let tmp = PathBuf::from(tmp);
    let written = File::create(&tmp)
        .and_then(|mut f| {
            f.write_all(head)?;
            f.write_all(&app1)?;
            f.write_all(tail)?;
            f.sync_all()
        })
        .and_then(|()| {
            crate::base::faults::crash_point("store:tmp-written");
            fs::rename(&tmp, path)
        });
    if let Err(e) = written {
        // Best effort: a partial temp file is also removed at the next start.
        let _ = fs::remove_file(&tmp);
        return Err(classify(path, e));
    }
    dirty.insert(dir.to_owned());
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_its_own_error() {
        let p = Path::new("/x");
        assert!(matches!(
            classify(p, io::Error::from_raw_os_error(libc::ENOSPC)),
            StoreError::DiskFull { .. }
        ));
        assert!(matches!(
            classify(p, io::Error::from_raw_os_error(libc::EACCES)),
            StoreError::Io { .. }
        ));
    }
}
