//! `seaframe-bench pipeline`: pre-encoded JPEGs through the real frame path
//! (hand-off → Redis stream → workers → files + SQLite index), at a set
//! number of cameras × fps for a set time; prints offered and stored, CPU
//! per stored frame (the agent's threads, its Redis, the sharpness thread
//! apart), peak RSS, capture→indexed latency and bytes written per second.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use seaframe_agent::app::Pipeline;
use seaframe_agent::base::clock::Clock;
use seaframe_agent::base::clock::ClockSource;
use seaframe_agent::base::config::{QueueConfig, Secret};
use seaframe_agent::base::frame::Frame;
use seaframe_agent::base::gps::state::Gps;
use seaframe_agent::base::metrics::Metrics;
use seaframe_agent::services::fswatch::{DiskWatch, WatchSettings};
use seaframe_agent::services::stage::Stage;
use seaframe_wire::CameraId;
use seaframe_wire::timestamp::Timestamp;
use tokio_util::sync::CancellationToken;

use crate::percentile;
use crate::procfs::{ThreadCpu, cpu_seconds, proc_kib};

#[derive(Debug, clap::Args)]
pub struct PipelineArgs {
    #[arg(long, default_value_t = 4)]
    pub cameras: u32,
    #[arg(long, default_value_t = 30.0)]
    pub fps: f64,
    #[arg(long, default_value_t = 1920)]
    pub width: u16,
    #[arg(long, default_value_t = 1080)]
    pub height: u16,
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    #[arg(long, default_value_t = 2)]
    pub workers: u32,
    #[arg(long, default_value_t = 2000)]
    pub max_len: u64,
    /// An external Redis; omitted: the agent's own (started in a temp dir).
    #[arg(long)]
    pub redis_url: Option<String>,
    /// Where frames go (default: a temp dir, removed afterwards).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Run the disk watch (inotify + slow scan) beside the pipeline, as the agent does.
    #[arg(long)]
    pub watch: bool,
    /// A regression check (CI's smoke run): fail unless every frame
    /// offered was stored and the agent with its Redis spent at most this
    /// many CPU-ms per stored frame.
    #[arg(long)]
    pub max_cpu_ms_per_frame: Option<f64>,
}

/// A camera-like 1080p JPEG: colour gradients with fine texture, so that
/// it compresses like a real scene rather than a flat test card.
pub fn camera_like_jpeg(width: u16, height: u16, seed: u32) -> anyhow::Result<Bytes> {
    let (w, h) = (usize::from(width), usize::from(height));
    let mut rgb = vec![0u8; w * h * 3];
    let mut state = seed.wrapping_mul(2_654_435_761).max(1);
    for y in 0..h {
        for x in 0..w {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let noise = (state & 0x17) as usize;
            let i = (y * w + x) * 3;
            rgb[i] = ((x * 255 / w + noise) & 0xFF) as u8;
            rgb[i + 1] = ((y * 255 / h + noise / 2 + seed as usize * 20) & 0xFF) as u8;
            rgb[i + 2] = (((x + y) / 4 + noise) & 0xFF) as u8;
        }
    }
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 85).encode(
        &rgb,
        width,
        height,
        jpeg_encoder::ColorType::Rgb,
    )?;
    Ok(Bytes::from(out))
}

fn totals(m: &Metrics) -> [u64; 6] {
    let mut t = [0; 6];
    for c in m.cameras() {
        for (i, v) in [
            &c.captured,
            &c.stored,
            &c.trimmed,
            &c.dropped,
            &c.failed,
            &c.lost,
        ]
        .iter()
        .enumerate()
        {
            t[i] += v.load(Ordering::Relaxed);
        }
    }
    t
}

/// Capture→indexed latencies of every row, sorted, in ms.
fn latencies_ms(data_dir: &Path) -> anyhow::Result<Vec<f64>> {
    let conn = rusqlite::Connection::open(data_dir.join("index.db"))?;
    let mut stmt = conn.prepare("SELECT stored_at_ns - captured_at_ns FROM frames")?;
    let mut v: Vec<f64> = stmt
        .query_map([], |r| r.get::<_, i64>(0))?
        .map(|r| r.map(|ns| ns as f64 / 1e6))
        .collect::<Result<_, _>>()?;
    v.sort_by(f64::total_cmp);
    Ok(v)
}

pub async fn run(args: PipelineArgs) -> anyhow::Result<()> {
    let tmp = tempfile::Builder::new()
        .prefix("seaframe-bench")
        .tempdir()?;
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| tmp.path().to_owned());
    println!(
        "pipeline: {} cameras x {} fps, {}x{}, {} s, {} workers, max_len {}, redis {}, disk watch {}",
        args.cameras,
        args.fps,
        args.width,
        args.height,
        args.seconds,
        args.workers,
        args.max_len,
        args.redis_url.as_deref().unwrap_or("own (unix socket)"),
        if args.watch { "on" } else { "off" }
    );
    // A few distinct frames per camera, encoded before the clock starts.
    let mut frames: Vec<Vec<Bytes>> = Vec::new();
    for cam in 0..args.cameras {
        let set = (0..3)
            .map(|i| camera_like_jpeg(args.width, args.height, cam * 3 + i + 1))
            .collect::<anyhow::Result<Vec<_>>>()?;
        frames.push(set);
    }
    let jpeg_bytes: usize = frames.iter().flatten().map(Bytes::len).sum();
    println!(
        "frames: {:.0} KB average JPEG",
        jpeg_bytes as f64 / (frames.len() * 3) as f64 / 1024.0
    );

    let queue = QueueConfig {
        redis_url: args.redis_url.clone().map(Secret::new),
        workers: args.workers,
        max_len: args.max_len,
    };
    let held_kib = (jpeg_bytes / 1024) as u64;
    // Peak RSS from here on: forget the encoder's buffers (Linux: writing
    // 5 to clear_refs resets VmHWM to the current RSS).
    if let Err(e) = std::fs::write("/proc/self/clear_refs", "5") {
        println!("(cannot reset peak RSS: {e}; it includes the set-up)");
    }
    let gps = Arc::new(Gps::new(10));
    let pipeline = Pipeline::start(&data_dir, &queue, Arc::clone(&gps)).await?;
    let watch = Stage::new("watch");
    let watch_stop = CancellationToken::new();
    if args.watch {
        let disk_watch = DiskWatch {
            store: Arc::clone(&pipeline.store),
            metrics: Arc::clone(&pipeline.metrics),
            clock: Clock::new(gps),
            settings: WatchSettings::default(),
        };
        let failed = CancellationToken::new();
        watch.spawn(
            tracing::info_span!("watch"),
            &failed,
            disk_watch.run(watch_stop.clone()),
        );
    }
    let redis_pid = pipeline.own_redis_pid();
    let cpu0 = cpu_seconds(None).context("reading /proc/self/stat")?;
    let threads0 = ThreadCpu::read();
    let redis_cpu0 = redis_pid.and_then(|p| cpu_seconds(Some(p)));
    let started = Instant::now();

    // Feeders: one task per camera, ticking at fps, as capture would.
    let stop = CancellationToken::new();
    let tracker = tokio_util::task::TaskTracker::new();
    for (cam, set) in frames.into_iter().enumerate() {
        let id = CameraId::parse(&format!("cam-{cam}"))?;
        let metrics = pipeline.metrics.register_camera(&id, args.fps);
        let handoff = pipeline.handoff.clone();
        let stop = stop.clone();
        let (w, h) = (u32::from(args.width), u32::from(args.height));
        let period = Duration::from_secs_f64(1.0 / args.fps);
        tracker.spawn(async move {
            let mut ticks = tokio::time::interval(period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            for seq in 0u64.. {
                tokio::select! {
                    biased;
                    _ = stop.cancelled() => break,
                    _ = ticks.tick() => {}
                }
                let jpeg = set[seq as usize % set.len()].clone();
                handoff.push(Frame::new(
                    id.clone(),
                    seq,
                    Timestamp::now(),
                    ClockSource::System,
                    w,
                    h,
                    jpeg,
                ));
                metrics.captured.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    stop.cancel();
    tracker.close();
    tracker.wait().await;
    let offered_for = started.elapsed();

    // Let the workers finish what was offered (bounded).
    let drain_deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let [captured, stored, trimmed, dropped, failed, lost] = totals(&pipeline.metrics);
        if stored + trimmed + dropped + failed + lost >= captured || Instant::now() > drain_deadline
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    let cpu = cpu_seconds(None).context("reading /proc/self/stat")? - cpu0;
    let threads = ThreadCpu::read().since(threads0);
    let (watch_own, watch_notify) = (threads.watch, threads.notify);
    let watch_cpu = watch_own + watch_notify;
    let redis_cpu = match (redis_pid.and_then(|p| cpu_seconds(Some(p))), redis_cpu0) {
        (Some(b), Some(a)) => Some(b - a),
        _ => None,
    };
    let [captured, stored, trimmed, dropped, failed, lost] = totals(&pipeline.metrics);
    let peak_rss_kib = proc_kib(None, "status", "VmHWM:").unwrap_or(0);
    let rss_kib = proc_kib(None, "status", "VmRSS:").unwrap_or(0);
    watch_stop.cancel();
    watch.stop().await;
    let pipeline_metrics = Arc::clone(&pipeline.metrics);
    pipeline.stop_flow().await;
    pipeline.close().await?;

    let written: u64 = {
        let conn = rusqlite::Connection::open(data_dir.join("index.db"))?;
        conn.query_row("SELECT COALESCE(SUM(bytes), 0) FROM frames", [], |r| {
            r.get::<_, i64>(0)
        })? as u64
    };
    let lat = latencies_ms(&data_dir)?;
    println!(
        "offered {captured}  stored {stored}  trimmed {trimmed}  dropped {dropped}  failed {failed}  lost {lost}"
    );
    println!(
        "stored {:.1} frames/s over {:.1} s of offering ({:.1} s until drained)",
        stored as f64 / offered_for.as_secs_f64(),
        offered_for.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    let per_1000 = |seconds: f64| seconds / stored.max(1) as f64 * 1000.0;
    println!(
        "agent CPU {:.2} s = {:.3} CPU-s per 1000 stored frames ({:.0} stored frames per CPU-second; \
         of which the sharpness thread {:.3})",
        cpu,
        per_1000(cpu),
        stored as f64 / cpu.max(1e-9),
        per_1000(threads.sharpness)
    );
    if args.watch {
        let w = &pipeline_metrics.watch;
        println!(
            "disk watch CPU {:.3} s (its thread {:.3} s, notify's {:.3} s) = {:.3} CPU-s per 1000 stored frames \
             ({:.1} % of the agent's); {} watches, {} changes dropped, {} rows added, {} dropped, {} scan cycles",
            watch_cpu,
            watch_own,
            watch_notify,
            per_1000(watch_cpu),
            watch_cpu / cpu.max(1e-9) * 100.0,
            w.watches.load(Ordering::Relaxed),
            w.changes_dropped.load(Ordering::Relaxed),
            w.rows_added.load(Ordering::Relaxed),
            w.rows_dropped.load(Ordering::Relaxed),
            w.scan_cycles.load(Ordering::Relaxed),
        );
    }
    match redis_cpu {
        Some(r) => println!(
            "redis CPU {:.2} s = {:.3} CPU-s per 1000 stored frames",
            r,
            per_1000(r)
        ),
        None => println!("redis CPU: external server, not measured"),
    }
    println!(
        "agent RSS peak {:.1} MB, at end {:.1} MB (of which {:.1} MB are the bench's pre-encoded frames; \
         without them: peak {:.1} MB)",
        peak_rss_kib as f64 / 1024.0,
        rss_kib as f64 / 1024.0,
        held_kib as f64 / 1024.0,
        peak_rss_kib.saturating_sub(held_kib) as f64 / 1024.0
    );
    println!(
        "capture->indexed latency p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
        percentile(&lat, 0.50),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "written {:.1} MB/s ({:.1} MB in all)",
        written as f64 / 1e6 / elapsed.as_secs_f64(),
        written as f64 / 1e6
    );
    let per_frame = per_1000(cpu + redis_cpu.unwrap_or(0.0));
    if redis_cpu.is_some() {
        println!("agent and its Redis: {per_frame:.2} CPU-ms per stored frame");
    }
    if let Some(max) = args.max_cpu_ms_per_frame {
        anyhow::ensure!(
            stored == captured && stored > 0,
            "check: {stored} of {captured} frames offered were stored"
        );
        anyhow::ensure!(
            per_frame <= max,
            "check: {per_frame:.2} CPU-ms per stored frame (agent and its Redis), over {max}"
        );
        println!("check passed: every frame stored, {per_frame:.2} CPU-ms per frame ≤ {max}");
    }
    Ok(())
}
