//! What the agent tells the shore about itself: the `status` message
//! (health, cameras, fix, clock, disk, outbox).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use seaframe_wire::CameraId;
use seaframe_wire::message::{CameraHealth, Fix, Health, LinkState, Status};

use crate::adapters::shore_link::outbox::Outbox;
use crate::adapters::store::Store;
use crate::base::clock::Clock;
use crate::base::gps::fix::Fix as GpsFix;
use crate::base::metrics::{CameraState, Metrics};
use crate::services::retention::disk_space;
use seaframe_wire::timestamp::Timestamp;

#[derive(Debug, Clone)]
pub struct StatusSource {
    pub metrics: Arc<Metrics>,
    pub clock: Clock,
    pub store: Arc<Store>,
    pub outbox: Arc<Outbox>,
    pub data_dir: PathBuf,
    pub started_at: Timestamp,
    /// The config version last applied from shore.
    pub config_version: Arc<AtomicU64>,
}

impl StatusSource {
    /// What a change of deserves a status at once: each camera's state
    /// and rate, and whether there is a fix.
    pub fn signature(&self) -> (Vec<(CameraId, &'static str, u64)>, bool) {
        let cameras = self
            .metrics
            .cameras()
            .iter()
            .map(|c| (c.id.clone(), state_name(&c.state()), c.fps.to_bits()))
            .collect();
        (cameras, self.clock.gps().latest().is_some())
    }

    /// The `online` status as of now.
    pub fn online(&self) -> Status {
        let now = Timestamp::now();
        let cameras = self
            .metrics
            .cameras()
            .iter()
            .map(|c| CameraHealth {
                id: c.id.clone(),
                state: state_name(&c.state()).to_owned(),
                fps: c.fps,
                last_frame_ms: c.last_frame().map(Timestamp::unix_millis),
            })
            .collect();
        let u = &self.metrics.uplink;
        let disk_used_bytes = self.store.frames_bytes().unwrap_or(0) + self.outbox.disk_bytes();
        let (disk_free_bytes, disk_total_bytes) = match disk_space(&self.data_dir) {
            Ok((free, total)) => (free, Some(total)),
            Err(_) => (0, None),
        };
        Status {
            state: LinkState::Online,
            health: Some(Health {
                version: env!("CARGO_PKG_VERSION").to_owned(),
                uptime_s: u64::try_from(
                    (now.unix_nanos() - self.started_at.unix_nanos()) / 1_000_000_000,
                )
                .unwrap_or(0),
                sent_at_ms: now.unix_millis(),
                cameras,
                fix: self.clock.gps().latest().as_ref().map(wire_fix),
                clock: self
                    .clock
                    .now()
                    .map_or("untrusted", |(_, source)| source.as_str())
                    .to_owned(),
                clock_offset_ms: self.clock.offset_ns().map_or(0, |ns| ns / 1_000_000),
                disk_used_bytes,
                disk_free_bytes,
                disk_total_bytes,
                outbox_backlog: u.outbox_backlog.load(Ordering::Relaxed),
                outbox_bytes: u.outbox_bytes.load(Ordering::Relaxed),
                config_version: self.config_version.load(Ordering::Relaxed),
            }),
        }
    }
}

fn state_name(state: &CameraState) -> &'static str {
    match state {
        CameraState::Starting => "starting",
        CameraState::Ok => "ok",
        CameraState::Retrying { .. } => "retrying",
        CameraState::Stopped => "stopped",
    }
}

fn wire_fix(f: &GpsFix) -> Fix {
    Fix {
        at_ms: f.time.unix_millis(),
        lat: f.lat,
        lon: f.lon,
        fix: f.quality_name().to_owned(),
        speed_kn: f.speed_kn,
        course_deg: f.course_deg,
        heading_deg: f.heading_deg,
    }
}
