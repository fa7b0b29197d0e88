//! The thumbnailer: once a second, per camera, picks `thumbs_per_s` frames
//! per second from the index (the sharpest of each slot when measured, else
//! the first), makes their thumbnails on a blocking thread and puts them in
//! the outbox. Works a few seconds behind capture so that a slot's frames
//! are stored before it is picked; remembers in the outbox how far it got.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use seaframe_wire::{Clock, Thumb, ThumbMeta, ThumbPosition, VesselName};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use crate::adapters::shore_link::outbox::Outbox;
use crate::adapters::store::{FrameRow, Pick, Store};
use crate::base::clock::ClockSource;
use crate::base::metrics::Metrics;
use crate::base::shore_link::thumbnail;
use crate::services::shore_link::UplinkSettings;
use seaframe_wire::timestamp::Timestamp;

/// A slot is picked once a frame of its camera this much newer is stored:
/// frames wait up to 1.5 s for a GPS fix, and workers store batches side
/// by side, so a slot's frames may arrive after a newer one. Measured on
/// the frames' own clock (GPS-corrected), never on the system's.
const SETTLE_NS: i64 = 2_000_000_000;
/// A camera never seen before starts this far back.
const FIRST_LOOKBACK_NS: i64 = 60_000_000_000;
/// Slots this recent are looked at again every pass: a frame stored late,
/// or captured after the clock was corrected backwards, may fill a slot
/// that was passed (slots already made are remembered, never made twice).
const REVISIT_NS: i64 = 60_000_000_000;
/// Slots handled per camera per pass (a long backlog catches up over passes).
const MAX_PICKS: u32 = 600;

#[derive(Debug)]
pub struct Thumbnailer {
    pub vessel: VesselName,
    pub store: Arc<Store>,
    pub outbox: Arc<Outbox>,
    pub metrics: Arc<Metrics>,
    pub settings: watch::Receiver<UplinkSettings>,
    /// Woken when thumbnails were added (the publisher waits on it).
    pub added: Arc<Notify>,
}

impl Thumbnailer {
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let me = Arc::new(self);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return Ok(()),
                _ = tick.tick() => {}
            }
            let worker = Arc::clone(&me);
            match tokio::task::spawn_blocking(move || worker.pass()).await {
                Ok(Ok(0)) => {}
                Ok(Ok(_)) => me.added.notify_one(),
                Ok(Err(e)) => tracing::warn!("thumbnails: {e:#}"),
                Err(e) => tracing::error!("thumbnail task failed: {e}"),
            }
        }
    }

    /// One pass over every camera; returns the thumbnails added.
    fn pass(&self) -> anyhow::Result<usize> {
        let (width_px, per_s) = {
            let s = self.settings.borrow();
            (s.thumb_width_px, s.thumbs_per_s)
        };
        let slot_ns = (1e9 / per_s).round().max(1.0) as i64;
        let mut added = 0;
        for cam in self.metrics.cameras() {
            // Whole slots only, old enough to be complete.
            let Some(newest) = self.store.newest(&cam.id)? else {
                continue;
            };
            let newest = newest.unix_nanos();
            let to = (newest - SETTLE_NS).div_euclid(slot_ns) * slot_ns;
            // (Half a page of slots at most, so that a pass always gets past
            // the slots it revisits.)
            let revisit_ns = REVISIT_NS.min(slot_ns * i64::from(MAX_PICKS / 2));
            let progress = self.outbox.progress(&cam.id)?;
            let from = progress
                .unwrap_or((newest - FIRST_LOOKBACK_NS).div_euclid(slot_ns) * slot_ns)
                .min(to - revisit_ns);
            if from >= to {
                continue;
            }
            let made = self.outbox.slots_made(&cam.id, from.div_euclid(slot_ns))?;
            let picks = self.store.picks(
                &cam.id,
                Timestamp::from_unix_nanos(from),
                Timestamp::from_unix_nanos(to),
                slot_ns,
                Pick::Sharpest,
                MAX_PICKS,
            )?;
            // A full page: stop after its last slot and go on next pass.
            let done_until = match picks.last() {
                Some(last) if picks.len() == MAX_PICKS as usize => {
                    (last.captured_at.unix_nanos().div_euclid(slot_ns) + 1) * slot_ns
                }
                _ => to,
            }
            .max(progress.unwrap_or(i64::MIN));
            for row in &picks {
                let slot = row.captured_at.unix_nanos().div_euclid(slot_ns);
                if made.contains(&slot) {
                    continue;
                }
                if self.add(row, width_px) {
                    added += 1;
                }
                // Made, or not makeable (the file is gone): not again.
                self.outbox.mark_slot_made(&cam.id, slot)?;
            }
            self.outbox.set_progress(&cam.id, done_until)?;
            self.outbox
                .forget_slots_before(&cam.id, (to - 2 * revisit_ns).div_euclid(slot_ns))?;
        }
        set_backlog_gauges(&self.metrics, &self.outbox);
        Ok(added)
    }

    /// Makes the thumbnail of one stored frame and puts it in the outbox.
    fn add(&self, row: &FrameRow, width_px: u16) -> bool {
        let u = &self.metrics.uplink;
        let made = std::fs::read(self.store.file_path(row))
            .map_err(anyhow::Error::from)
            .and_then(|jpeg| Ok(thumbnail::make(&jpeg, width_px)?))
            .and_then(|t| {
                let thumb = Thumb {
                    meta: meta(&self.vessel, row, t.width, t.height),
                    jpeg: t.jpeg,
                };
                Ok(thumb.encode()?)
            });
        let payload = match made {
            Ok(p) => p,
            Err(e) => {
                // Retention may have taken the file meanwhile; either way
                // this slot has no thumbnail.
                tracing::debug!(frame = row.id, "no thumbnail: {e:#}");
                u.thumbs_failed.fetch_add(1, Ordering::Relaxed);
                return false;
            }
        };
        match self
            .outbox
            .push(&row.camera, row.captured_at.unix_nanos(), &payload)
        {
            Ok(evicted) => {
                u.thumbs_made.fetch_add(1, Ordering::Relaxed);
                u.thumbs_thinned
                    .fetch_add(evicted.thinned, Ordering::Relaxed);
                u.thumbs_dropped
                    .fetch_add(evicted.dropped, Ordering::Relaxed);
                true
            }
            Err(e) => {
                tracing::warn!(frame = row.id, "outbox: {e}");
                u.thumbs_failed.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }
}

/// The outbox's backlog into `/metrics` (after it grew or shrank).
pub fn set_backlog_gauges(metrics: &Metrics, outbox: &Outbox) {
    let (count, bytes) = outbox.backlog();
    metrics
        .uplink
        .outbox_backlog
        .store(count, Ordering::Relaxed);
    metrics.uplink.outbox_bytes.store(bytes, Ordering::Relaxed);
}

/// The envelope metadata of a stored frame's thumbnail.
pub fn meta(vessel: &VesselName, row: &FrameRow, width: u16, height: u16) -> ThumbMeta {
    let position = match (row.lat, row.lon) {
        (Some(lat), Some(lon)) => Some(ThumbPosition {
            lat,
            lon,
            fix: row.fix.clone().unwrap_or_default(),
            speed_kn: row.speed_kn.map(|v| v as f32),
            course_deg: row.course_deg.map(|v| v as f32),
            heading_deg: row.heading_deg.map(|v| v as f32),
            fix_age_ms: row.fix_age_ms.unwrap_or(0),
        }),
        _ => None,
    };
    ThumbMeta {
        vessel: vessel.clone(),
        camera: row.camera.clone(),
        captured_at_ns: row.captured_at.unix_nanos(),
        seq: row.seq,
        clock: match row.clock {
            ClockSource::System => Clock::System,
            ClockSource::Gps => Clock::Gps,
        },
        width,
        height,
        position,
    }
}
