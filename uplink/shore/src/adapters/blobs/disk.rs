//! The thumbnails' JPEGs on the local filesystem (the embedded default
//! back end of [`super::Blobs`]), one folder per camera and hour:
//! `<data_dir>/thumbs/<vessel>/<camera>/<YYYY>/<MM>/<DD>/<HH>/<mm>-<ss>.<ns9>.jpg`
//! ([`super::layout`]). At 1 thumbnail/s a folder holds at most 3,600
//! files (the older layout, `…/<DD>/<captured_at_ns>.jpg`, piled 86,400 a
//! day into one); a file is still found under the older layout when the
//! hour folder has none, so what an older shore wrote stays servable and
//! deletable without a migration.
//!
//! Invariant (with [`crate::adapters::index`]): a file is complete and durable before
//! its row is committed — write the batch's files, `syncfs`, then insert
//! the rows. A file whose row never came (a crash between the two) may be
//! torn: the redelivery finds it no whole JPEG and writes it again; one
//! already there whole is never overwritten, so a later duplicate cannot
//! replace an indexed image.
//! Files are removed only by [`crate::services::retention`], after their rows left
//! the `thumbs` table. Everything here blocks: [`super::Blobs`] calls it
//! from blocking threads.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::adapters::blobs::{BlobError, BlobKey, layout};

/// The thumbnail store in a folder (by default `<data_dir>/thumbs`).
#[derive(Debug, Clone)]
pub struct DiskBlobs {
    root: PathBuf,
}

impl DiskBlobs {
    /// The store under `<data_dir>/thumbs`.
    pub fn new(data_dir: &Path) -> Self {
        Self::at(data_dir.join("thumbs"))
    }

    /// The store in the folder `root` (`[blobs] url = "file:/…"`).
    pub fn at(root: PathBuf) -> Self {
        Self { root }
    }

    /// The folder holding every thumbnail.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a thumbnail's JPEG is written: its hour folder.
    pub fn path(&self, key: BlobKey<'_>) -> PathBuf {
        let mut path = self.root.clone();
        path.extend(layout(key));
        path
    }

    /// Where a shore before the hour folders wrote it (`…/<DD>/<ns>.jpg`).
    pub fn legacy_path(&self, key: BlobKey<'_>) -> PathBuf {
        self.day_dir(key)
            .join(format!("{}.jpg", key.captured_at_ns))
    }

    fn camera_dir(&self, key: BlobKey<'_>) -> PathBuf {
        self.root
            .join(key.vessel.as_str())
            .join(key.camera.as_str())
    }

    fn day_dir(&self, key: BlobKey<'_>) -> PathBuf {
        let dt = crate::base::when::datetime(key.captured_at_ns);
        self.camera_dir(key)
            .join(format!("{:04}", dt.year()))
            .join(format!("{:02}", u8::from(dt.month())))
            .join(format!("{:02}", dt.day()))
    }

    /// Where each blob of a batch goes, each path once: its path, where
    /// an older shore would have put it, and its JPEG (no IO).
    ///
    /// Writing a batch ([`super::Blobs::write_batch`]) costs one `syncfs`
    /// rather than an fsync per file and per directory: every file is
    /// stored under its own name ([`Self::store`]), then the filesystem is
    /// synced ([`Self::sync`]: their data and the folders' entries), and
    /// only then are the rows committed. One at a time, per-file fsyncs
    /// (~2 ms each) capped ingest at a few hundred thumbnails/s; a
    /// temporary name and a rename per file cost a second `syncfs` and a
    /// rename each, which the check for a whole JPEG makes needless.
    pub fn targets<T: Clone>(&self, items: &[(BlobKey<'_>, T)]) -> Vec<(PathBuf, PathBuf, T)> {
        let mut seen = HashSet::with_capacity(items.len());
        let mut out = Vec::with_capacity(items.len());
        for (key, jpeg) in items {
            let path = self.path(*key);
            if seen.insert(path.clone()) {
                out.push((path, self.legacy_path(*key), jpeg.clone()));
            }
        }
        out
    }

    /// Writes a JPEG at `path`, making its folder, unless it is stored
    /// there whole already or under the older layout (`legacy`): a file
    /// that is not a whole JPEG (torn by a crash before its batch was
    /// synced: a JPEG begins with SOI and ends with EOI, which no prefix of
    /// it does) is written again; a whole one is never overwritten.
    /// Blocking.
    pub fn store(path: &Path, legacy: &Path, jpeg: &[u8]) -> Result<(), BlobError> {
        let stored = match fs::read(path) {
            Ok(there) => there.starts_with(&[0xFF, 0xD8]) && there.ends_with(&[0xFF, 0xD9]),
            Err(_) => legacy.exists(),
        };
        if stored {
            return Ok(());
        }
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(failed(dir))?;
        }
        File::create(path)
            .and_then(|mut f| f.write_all(jpeg))
            .map_err(failed(path))
    }

    /// Flushes the filesystem holding the store (data and metadata).
    /// Blocking.
    pub fn sync(&self) -> Result<(), BlobError> {
        File::open(&self.root)
            .and_then(|root| rustix::fs::syncfs(&root).map_err(io::Error::from))
            .map_err(|source| BlobError::Write {
                path: self.root.clone(),
                source,
            })
    }

    /// A stored JPEG (blocking), in its hour folder or else where an older
    /// shore put it.
    pub fn read(&self, key: BlobKey<'_>) -> Result<Vec<u8>, BlobError> {
        let path = self.path(key);
        match fs::read(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let path = self.legacy_path(key);
                fs::read(&path).map_err(|source| BlobError::Read { path, source })
            }
            other => other.map_err(|source| BlobError::Read { path, source }),
        }
    }

    /// Whether a thumbnail's JPEG is stored, under either layout (blocking).
    pub fn exists(&self, key: BlobKey<'_>) -> bool {
        self.path(key).is_file() || self.legacy_path(key).is_file()
    }

    /// Deletes a thumbnail's JPEG, under either layout (blocking).
    /// Idempotent: a file already gone is fine. Folders left empty are
    /// removed up to the camera's (one in use by a writer at that instant
    /// makes its write fail and the batch retry, which recreates it).
    pub fn remove(&self, key: BlobKey<'_>) -> Result<(), BlobError> {
        for path in [self.path(key), self.legacy_path(key)] {
            match fs::remove_file(&path) {
                Ok(()) => self.prune(&path, &self.camera_dir(key)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => return Err(BlobError::Remove { path, source }),
            }
        }
        Ok(())
    }

    /// Removes the empty folders above `file`, stopping below `top`.
    fn prune(&self, file: &Path, top: &Path) {
        let mut dir = file.parent();
        while let Some(d) = dir.filter(|d| d.starts_with(top) && *d != top) {
            // Fails (and stops) on the first folder that still holds something.
            if fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
    }
}

/// The error of a write to `path`.
fn failed(path: &Path) -> impl FnOnce(io::Error) -> BlobError + use<> {
    let path = path.to_owned();
    move |source| BlobError::Write { path, source }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seaframe_wire::{CameraId, VesselName};

    fn names() -> (VesselName, CameraId) {
        (
            VesselName::parse("aurora").unwrap(),
            CameraId::parse("mast").unwrap(),
        )
    }

    /// Writes one JPEG as ingest does ([`super::super::Blobs::write_batch`]).
    async fn write(blobs: &DiskBlobs, key: BlobKey<'_>, jpeg: &'static [u8]) {
        let blob = super::super::NewBlob {
            name: super::super::BlobName {
                vessel: key.vessel.clone(),
                camera: key.camera.clone(),
                captured_at_ns: key.captured_at_ns,
            },
            jpeg: bytes::Bytes::from_static(jpeg),
        };
        super::super::Blobs::Disk(blobs.clone())
            .write_batch(&[blob])
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn paths_are_made_of_names_and_dates_and_a_whole_jpeg_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = DiskBlobs::new(dir.path());
        let (vessel, camera) = names();
        let key = BlobKey {
            vessel: &vessel,
            camera: &camera,
            captured_at_ns: 1_764_460_800_123_456_789,
        };
        assert_eq!(
            blobs.path(key).strip_prefix(dir.path()).unwrap(),
            Path::new("thumbs/aurora/mast/2025/11/30/00/00-00.123456789.jpg")
        );
        assert_eq!(
            blobs.legacy_path(key).strip_prefix(dir.path()).unwrap(),
            Path::new("thumbs/aurora/mast/2025/11/30/1764460800123456789.jpg")
        );
        write(&blobs, key, b"\xff\xd8one\xff\xd9").await;
        write(&blobs, key, b"\xff\xd8two\xff\xd9").await;
        assert_eq!(blobs.read(key).unwrap(), b"\xff\xd8one\xff\xd9");
        // Torn by a crash before its batch was synced: written again.
        fs::write(blobs.path(key), b"\xff\xd8on").unwrap();
        write(&blobs, key, b"\xff\xd8one\xff\xd9").await;
        assert_eq!(blobs.read(key).unwrap(), b"\xff\xd8one\xff\xd9");
        fs::write(blobs.path(key), b"").unwrap();
        write(&blobs, key, b"\xff\xd8one\xff\xd9").await;
        assert_eq!(blobs.read(key).unwrap(), b"\xff\xd8one\xff\xd9");
        blobs.remove(key).unwrap();
        blobs.remove(key).unwrap();
        assert!(blobs.read(key).is_err());
        // The empty folders went with the file, up to the camera's.
        assert!(!dir.path().join("thumbs/aurora/mast/2025").exists());
        assert!(dir.path().join("thumbs/aurora/mast").exists());
    }

    #[test]
    fn a_day_at_one_per_second_fills_no_folder_beyond_3600() {
        let blobs = DiskBlobs::new(Path::new("/d"));
        let (vessel, camera) = names();
        let mut per_folder: std::collections::HashMap<PathBuf, usize> = Default::default();
        let mut files = HashSet::new();
        for s in 0..86_400i64 {
            let path = blobs.path(BlobKey {
                vessel: &vessel,
                camera: &camera,
                captured_at_ns: 1_764_460_800_000_000_000 + s * 1_000_000_000 + 7,
            });
            *per_folder
                .entry(path.parent().unwrap().to_owned())
                .or_default() += 1;
            assert!(files.insert(path));
        }
        assert_eq!(per_folder.len(), 24);
        assert!(per_folder.values().all(|&n| n == 3600));
    }

    #[tokio::test]
    async fn what_an_older_shore_wrote_is_read_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = DiskBlobs::new(dir.path());
        let (vessel, camera) = names();
        let key = BlobKey {
            vessel: &vessel,
            camera: &camera,
            captured_at_ns: 1_764_460_800_000_000_000,
        };
        let old = blobs.legacy_path(key);
        fs::create_dir_all(old.parent().unwrap()).unwrap();
        fs::write(&old, b"\xff\xd8old").unwrap();
        assert_eq!(blobs.read(key).unwrap(), b"\xff\xd8old");
        // A redelivery does not write a second copy in the hour folder.
        write(&blobs, key, b"\xff\xd8new").await;
        assert!(!blobs.path(key).exists());
        blobs.remove(key).unwrap();
        assert!(!old.exists());
    }
}
