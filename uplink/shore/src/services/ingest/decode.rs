//! What one message from the broker asks of the index: decoded, checked
//! and turned into [`Work`], or refused with a reason (a metrics label).

use rumqttc::Publish;
use seaframe_wire::message::{ConfigAck, Fix, Health, LinkState, PositionReport, Status};
use seaframe_wire::{DecodeError, Thumb, ThumbMeta, Topic, VesselName};

use crate::adapters::index::{NewThumb, StatusUpdate};
use crate::base::when::now_ns;
use crate::services::ingest::{MAX_ACK_BYTES, MAX_STATUS_BYTES};

/// What one message asks of the index, once decoded.
#[derive(Debug)]
pub(super) enum Work {
    /// The JPEG's bytes shared, so that a batch retried is not copied.
    Thumb(Box<ThumbMeta>, bytes::Bytes),
    /// With the health it carried (kept as the vessel's latest status).
    Status(VesselName, StatusUpdate, Option<Box<Health>>),
    Fixes(VesselName, Vec<Fix>),
    /// With the time it was received, ns.
    Ack(VesselName, ConfigAck, i64),
}

pub(super) fn new_thumb(m: &ThumbMeta, bytes: usize, received_at_ns: i64) -> NewThumb {
    NewThumb {
        vessel: m.vessel.clone(),
        camera: m.camera.clone(),
        captured_at_ns: m.captured_at_ns,
        seq: m.seq,
        lat: m.position.as_ref().map(|p| p.lat),
        lon: m.position.as_ref().map(|p| p.lon),
        width_px: m.width,
        height_px: m.height,
        bytes: bytes as u64,
        received_at_ns,
    }
}

/// One message → its work, or the reason it is dropped (a metrics label).
pub(super) fn decode_one(p: &Publish) -> Result<Work, &'static str> {
    let topic = Topic::parse(&p.topic).map_err(|_| "bad_topic")?;
    match topic {
        Topic::Thumb { vessel, camera } => {
            let thumb = Thumb::decode(&p.payload).map_err(|e| decode_reason(&e))?;
            if thumb.meta.vessel != vessel || thumb.meta.camera != camera {
                return Err("topic_mismatch");
            }
            crate::base::poison::check(&thumb, now_ns())?;
            Ok(Work::Thumb(Box::new(thumb.meta), thumb.jpeg.into()))
        }
        Topic::Status { vessel } => {
            if p.payload.len() > MAX_STATUS_BYTES {
                return Err("status_too_large");
            }
            let status: Status = serde_json::from_slice(&p.payload).map_err(|_| "bad_json")?;
            let online = status.state == LinkState::Online;
            Ok(Work::Status(
                vessel,
                StatusUpdate {
                    online,
                    seen_ns: online.then(now_ns),
                    cameras: status
                        .health
                        .as_ref()
                        .map(|h| h.cameras.iter().map(|c| c.id.clone()).collect()),
                    fix: status
                        .health
                        .as_ref()
                        .and_then(|h| h.fix.clone())
                        .filter(valid_fix),
                },
                status.health.map(Box::new),
            ))
        }
        Topic::Position { vessel } => {
            let report: PositionReport =
                serde_json::from_slice(&p.payload).map_err(|_| "bad_json")?;
            let fixes: Vec<Fix> = report.fixes.into_iter().filter(valid_fix).collect();
            Ok(Work::Fixes(vessel, fixes))
        }
        Topic::ConfigAck { vessel } => {
            if p.payload.len() > MAX_ACK_BYTES {
                return Err("ack_too_large");
            }
            let ack: ConfigAck = serde_json::from_slice(&p.payload).map_err(|_| "bad_json")?;
            if i64::try_from(ack.version).is_err() {
                return Err("bad_ack_version");
            }
            Ok(Work::Ack(vessel, ack, now_ns()))
        }
        Topic::Config { .. } => Err("unexpected_topic"),
    }
}

fn valid_fix(f: &Fix) -> bool {
    (-90.0..=90.0).contains(&f.lat) && (-180.0..=180.0).contains(&f.lon)
}

/// The metrics label of a decode error.
pub fn decode_reason(e: &DecodeError) -> &'static str {
    match e {
        DecodeError::TooLarge(_) => "too_large",
        DecodeError::Empty => "empty",
        DecodeError::UnsupportedVersion(_) => "unsupported_version",
        DecodeError::Truncated(_) => "truncated",
        DecodeError::BadName { .. } => "bad_name",
        DecodeError::NotUtf8(_) => "not_utf8",
        DecodeError::BadFix => "bad_fix",
        DecodeError::BadClock(_) => "bad_clock",
        DecodeError::BadPositionFlag(_) => "bad_position_flag",
        DecodeError::BadPosition { .. } => "bad_position",
        DecodeError::NotJpeg => "not_jpeg",
    }
}
