//! `seaframe-bench uplink`: what a thumbnail costs on board and on the
//! wire — CPU to make one from a stored 1080p frame, payload and MQTT bytes
//! at `--width` px — and, from those, how long a backlog takes to drain
//! behind live traffic at a byte budget.

use std::time::Instant;

use seaframe_agent::base::shore_link::thumbnail;
use seaframe_agent::services::shore_link::thumbs::meta;
use seaframe_wire::{Thumb, Topic};

use crate::UplinkArgs;
use crate::pipeline::camera_like_jpeg;
use crate::procfs::cpu_seconds;

pub fn run(args: UplinkArgs) -> anyhow::Result<()> {
    let frames: Vec<_> = (0..8)
        .map(|seed| camera_like_jpeg(args.frame_width, args.frame_height, seed))
        .collect::<Result<_, _>>()?;
    let frame_bytes = frames.iter().map(|f| f.len()).sum::<usize>() / frames.len();
    let vessel = "aurora-7".parse()?;
    let camera: seaframe_wire::CameraId = "mast".parse()?;
    let topic = Topic::Thumb {
        vessel: "aurora-7".parse()?,
        camera: camera.clone(),
    }
    .to_string();
    let row = sample_row(camera);
    let cpu0 = cpu_seconds(None).ok_or_else(|| anyhow::anyhow!("reading /proc/self/stat"))?;
    let wall0 = Instant::now();
    let mut payload_bytes = 0usize;
    for i in 0..args.thumbs {
        let frame = &frames[i as usize % frames.len()];
        let t = thumbnail::make(frame, args.width)?;
        let thumb = Thumb {
            meta: meta(&vessel, &row, t.width, t.height),
            jpeg: t.jpeg,
        };
        payload_bytes += thumb.encode()?.len();
    }
    let cpu = cpu_seconds(None).ok_or_else(|| anyhow::anyhow!("reading /proc/self/stat"))? - cpu0;
    let n = f64::from(args.thumbs);
    let payload = payload_bytes as f64 / n;
    // MQTT 3.1.1 PUBLISH at QoS 1: fixed header (1 + remaining length),
    // topic (2 + its bytes), packet id (2), payload; PUBACK back: 4 bytes.
    let remaining = 2 + topic.len() + 2 + payload as usize;
    let length_bytes = match remaining {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    };
    let wire = (1 + length_bytes + remaining) as f64;
    println!(
        "uplink: {} thumbnails at {} px from {}x{} frames ({} KB average JPEG)",
        args.thumbs,
        args.width,
        args.frame_width,
        args.frame_height,
        frame_bytes / 1000
    );
    println!(
        "CPU {:.2} ms per thumbnail (decode at reduced scale, shrink, encode, envelope); wall {:.2} ms",
        cpu * 1000.0 / n,
        wall0.elapsed().as_secs_f64() * 1000.0 / n
    );
    println!(
        "payload {payload:.0} bytes; on the wire {wire:.0} bytes per thumbnail (+4 bytes PUBACK back; topic {topic})"
    );
    let budget = args.budget_bytes_per_s as f64;
    let live = wire * f64::from(args.cameras) * args.thumbs_per_s;
    let backlog = wire * f64::from(args.cameras) * args.thumbs_per_s * args.backlog_s as f64;
    println!(
        "{} cameras at {} thumbnail/s: live traffic {live:.0} B/s; a {} s backlog is {:.1} MB",
        args.cameras,
        args.thumbs_per_s,
        args.backlog_s,
        backlog / 1e6
    );
    if budget <= live {
        println!(
            "at {budget:.0} B/s ({:.0} kbit/s) the live traffic alone fills the budget: the backlog never drains (the outbox thins it)",
            budget * 8.0 / 1000.0
        );
    } else {
        let drain_s = backlog / (budget - live);
        println!(
            "at {budget:.0} B/s ({:.0} kbit/s), behind live traffic: the backlog drains in {:.0} s ({:.1} h)",
            budget * 8.0 / 1000.0,
            drain_s,
            drain_s / 3600.0
        );
    }
    Ok(())
}

/// A stored frame's row with a position, as the thumbnailer reads it.
fn sample_row(camera: seaframe_wire::CameraId) -> seaframe_agent::adapters::store::FrameRow {
    seaframe_agent::adapters::store::FrameRow {
        id: 1,
        camera,
        seq: 1,
        captured_at: seaframe_wire::timestamp::Timestamp::now(),
        rel_path: String::new(),
        bytes: 0,
        width: 1920,
        height: 1080,
        lat: Some(59.9),
        lon: Some(10.7),
        fix: Some("3d".into()),
        speed_kn: Some(12.0),
        course_deg: Some(90.0),
        heading_deg: Some(91.0),
        fix_age_ms: Some(200),
        time_uncertainty_ms: Some(0),
        interpolated: Some(true),
        clock: seaframe_agent::base::clock::ClockSource::Gps,
        sharpness: None,
    }
}
