//! Video of a range of frames: an `ffmpeg` child (no shell, no list files)
//! fed the range's JPEGs through its stdin, page by page from the index
//! (never all in memory), encoding H.264 `yuv420p` into a fragmented MP4 on
//! its stdout so that it streams as it is encoded. Dropping the [`Video`]
//! kills ffmpeg and stops the feeder (a client that hangs up).

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;

use seaframe_wire::CameraId;
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, ChildStdout, Command};

use crate::adapters::store::{Cursor, FrameQuery, Store};
use seaframe_wire::timestamp::Timestamp;

/// Frames read from the index per page.
const PAGE_FRAMES: u32 = 200;
/// Output rate when the video plays in real time.
pub const REAL_TIME_FPS: u32 = 10;

/// What to encode.
#[derive(Debug, Clone)]
pub struct VideoRequest {
    pub camera: CameraId,
    pub from: Timestamp,
    pub to: Timestamp,
    /// `Some(f)`: every frame shown for 1/f s (a time-lapse or slow-down);
    /// `None`: real time, frames repeated or skipped at 10 fps.
    pub fps: Option<u32>,
}

/// A running encoder. Read its stdout; drop it to stop everything.
#[derive(Debug)]
pub struct Video {
    child: Child,
    feeder: tokio::task::JoinHandle<()>,
}

impl Drop for Video {
    fn drop(&mut self) {
        self.feeder.abort();
        // kill_on_drop also applies; this makes it immediate.
        let _ = self.child.start_kill();
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    #[error("ffmpeg is not installed: apt-get install -y ffmpeg")]
    NoFfmpeg,
    #[error("cannot start ffmpeg: {0}")]
    Spawn(std::io::Error),
}

impl VideoRequest {
    /// Whether the range holds any frame of the camera (blocking: the
    /// index). An empty range makes no video: callers refuse it.
    pub fn has_frames(&self, store: &Store) -> Result<bool, crate::adapters::store::StoreError> {
        let page = store.query(&FrameQuery {
            camera: Some(self.camera.clone()),
            from: self.from,
            to: self.to,
            limit: 1,
            after: None,
        })?;
        Ok(!page.frames.is_empty())
    }
}

impl Video {
    /// Starts ffmpeg and the feeder; returns the encoder and its output.
    pub fn start(store: Arc<Store>, req: VideoRequest) -> Result<(Self, ChildStdout), VideoError> {
        let rate = req.fps.unwrap_or(REAL_TIME_FPS);
        let mut child = Command::new("ffmpeg")
            .args([
                "-hide_banner",
                "-loglevel",
                "error",
                "-f",
                "image2pipe",
                "-c:v",
                "mjpeg",
            ])
            .args(["-framerate", &rate.to_string(), "-i", "pipe:0"])
            .args([
                "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
            ])
            // Even sizes for yuv420p, a key frame (and so a fragment) every second.
            .args([
                "-vf",
                "scale=trunc(iw/2)*2:trunc(ih/2)*2",
                "-g",
                &rate.to_string(),
            ])
            .args([
                "-movflags",
                "frag_keyframe+empty_moov+default_base_moof",
                "-f",
                "mp4",
                "pipe:1",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => VideoError::NoFfmpeg,
                _ => VideoError::Spawn(e),
            })?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| VideoError::Spawn(std::io::Error::other("no stdin")))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| VideoError::Spawn(std::io::Error::other("no stdout")))?;
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(log_stderr(stderr));
        }
        let feeder = tokio::spawn(feed(store, req, stdin));
        Ok((Self { child, feeder }, stdout))
    }
}

async fn log_stderr(stderr: tokio::process::ChildStderr) {
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::warn!(target: "ffmpeg", "{line}");
    }
}

/// Writes the range's JPEGs into ffmpeg, page by page; in real time mode
/// each output tick shows the newest frame at or before it.
async fn feed(store: Arc<Store>, req: VideoRequest, mut stdin: tokio::process::ChildStdin) {
    let tick_ns = 1_000_000_000 / i64::from(REAL_TIME_FPS);
    let mut next_tick = req.from.unix_nanos();
    let mut shown: Option<Vec<u8>> = None;
    let mut after: Option<Cursor> = None;
    loop {
        let query = FrameQuery {
            camera: Some(req.camera.clone()),
            from: req.from,
            to: req.to,
            limit: PAGE_FRAMES,
            after,
        };
        let s = Arc::clone(&store);
        let page = match tokio::task::spawn_blocking(move || s.query(&query)).await {
            Ok(Ok(page)) => page,
            _ => break,
        };
        for row in &page.frames {
            let Ok(jpeg) = tokio::fs::read(store.file_path(row)).await else {
                continue; // deleted meanwhile: skip it
            };
            if req.fps.is_some() {
                if stdin.write_all(&jpeg).await.is_err() {
                    return; // ffmpeg is gone (the client hung up)
                }
                continue;
            }
            // Real time: repeat the previous frame up to this frame's time.
            while next_tick < row.captured_at.unix_nanos() {
                if let Some(prev) = &shown
                    && stdin.write_all(prev).await.is_err()
                {
                    return;
                }
                next_tick += tick_ns;
            }
            shown = Some(jpeg);
        }
        match page.next {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    if req.fps.is_none()
        && let Some(last) = &shown
    {
        let _ = stdin.write_all(last).await;
    }
    let _ = stdin.shutdown().await;
}

/// Where `export` writes: the path, checked to be a new `.mp4` file.
pub fn export_path(out: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(out);
    if path.extension().is_none_or(|x| x != "mp4") {
        return Err(format!("{out}: the output must be a .mp4 file"));
    }
    Ok(path)
}
