//! The thumbnails' JPEGs on disk:
//! `<data_dir>/thumbs/<vessel>/<camera>/<YYYY>/<MM>/<DD>/<captured_at_ns>.jpg`,
//! with every path component built from a validated name or a number, never
//! from a request's text.
//!
//! Invariant (with [`crate::index`]): a file is complete before its row is
//! committed — write to a temporary name, fsync, rename, fsync the directory,
//! then insert the row. A file whose row never came (a crash between the two)
//! is rewritten or reused by the redelivery; one already there is never
//! overwritten, so a later duplicate cannot replace an indexed image.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use seaframe_wire::{CameraId, VesselName};

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("writing {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
}

/// One JPEG to store.
#[derive(Debug, Clone, Copy)]
pub struct BlobKey<'a> {
    pub vessel: &'a VesselName,
    pub camera: &'a CameraId,
    pub captured_at_ns: i64,
}

/// The thumbnail store under `<data_dir>/thumbs`.
#[derive(Debug, Clone)]
pub struct Blobs {
    root: PathBuf,
}

impl Blobs {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            root: data_dir.join("thumbs"),
        }
    }

    /// Where a thumbnail's JPEG lives.
    pub fn path(&self, key: BlobKey<'_>) -> PathBuf {
        let dt = crate::when::datetime(key.captured_at_ns);
        self.root
            .join(key.vessel.as_str())
            .join(key.camera.as_str())
            .join(format!("{:04}", dt.year()))
            .join(format!("{:02}", u8::from(dt.month())))
            .join(format!("{:02}", dt.day()))
            .join(format!("{}.jpg", key.captured_at_ns))
    }

    /// Stores a batch durably (blocking: call from a blocking thread).
    /// A JPEG already stored under its key is kept as it is. The fsyncs of
    /// a batch run on [`SYNC_THREADS`] threads at once, so that the
    /// filesystem commits them together (one at a time, ~2 ms each, they
    /// would cap ingest at a few hundred thumbnails/s).
    pub fn write_batch(&self, items: &[(BlobKey<'_>, &[u8])]) -> Result<(), BlobError> {
        let mut todo: Vec<(PathBuf, &[u8])> = Vec::with_capacity(items.len());
        for (key, jpeg) in items {
            let path = self.path(*key);
            if !path.exists() && !todo.iter().any(|(p, _)| *p == path) {
                todo.push((path, jpeg));
            }
        }
        let mut dirs: Vec<PathBuf> = todo
            .iter()
            .filter_map(|(p, _)| p.parent().map(Path::to_owned))
            .collect();
        dirs.sort();
        dirs.dedup();
        for dir in &dirs {
            fs::create_dir_all(dir).map_err(|source| BlobError::Write {
                path: dir.clone(),
                source,
            })?;
        }
        // 1. each file written and fsynced under a temporary name;
        parallel(&todo, |(path, jpeg)| {
            let tmp = path.with_extension("jpg.tmp");
            let mut f = File::create(&tmp)?;
            f.write_all(jpeg)?;
            f.sync_data()
        })?;
        // 2. renamed into place; 3. the directories fsynced.
        for (path, _) in &todo {
            fs::rename(path.with_extension("jpg.tmp"), path).map_err(|source| {
                BlobError::Write {
                    path: path.clone(),
                    source,
                }
            })?;
        }
        let dirs: Vec<(PathBuf, &[u8])> = dirs.into_iter().map(|d| (d, &[][..])).collect();
        parallel(&dirs, |(dir, _)| File::open(dir)?.sync_all())
    }

    /// A stored JPEG (blocking).
    pub fn read(&self, key: BlobKey<'_>) -> Result<Vec<u8>, BlobError> {
        let path = self.path(key);
        fs::read(&path).map_err(|source| BlobError::Read { path, source })
    }
}

/// How many fsyncs run at once.
pub const SYNC_THREADS: usize = 16;

/// Runs `f` on every item, on up to [`SYNC_THREADS`] threads; the first
/// error wins.
fn parallel<F>(items: &[(PathBuf, &[u8])], f: F) -> Result<(), BlobError>
where
    F: Fn(&(PathBuf, &[u8])) -> io::Result<()> + Sync,
{
    if items.is_empty() {
        return Ok(());
    }
    let chunk = items.len().div_ceil(SYNC_THREADS);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| {
                let f = &f;
                scope.spawn(move || {
                    for item in part {
                        f(item).map_err(|source| BlobError::Write {
                            path: item.0.clone(),
                            source,
                        })?;
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect::<Result<Vec<()>, BlobError>>()
            .map(|_| ())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_made_of_names_and_dates_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::new(dir.path());
        let vessel = VesselName::parse("aurora").unwrap();
        let camera = CameraId::parse("mast").unwrap();
        let key = BlobKey {
            vessel: &vessel,
            camera: &camera,
            captured_at_ns: 1_764_460_800_123_456_789,
        };
        assert_eq!(
            blobs.path(key).strip_prefix(dir.path()).unwrap(),
            Path::new("thumbs/aurora/mast/2025/11/30/1764460800123456789.jpg")
        );
        blobs.write_batch(&[(key, b"\xff\xd8one")]).unwrap();
        blobs.write_batch(&[(key, b"\xff\xd8two")]).unwrap();
        assert_eq!(blobs.read(key).unwrap(), b"\xff\xd8one");
    }
}
