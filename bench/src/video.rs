//! `seaframe-bench video`: the time to the first MP4 bytes (and in all) of
//! a range of stored frames, through the agent's video encoder.

use std::sync::Arc;
use std::time::Instant;

use seaframe_agent::base::clock::ClockSource;
use seaframe_agent::base::frame::Frame;
use seaframe_wire::CameraId;
use seaframe_wire::timestamp::Timestamp;

use crate::pipeline::camera_like_jpeg;
use crate::procfs::proc_kib;

#[derive(Debug, clap::Args)]
pub struct VideoArgs {
    #[arg(long, default_value_t = 3000)]
    pub frames: u32,
    #[arg(long, default_value_t = 1280)]
    pub width: u16,
    #[arg(long, default_value_t = 720)]
    pub height: u16,
    /// Video frames per second (every stored frame once).
    #[arg(long, default_value_t = 10)]
    pub fps: u32,
}

pub async fn run(args: VideoArgs) -> anyhow::Result<()> {
    use tokio::io::AsyncReadExt;
    let tmp = tempfile::Builder::new()
        .prefix("seaframe-bench")
        .tempdir()?;
    let store = Arc::new(seaframe_agent::adapters::store::Store::open(tmp.path())?);
    let jpeg = camera_like_jpeg(args.width, args.height, 1)?;
    let camera = CameraId::parse("cam-0")?;
    let t0 = Timestamp::now().unix_nanos() - i64::from(args.frames) * 100_000_000;
    let frames: Vec<Frame> = (0..args.frames)
        .map(|i| {
            let at = Timestamp::from_unix_nanos(t0 + i64::from(i) * 100_000_000);
            Frame::new(
                camera.clone(),
                u64::from(i),
                at,
                ClockSource::System,
                u32::from(args.width),
                u32::from(args.height),
                jpeg.clone(),
            )
        })
        .collect();
    for chunk in frames.chunks(64) {
        for r in store.put_batch(chunk) {
            r?;
        }
    }
    println!(
        "video: {} stored frames of {}x{} ({:.0} KB), fps {}",
        args.frames,
        args.width,
        args.height,
        jpeg.len() as f64 / 1024.0,
        args.fps
    );
    let request = seaframe_agent::adapters::video::VideoRequest {
        camera,
        from: Timestamp::from_unix_nanos(t0),
        to: Timestamp::now(),
        fps: Some(args.fps),
    };
    let started = Instant::now();
    let (video, mut stdout) = seaframe_agent::adapters::video::Video::start(store, request)?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0usize;
    let mut first = None;
    loop {
        let n = stdout.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        first.get_or_insert_with(|| started.elapsed());
        total += n;
    }
    drop(video);
    println!(
        "first MP4 bytes after {:.0} ms; all {} frames encoded in {:.1} s ({:.0} frames/s), {:.1} MB; agent peak RSS {:.1} MB",
        first.unwrap_or_default().as_secs_f64() * 1000.0,
        args.frames,
        started.elapsed().as_secs_f64(),
        f64::from(args.frames) / started.elapsed().as_secs_f64(),
        total as f64 / 1e6,
        proc_kib(None, "status", "VmHWM:").unwrap_or(0) as f64 / 1024.0
    );
    Ok(())
}
