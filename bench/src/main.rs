//! `seaframe-bench`: the agent's benchmarks, on the agent's library (a
//! benchmark, not a test: run it in release on an otherwise idle machine).
//! One subcommand a file: `pipeline` (the frame path), `video`, `query`,
//! `uplink` (thumbnail cost and backlog), `rtsp` (capture against the
//! seed's OpenCV capture), `scan` (the disk watch's slow scan).

mod pipeline;
mod procfs;
mod query;
mod rtsp;
mod scan;
mod uplink;
mod video;

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use seaframe_agent::app::runtime;

#[derive(Debug, Parser)]
#[command(name = "seaframe-bench", about = "Benchmarks of seaframe's frame path")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Pre-encoded JPEGs through Redis stream → workers → files + index.
    Pipeline(pipeline::PipelineArgs),
    /// Time to the first MP4 bytes (and in all) for a range of stored frames.
    Video(video::VideoArgs),
    /// Query latency on a big index (rows only, no files).
    Query(QueryArgs),
    /// Thumbnail CPU and bytes on the wire; backlog catch-up at a budget.
    Uplink(UplinkArgs),
    /// CPU per frame and memory of RTSP capture (agent vs OpenCV baseline).
    Rtsp(rtsp::RtspArgs),
    /// The disk watch's slow scan over a big history (a cycle's CPU and time).
    Scan(ScanArgs),
}

#[derive(Debug, clap::Args)]
struct ScanArgs {
    #[arg(long, default_value_t = 4)]
    cameras: u32,
    /// Days of minute folders per camera.
    #[arg(long, default_value_t = 30)]
    days: u32,
}

#[derive(Debug, clap::Args)]
struct UplinkArgs {
    #[arg(long, default_value_t = 300)]
    thumbs: u32,
    /// Thumbnail width, px.
    #[arg(long, default_value_t = 320)]
    width: u16,
    #[arg(long, default_value_t = 1920)]
    frame_width: u16,
    #[arg(long, default_value_t = 1080)]
    frame_height: u16,
    #[arg(long, default_value_t = 4)]
    cameras: u32,
    #[arg(long, default_value_t = 1.0)]
    thumbs_per_s: f64,
    /// The backlog to drain, in seconds of thumbnails.
    #[arg(long, default_value_t = 3600)]
    backlog_s: u64,
    /// 256 kbit/s.
    #[arg(long, default_value_t = 32_000)]
    budget_bytes_per_s: u64,
}

#[derive(Debug, clap::Args)]
struct QueryArgs {
    /// Frames in the index (spread over `days` and `cameras`).
    #[arg(long, default_value_t = 10_000_000)]
    rows: u32,
    #[arg(long, default_value_t = 4)]
    cameras: u32,
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// Timed runs of each query.
    #[arg(long, default_value_t = 200)]
    runs: u32,
    /// Skip the retention part (deleting the first day while storing).
    #[arg(long)]
    no_retention: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = runtime()
        .context("starting the runtime")
        .and_then(|rt| match cli.command {
            Command::Pipeline(args) => rt.block_on(pipeline::run(args)),
            Command::Video(args) => rt.block_on(video::run(args)),
            Command::Query(args) => query::run(args),
            Command::Uplink(args) => uplink::run(args),
            Command::Rtsp(args) => rt.block_on(rtsp::run(args)),
            Command::Scan(args) => scan::run(args),
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("seaframe-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}
