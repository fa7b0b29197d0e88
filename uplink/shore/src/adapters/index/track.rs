//! What the track API asks of the index, behind its own trait
//! ([`TrackStore`], a supertrait of [`super::Index`]): how much a range
//! holds, and its fixes — all of them or the first of each time bucket.

use seaframe_wire::VesselName;
use seaframe_wire::message::Fix;

use crate::adapters::index::Fut;

/// How many fixes a range holds, and the times of its first and last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrackSpan {
    pub count: u64,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
}

pub trait TrackStore {
    /// What the vessel's track holds in `[from_ns, to_ns)`.
    fn track_span<'a>(
        &'a self,
        vessel: &'a VesselName,
        from_ns: i64,
        to_ns: i64,
    ) -> Fut<'a, TrackSpan>;
    /// The vessel's fixes in `[from_ns, to_ns)`, oldest first: all of them
    /// (`bucket_ms` 0), else the first of each `bucket_ms` from `from_ns`.
    fn track<'a>(
        &'a self,
        vessel: &'a VesselName,
        from_ns: i64,
        to_ns: i64,
        bucket_ms: i64,
    ) -> Fut<'a, Vec<Fix>>;
}
