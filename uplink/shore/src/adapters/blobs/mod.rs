//! The thumbnails' JPEGs behind one interface, [`Blobs`]: on the local
//! filesystem ([`disk`], the embedded default) or in S3-compatible object
//! storage ([`s3`]: AWS S3, MinIO, Ceph RGW…, through the `object_store`
//! crate), chosen by `[blobs] url`. Ingest's writes and duplicate check,
//! the API's reads and retention's deletes all go through it.
//!
//! Both lay a thumbnail out alike ([`layout`]):
//! `<vessel>/<camera>/<YYYY>/<MM>/<DD>/<HH>/<mm>-<ss>.<ns9>.jpg` (UTC;
//! `<ns9>` the nine digits of the nanoseconds), every part built from a
//! validated name or a number, never from a request's text. One camera's
//! day is one prefix (a folder, or a listing of at most 86,400 keys), one
//! hour at most 3,600.
//!
//! Invariant (with [`crate::adapters::index`]): a blob is stored whole before its row
//! is committed — [`Blobs::write_batch`] returns only once every blob of
//! the batch is durable (disk: written and synced; S3: the PUT answered);
//! one already stored under its key is never overwritten, so a later
//! duplicate cannot replace an indexed image. A blob that cannot be stored
//! fails the batch: nothing of it is indexed or acked, and the broker
//! redelivers. Blobs are removed only by [`crate::services::retention`], after their
//! rows left the `thumbs` table.

pub mod config;
pub mod disk;
pub mod s3;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use seaframe_wire::{CameraId, VesselName};

pub use config::BlobsConfig;
pub use disk::DiskBlobs;
pub use s3::S3Blobs;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("removing {path}: {source}")]
    Remove {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The object store failed (after its own retries); `op` names the request.
    #[error("object store: {op} {key}: {source}")]
    Store {
        op: &'static str,
        key: String,
        source: object_store::Error,
    },
    /// The blocking task was cancelled (the runtime is shutting down).
    #[error("the blob task was cancelled")]
    Cancelled,
}

/// Where one thumbnail's JPEG is, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct BlobKey<'a> {
    pub vessel: &'a VesselName,
    pub camera: &'a CameraId,
    pub captured_at_ns: i64,
}

/// Where one thumbnail's JPEG is, owned (to cross into a task).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlobName {
    pub vessel: VesselName,
    pub camera: CameraId,
    pub captured_at_ns: i64,
}

impl BlobName {
    pub fn key(&self) -> BlobKey<'_> {
        BlobKey {
            vessel: &self.vessel,
            camera: &self.camera,
            captured_at_ns: self.captured_at_ns,
        }
    }
}

/// One JPEG to store. Cheap to clone (the bytes are shared), so a batch
/// retried after a failure is not copied again.
#[derive(Clone)]
pub struct NewBlob {
    pub name: BlobName,
    pub jpeg: Bytes,
}

impl fmt::Debug for NewBlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewBlob")
            .field("name", &self.name)
            .field("bytes", &self.jpeg.len())
            .finish()
    }
}

/// The parts of a thumbnail's key below the store's root or prefix:
/// `[<vessel>, <camera>, <YYYY>, <MM>, <DD>, <HH>, <mm>-<ss>.<ns9>.jpg]`.
pub fn layout(key: BlobKey<'_>) -> [String; 7] {
    let dt = crate::base::when::datetime(key.captured_at_ns);
    [
        key.vessel.as_str().to_owned(),
        key.camera.as_str().to_owned(),
        format!("{:04}", dt.year()),
        format!("{:02}", u8::from(dt.month())),
        format!("{:02}", dt.day()),
        format!("{:02}", dt.hour()),
        format!(
            "{:02}-{:02}.{:09}.jpg",
            dt.minute(),
            dt.second(),
            dt.nanosecond()
        ),
    ]
}

/// The thumbnail store the shore runs on.
#[derive(Debug, Clone)]
pub enum Blobs {
    Disk(DiskBlobs),
    S3(S3Blobs),
}

impl Blobs {
    /// Stores a batch; returns once every blob is durable. A blob already
    /// stored under its key is kept as it is (the duplicate check).
    pub async fn write_batch(&self, items: &[NewBlob]) -> Result<(), BlobError> {
        match self {
            Self::Disk(disk) => write_to_disk(disk, items).await,
            Self::S3(s3) => s3.write_batch(items).await,
        }
    }

    /// A stored JPEG.
    pub async fn read(&self, name: &BlobName) -> Result<Bytes, BlobError> {
        match self {
            Self::Disk(disk) => {
                let (disk, name) = (disk.clone(), name.clone());
                blocking(move || disk.read(name.key()).map(Bytes::from)).await
            }
            Self::S3(s3) => s3.read(name).await,
        }
    }

    /// Whether a JPEG is stored under `name` (what `migrate` verifies by).
    pub async fn exists(&self, name: &BlobName) -> Result<bool, BlobError> {
        match self {
            Self::Disk(disk) => {
                let (disk, name) = (disk.clone(), name.clone());
                blocking(move || Ok(disk.exists(name.key()))).await
            }
            Self::S3(s3) => s3.exists(name).await,
        }
    }

    /// Deletes the blobs of `names`; idempotent (one already gone is fine).
    /// Returns how many were asked for.
    pub async fn remove_batch(&self, names: Vec<BlobName>) -> Result<u64, BlobError> {
        let n = names.len() as u64;
        match self {
            Self::Disk(disk) => {
                let disk = disk.clone();
                blocking(move || names.iter().try_for_each(|b| disk.remove(b.key()))).await?
            }
            Self::S3(s3) => s3.remove_batch(names).await?,
        }
        Ok(n)
    }

    /// The folder of a store on disk (whose filesystem retention keeps
    /// `min_free_percent` free); `None` for object storage.
    pub fn disk_root(&self) -> Option<&Path> {
        match self {
            Self::Disk(disk) => Some(disk.root()),
            Self::S3(_) => None,
        }
    }
}

impl fmt::Display for Blobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Disk(disk) => write!(f, "file:{}", disk.root().display()),
            Self::S3(s3) => s3.fmt(f),
        }
    }
}

/// The most blocking threads one batch's files are written by.
pub const WRITE_THREADS: usize = 4;

/// Writes a batch to disk (see [`DiskBlobs::targets`] for the steps and
/// why). Creating files is the kernel's work (inode allocation, the
/// folder's entries): the files are shared among up to [`WRITE_THREADS`]
/// of tokio's blocking threads, one per core.
async fn write_to_disk(disk: &DiskBlobs, items: &[NewBlob]) -> Result<(), BlobError> {
    if items.is_empty() {
        return Ok(());
    }
    let keyed: Vec<_> = (items.iter())
        .map(|b| (b.name.key(), b.jpeg.clone()))
        .collect();
    let targets = Arc::new(disk.targets(&keyed));
    in_parallel(&targets, |(path, legacy, jpeg)| {
        DiskBlobs::store(path, legacy, jpeg)
    })
    .await?;
    // Even when every file was there already: a retry after a failed sync
    // finds them, unsynced.
    let d = disk.clone();
    blocking(move || d.sync()).await
}

/// Runs `f` on every item on up to [`WRITE_THREADS`] blocking threads
/// (one per core), each taking a contiguous share; the first error.
async fn in_parallel<T: Send + Sync + 'static>(
    items: &Arc<Vec<T>>,
    f: fn(&T) -> Result<(), BlobError>,
) -> Result<(), BlobError> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, WRITE_THREADS);
    let share = items.len().div_ceil(threads).max(1);
    let mut workers = tokio::task::JoinSet::new();
    for start in (0..items.len()).step_by(share) {
        let items = items.clone();
        let end = (start + share).min(items.len());
        workers.spawn_blocking(move || items[start..end].iter().try_for_each(f));
    }
    let mut first_error = Ok(());
    while let Some(done) = workers.join_next().await {
        let result = match done {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(BlobError::Cancelled),
        };
        if first_error.is_ok() {
            first_error = result;
        }
    }
    first_error
}

/// Runs filesystem work on a blocking thread. A panic there is a bug, not
/// bad input: it takes the calling task down.
async fn blocking<T, F>(work: F) -> Result<T, BlobError>
where
    F: FnOnce() -> Result<T, BlobError> + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(done) => done,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(BlobError::Cancelled),
    }
}
