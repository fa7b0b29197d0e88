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
    /// A JPEG already stored under its key is kept as it is. Durability
    /// costs two `syncfs` calls per batch rather than an fsync per file and
    /// per directory: all temporary files are written, the filesystem is
    /// synced (their data), they are renamed, and it is synced again (the
    /// renames). One at a time, per-file fsyncs (~2 ms each) capped ingest
    /// at a few hundred thumbnails/s.
    pub fn write_batch(&self, items: &[(BlobKey<'_>, &[u8])]) -> Result<(), BlobError> {
        let mut todo: Vec<(PathBuf, &[u8])> = Vec::with_capacity(items.len());
        for (key, jpeg) in items {
            let path = self.path(*key);
            if !path.exists() && !todo.iter().any(|(p, _)| *p == path) {
                todo.push((path, jpeg));
            }
        }
        if todo.is_empty() {
            return Ok(());
        }
        let failed = |path: &Path| {
            let path = path.to_owned();
            move |source| BlobError::Write { path, source }
        };
        for (path, jpeg) in &todo {
            if let Some(dir) = path.parent() {
                fs::create_dir_all(dir).map_err(failed(dir))?;
            }
            let tmp = path.with_extension("jpg.tmp");
            File::create(&tmp)
                .and_then(|mut f| f.write_all(jpeg))
                .map_err(failed(&tmp))?;
        }
        self.sync()?;
        for (path, _) in &todo {
            fs::rename(path.with_extension("jpg.tmp"), path).map_err(failed(path))?;
        }
        self.sync()
    }

    /// Flushes the filesystem holding the store (data and metadata).
    fn sync(&self) -> Result<(), BlobError> {
        File::open(&self.root)
            .and_then(|root| rustix::fs::syncfs(&root).map_err(io::Error::from))
            .map_err(|source| BlobError::Write {
                path: self.root.clone(),
                source,
            })
    }

    /// A stored JPEG (blocking).
    pub fn read(&self, key: BlobKey<'_>) -> Result<Vec<u8>, BlobError> {
        let path = self.path(key);
        fs::read(&path).map_err(|source| BlobError::Read { path, source })
    }
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
