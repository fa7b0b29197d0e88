//! `seaframe-bench query`: an index of millions of frames (default 10 M:
//! 4 cameras for 30 days at about 1 fps each, a ship steaming east at
//! 12 kn along a gently winding track), then the latency (p50/p99) of the
//! API's queries at random places in it, the index's size, and how long
//! retention deleting the first day (with its files) holds storage up.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use bytes::Bytes;
use seaframe_agent::adapters::store::index::Index;
use seaframe_agent::adapters::store::{FrameQuery, GeoBox, Pick, Store};
use seaframe_agent::base::clock::ClockSource;
use seaframe_agent::base::frame::Frame;
use seaframe_agent::base::gps::timeline::Position;
use seaframe_agent::base::store::layout::rel_path;
use seaframe_wire::CameraId;
use seaframe_wire::geo::Place;
use seaframe_wire::timestamp::Timestamp;

use super::{QueryArgs, percentile};

const T0_NS: i64 = 1_764_000_000_000_000_000;
const DAY_NS: i64 = 86_400_000_000_000;
const HOUR_NS: i64 = 3_600_000_000_000;
/// 12 kn east at latitude 50: degrees of longitude per second.
const LON_PER_S: f64 = 12.0 * 1852.0 / 3600.0 / (111_320.0 * 0.6428);

/// Where the ship is `ns` after the start: east at 12 kn, weaving ±0.2°
/// of latitude every few hours.
fn track(ns: i64) -> (f64, f64) {
    let s = ns as f64 / 1e9;
    (50.0 + 0.2 * (s / 7200.0).sin(), -100.0 + s * LON_PER_S)
}

pub fn run(args: QueryArgs) -> anyhow::Result<()> {
    let tmp = tempfile::Builder::new()
        .prefix("seaframe-bench")
        .tempdir()?;
    let store = Arc::new(Store::open(tmp.path())?);
    let index = Index::open(&tmp.path().join("index.db"))?;
    let cams: Vec<CameraId> = (0..args.cameras)
        .map(|c| CameraId::parse(&format!("cam-{c}")))
        .collect::<Result<_, _>>()?;
    let span_ns = i64::from(args.days) * DAY_NS;
    let step_ns = span_ns / i64::from(args.rows.max(1));
    let frame_at = |k: u32| {
        let at = T0_NS + i64::from(k) * step_ns;
        let mut f = Frame::new(
            cams[(k % args.cameras) as usize].clone(),
            u64::from(k),
            Timestamp::from_unix_nanos(at),
            ClockSource::Gps,
            1920,
            1080,
            Bytes::new(),
        );
        let (lat, lon) = track(at - T0_NS);
        f.position = Some(Position {
            lat,
            lon,
            fix: "3d",
            speed_kn: Some(12.0),
            course_deg: Some(90.0),
            heading_deg: None,
            fix_age_ms: 300,
            interpolated: true,
            time_uncertainty_ms: 0,
        });
        f
    };
    let built = Instant::now();
    let mut k = 0u32;
    while k < args.rows {
        let n = (args.rows - k).min(20_000);
        let frames: Vec<Frame> = (k..k + n).map(frame_at).collect();
        let batch: Vec<(&Frame, u64)> = frames.iter().map(|f| (f, 300_000)).collect();
        index.insert_batch(&batch)?;
        k += n;
    }
    index.checkpoint()?;
    let db_bytes = std::fs::metadata(tmp.path().join("index.db"))?.len();
    println!(
        "query: {} rows ({} cameras, {} days, one frame per {:.2} s per camera) indexed in {:.1} s; index.db {:.0} MB ({:.0} bytes a frame)",
        args.rows,
        args.cameras,
        args.days,
        step_ns as f64 * f64::from(args.cameras) / 1e9,
        built.elapsed().as_secs_f64(),
        db_bytes as f64 / 1e6,
        db_bytes as f64 / f64::from(args.rows.max(1))
    );

    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rand = move |below: i64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % below.max(1) as u64) as i64
    };
    let mut time =
        |name: &str, f: &mut dyn FnMut(i64) -> anyhow::Result<usize>| -> anyhow::Result<()> {
            let mut ms = Vec::new();
            let mut found = 0;
            for _ in 0..args.runs {
                let at = T0_NS + rand(span_ns - DAY_NS);
                let started = Instant::now();
                found += f(at)?;
                ms.push(started.elapsed().as_secs_f64() * 1000.0);
            }
            ms.sort_by(f64::total_cmp);
            println!(
                "{name:52} p50 {:7.3} ms  p99 {:7.3} ms  ({} results a query)",
                percentile(&ms, 0.5),
                percentile(&ms, 0.99),
                found / args.runs as usize
            );
            Ok(())
        };
    let cam = cams[0].clone();
    let ts = Timestamp::from_unix_nanos;
    time("one camera, one hour (limit 100)", &mut |at| {
        let q = FrameQuery {
            camera: Some(cam.clone()),
            from: ts(at),
            to: ts(at + HOUR_NS),
            limit: 100,
            after: None,
        };
        Ok(index.query(&q)?.frames.len())
    })?;
    time(
        "bbox around a day's track, that day (limit 100)",
        &mut |at| {
            let (lat0, lon0) = track(at - T0_NS);
            let (_, lon1) = track(at - T0_NS + DAY_NS);
            let b = GeoBox {
                min_lat: lat0 - 0.3,
                max_lat: lat0 + 0.3,
                min_lon: lon0,
                max_lon: lon1,
            };
            Ok(index
                .query_box(&b, ts(at), ts(at + DAY_NS), None, 100)?
                .0
                .len())
        },
    )?;
    time(
        "radius 2 km around a point of the track, whole month",
        &mut |at| {
            let (lat, lon) = track(at - T0_NS);
            let circle = Place::Circle {
                lat,
                lon,
                radius_m: 2000.0,
            };
            let (rows, _) = index.query_box(
                &GeoBox::from(circle.prefilter()),
                ts(T0_NS),
                ts(T0_NS + span_ns),
                None,
                100,
            )?;
            Ok(rows
                .iter()
                .filter(|r| matches!((r.lat, r.lon), (Some(a), Some(b)) if circle.contains(a, b)))
                .count())
        },
    )?;
    time("nearest to an instant", &mut |at| {
        Ok(usize::from(index.nearest(&cam, ts(at))?.is_some()))
    })?;
    // The API pages per-second listings by at most 1000 slots.
    for (what, pick) in [
        ("per-second, one hour (a page of 1000 slots)", Pick::First),
        (
            "per-second sharpest, one hour (a page of 1000)",
            Pick::Sharpest,
        ),
    ] {
        time(what, &mut |at| {
            Ok(index
                .picks(&cam, ts(at), ts(at + HOUR_NS), 1_000_000_000, pick, 1000)?
                .len())
        })?;
    }
    if !args.no_retention {
        retention(&store, args.rows, step_ns)?;
    }
    Ok(())
}

/// Deletes the first day (files and rows, through the store's garbage
/// step, 2000 frames a pass as the retention task does) while another
/// thread stores a frame every 10 ms; prints how long the passes held the
/// store and how long stores waited.
fn retention(store: &Arc<Store>, rows: u32, step_ns: i64) -> anyhow::Result<()> {
    let day_rows = u32::try_from(DAY_NS / step_ns.max(1))
        .unwrap_or(u32::MAX)
        .min(rows);
    // The day's files (empty: what costs is the unlink and the directories).
    let frames_dir = store.frames_dir().to_owned();
    let made = Instant::now();
    let cams: Vec<CameraId> = (0..4)
        .map(|c| CameraId::parse(&format!("cam-{c}")))
        .collect::<Result<_, _>>()?;
    for k in 0..day_rows {
        let path = frames_dir.join(rel_path(
            &cams[(k % 4) as usize],
            Timestamp::from_unix_nanos(T0_NS + i64::from(k) * step_ns),
            u64::from(k),
        ));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, b"")?;
    }
    println!(
        "retention: {day_rows} files of the first day made in {:.1} s",
        made.elapsed().as_secs_f64()
    );
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (store, done) = (Arc::clone(store), Arc::clone(&done));
        std::thread::spawn(move || -> anyhow::Result<Vec<f64>> {
            let cam = CameraId::parse("live")?;
            let jpeg = Bytes::from_static(&[0xFF, 0xD8, 0xFF, 0xD9]);
            let mut waits = Vec::new();
            let mut seq = 0u64;
            while !done.load(Ordering::Relaxed) {
                let f = Frame::new(
                    cam.clone(),
                    seq,
                    Timestamp::now(),
                    ClockSource::System,
                    1,
                    1,
                    jpeg.clone(),
                );
                let started = Instant::now();
                for r in store.put_batch(&[f]) {
                    r?;
                }
                waits.push(started.elapsed().as_secs_f64() * 1000.0);
                seq += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Ok(waits)
        })
    };
    let started = Instant::now();
    let mut passes = Vec::new();
    let mut deleted = 0usize;
    let day_end = Timestamp::from_unix_nanos(T0_NS + DAY_NS);
    loop {
        let ids: Vec<i64> = store
            .oldest(2000)?
            .into_iter()
            .filter(|c| c.captured_at < day_end)
            .map(|c| c.id)
            .collect();
        if ids.is_empty() {
            break;
        }
        let t = Instant::now();
        deleted += store.collect_garbage(&ids)?;
        passes.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    done.store(true, Ordering::Relaxed);
    let mut waits = writer
        .join()
        .map_err(|_| anyhow::anyhow!("the storing thread panicked"))??;
    passes.sort_by(f64::total_cmp);
    waits.sort_by(f64::total_cmp);
    println!(
        "retention: deleted {deleted} frames in {:.1} s, {} passes of ≤ 2000: a pass holds the store p50 {:.1} ms, max {:.1} ms",
        started.elapsed().as_secs_f64(),
        passes.len(),
        percentile(&passes, 0.5),
        passes.last().copied().unwrap_or(0.0)
    );
    println!(
        "retention: meanwhile {} frames stored, each waited p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        waits.len(),
        percentile(&waits, 0.5),
        percentile(&waits, 0.99),
        waits.last().copied().unwrap_or(0.0)
    );
    Ok(())
}
