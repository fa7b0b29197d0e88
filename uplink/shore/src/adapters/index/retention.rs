//! What [`crate::services::retention`] asks of the index, behind its own trait
//! ([`RetentionStore`], a supertrait of [`super::Index`]) so that both
//! backends keep it apart from ingest and the API.
//!
//! Deleting a thumbnail is three steps, each idempotent, in an order that
//! never shows a row without its file:
//! 1. [`RetentionStore::doom_thumbs`] moves rows from `thumbs` to
//!    `thumb_garbage` in one transaction: from then on no query sees them
//!    (and `thumb_usage`, kept by triggers, no longer counts them);
//! 2. the task unlinks their files (a file already gone is fine);
//! 3. [`RetentionStore::drop_garbage`] forgets them.
//!
//! A crash between steps leaves garbage rows, which the next pass (after a
//! restart too) finishes first. Passes of several shores sharing an index
//! are serialised by [`RetentionStore::retention_lease`].

use seaframe_wire::{CameraId, VesselName};

use crate::adapters::index::Fut;

/// Held for the length of a retention pass; dropping it lets another
/// shore's pass run.
pub type Lease = Box<dyn std::any::Any + Send + Sync>;

/// The JPEG bytes and the number of thumbnails a camera has indexed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraUsage {
    pub vessel: VesselName,
    pub camera: CameraId,
    pub bytes: u64,
    pub count: u64,
}

/// What one [`RetentionStore::doom_thumbs`] took out of the index.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Doomed {
    pub rows: u64,
    pub bytes: u64,
}

/// A thumbnail out of the index whose file may still be on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GarbageRow {
    pub id: i64,
    pub vessel: VesselName,
    pub camera: CameraId,
    pub captured_at_ns: i64,
}

/// Thumbnails indexed since an id: per camera, the oldest capture time among
/// them (a vessel draining its backlog sends old ones late), and the
/// highest id seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Arrivals {
    pub max_id: i64,
    pub oldest: Vec<(VesselName, CameraId, i64)>,
}

pub trait RetentionStore: Send + Sync {
    /// The retention lease of this index, or `None` while another shore's
    /// pass holds it (skip this pass).
    fn retention_lease(&self) -> Fut<'_, Option<Lease>>;
    /// Every camera with thumbnails indexed (from the running totals).
    fn thumb_usage(&self) -> Fut<'_, Vec<CameraUsage>>;
    /// Moves the rows with these ids (those still there) to the garbage in
    /// one transaction; a camera whose newest thumbnail goes gets its
    /// newest remaining one (or loses its `cameras` row). Idempotent.
    fn doom_thumbs<'a>(&'a self, ids: &'a [i64]) -> Fut<'a, Doomed>;
    /// Up to `limit` garbage rows, by id.
    fn garbage(&self, limit: u32) -> Fut<'_, Vec<GarbageRow>>;
    /// Forgets garbage rows whose files are gone. Idempotent.
    fn drop_garbage<'a>(&'a self, ids: &'a [i64]) -> Fut<'a, ()>;
    /// A value retention keeps between passes (and restarts).
    fn retention_value<'a>(&'a self, name: &'a str) -> Fut<'a, Option<i64>>;
    /// Stores values in one transaction (one commit per pass, not per camera).
    fn set_retention_values<'a>(&'a self, values: &'a [(String, i64)]) -> Fut<'a, ()>;
    /// What was indexed with an id above `after_id`.
    fn arrivals_since(&self, after_id: i64) -> Fut<'_, Arrivals>;
}

/// Reads back a usage row.
pub(crate) fn usage(
    vessel: &str,
    camera: &str,
    bytes: i64,
    count: i64,
) -> Result<CameraUsage, super::IndexError> {
    Ok(CameraUsage {
        vessel: super::vessel(vessel)?,
        camera: super::camera(camera)?,
        bytes: u64::try_from(bytes).unwrap_or(0),
        count: u64::try_from(count).unwrap_or(0),
    })
}
