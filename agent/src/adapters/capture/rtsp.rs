//! `rtsp://…`: an H.264/H.265 RTSP camera, decoded by a supervised `ffmpeg`
//! child that writes JPEGs at the camera's fps to its stdout, split by the
//! IO-free [`JpegSplitter`] and stamped the instant their last byte arrived.
//!
//! Supervision: one child per camera, in its own process group, killed when
//! this source is dropped (`kill_on_drop`: the camera loop drops the source
//! on any error and at shutdown, so the child never outlives the agent's
//! capture task; if the agent itself is killed, ffmpeg dies of SIGPIPE at
//! its next write). A child that exits, or that delivers no frame for
//! [`stall_timeout`], is reported as an error; the camera loop restarts it
//! with its back-off. ffmpeg's stderr goes to the log with the camera id and
//! the URL's password redacted; an RTSP 401 becomes
//! [`CaptureError::Unauthorized`]. This file must not log the raw URL.

use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use percent_encoding::percent_decode_str;
use seaframe_wire::CameraId;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStderr, ChildStdout, Command};
use tokio::sync::watch;
use tokio_util::task::AbortOnDropHandle;
use url::Url;

use crate::base::capture::CaptureError;
use crate::base::capture::jpegstream::JpegSplitter;
use crate::base::config::{Decode, redact};
use seaframe_wire::timestamp::Timestamp;

/// The binary run for every RTSP camera (Debian package `ffmpeg`).
pub const FFMPEG: &str = "ffmpeg";
/// The shortest stall that is declared one, whatever the fps.
const MIN_STALL: Duration = Duration::from_secs(5);
/// Extra time for the first frame: connect, DESCRIBE, probe the stream.
const START_GRACE: Duration = Duration::from_secs(5);
/// How long an exited ffmpeg may take to finish writing its stderr.
const EXIT_GRACE: Duration = Duration::from_secs(2);
/// The JPEG quality asked of ffmpeg's mjpeg encoder (2 best .. 31 worst).
const JPEG_QUALITY: &str = "5";

/// No frame for this long: the stream is stalled — max(5 s, 3 periods).
pub fn stall_timeout(fps: f64) -> Duration {
    MIN_STALL.max(Duration::from_secs_f64(3.0 / fps))
}

/// ffmpeg's arguments: RTSP over TCP in, JPEGs at `fps` out on stdout.
///
/// Every frame decoded ([`Decode::All`]): the `fps` filter keeps one per
/// 1/fps. Key frames only ([`Decode::Keyframes`]): the decoder skips every
/// other frame (`-skip_frame nokey`), and a `select` keeps a key frame when
/// at least 0.9/fps passed since the last one kept, passed on as they are
/// (`-fps_mode passthrough`): never a duplicate, so a camera whose key
/// frames are rarer than `fps` gives fewer frames, not repeated ones.
/// One thread to decode and one to encode (`-threads 1` before the input
/// and again before the output): as much CPU as ffmpeg's default of one
/// thread per core (measured), 30 MB less memory per camera at 1080p and
/// no frame of delay per decoding thread; the cameras spread over the
/// cores.
pub fn ffmpeg_args(url: &Url, fps: f64, decoder: Option<&str>, decode: Decode) -> Vec<String> {
    let mut args: Vec<String> = ["-nostdin", "-loglevel", "warning", "-threads", "1"]
        .map(String::from)
        .into();
    if let Some(d) = decoder {
        args.extend(["-c:v".into(), d.to_owned()]);
    }
    let filter = match decode {
        Decode::All => format!("fps={fps}"),
        // `auto` runs as key frames until it gives up on them (see `Rtsp`).
        Decode::Keyframes | Decode::Auto => {
            args.extend(["-skip_frame".into(), "nokey".into()]);
            format!(
                "select=isnan(prev_selected_t)+gte(t-prev_selected_t\\,{})",
                0.9 / fps
            )
        }
    };
    args.extend(
        [
            "-rtsp_transport",
            "tcp",
            "-i",
            url.as_str(),
            "-an",
            "-sn",
            "-dn",
            "-vf",
            &filter,
        ]
        .map(String::from),
    );
    if decode != Decode::All {
        args.extend(["-fps_mode".into(), "passthrough".into()]);
    }
    args.extend(
        [
            "-f",
            "image2pipe",
            "-c:v",
            "mjpeg",
            "-q:v",
            JPEG_QUALITY,
            "pipe:1",
        ]
        .map(String::from),
    );
    args
}

/// `line` with the URL and its password replaced by their redacted forms.
fn redact_line(line: &str, url: &Url) -> String {
    let mut out = line.replace(url.as_str(), &redact(url));
    if let Some(password) = url.password().filter(|p| !p.is_empty()) {
        out = out.replace(password, "***");
        if let Ok(decoded) = percent_decode_str(password).decode_utf8()
            && !decoded.is_empty()
        {
            out = out.replace(&*decoded, "***");
        }
    }
    out
}

/// ffmpeg's stderr lines that say the camera refused the credentials.
fn is_unauthorized(line: &str) -> bool {
    line.contains("401 Unauthorized") || line.contains("authorization failed")
}

/// Known, harmless ffmpeg chatter (once per frame with some inputs).
fn is_noise(line: &str) -> bool {
    line.contains("deprecated pixel format used")
}

type Slot = Option<(Bytes, Timestamp)>;

/// What the stderr reader learned about a child.
#[derive(Debug, Default)]
struct Diagnosis {
    unauthorized: AtomicBool,
    last_line: Mutex<Option<String>>,
}

impl Diagnosis {
    fn last_line(&self) -> Option<String> {
        self.last_line
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// A live ffmpeg child and the tasks reading its pipes.
struct Running {
    child: Child,
    frames: watch::Receiver<Slot>,
    diagnosis: Arc<Diagnosis>,
    got_frame: bool,
    _stdout: AbortOnDropHandle<()>,
    stderr: AbortOnDropHandle<()>,
}

/// `decode = "auto"` while it decodes key frames only: the gaps between the
/// frames that arrive tell whether the key frames keep up with the fps.
#[derive(Debug, Default)]
struct KeyframeWatch {
    last: Option<Instant>,
    long_gaps_in_a_row: u32,
}

impl KeyframeWatch {
    /// Notes a frame that arrived at `now`; true when key frames have come
    /// less often than `fps` asks twice in a row (one late frame on a busy
    /// link is not enough to give up the cheap path).
    fn too_sparse(&mut self, now: Instant, fps: f64) -> bool {
        let long = self
            .last
            .is_some_and(|t| now.duration_since(t).as_secs_f64() > 1.5 / fps);
        self.last = Some(now);
        self.long_gaps_in_a_row = if long { self.long_gaps_in_a_row + 1 } else { 0 };
        self.long_gaps_in_a_row >= 2
    }
}

/// One RTSP camera; starts ffmpeg on the first grab after an error.
pub struct Rtsp {
    camera: CameraId,
    url: Url,
    fps: f64,
    decoder: Option<String>,
    /// What ffmpeg decodes: `Auto` until it settles on `All`.
    decode: Decode,
    /// Under `Auto`: whether the key frames keep up.
    watch: KeyframeWatch,
    running: Option<Box<Running>>,
}

impl std::fmt::Debug for Rtsp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rtsp")
            .field("camera", &self.camera)
            .field("url", &redact(&self.url))
            .field("running", &self.running.is_some())
            .finish()
    }
}

async fn read_frames(mut stdout: ChildStdout, tx: watch::Sender<Slot>, camera: CameraId) {
    let mut splitter = JpegSplitter::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match stdout.read(&mut chunk).await {
            Ok(0) | Err(_) => return, // ffmpeg closed its stdout: it is ending
            Ok(n) => n,
        };
        let arrived_at = Timestamp::now();
        splitter.push(&chunk[..n]);
        while let Some(frame) = splitter.next_frame() {
            match frame {
                Ok(jpeg) => {
                    if tx.send(Some((jpeg, arrived_at))).is_err() {
                        return; // the source was dropped
                    }
                }
                Err(e) => tracing::warn!(camera = %camera, "{e}"),
            }
        }
    }
}

async fn read_stderr(stderr: ChildStderr, diagnosis: Arc<Diagnosis>, camera: CameraId, url: Url) {
    let mut lines = BufReader::new(stderr);
    let mut raw = Vec::new();
    loop {
        raw.clear();
        match lines.read_until(b'\n', &mut raw).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let line = redact_line(String::from_utf8_lossy(&raw).trim_end(), &url);
        if line.is_empty() {
            continue;
        }
        if is_noise(&line) {
            tracing::debug!(camera = %camera, "ffmpeg: {line}");
            continue;
        }
        if is_unauthorized(&line) {
            diagnosis.unauthorized.store(true, Ordering::Relaxed);
        }
        tracing::warn!(camera = %camera, "ffmpeg: {line}");
        *diagnosis
            .last_line
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(line);
    }
}

impl Rtsp {
    pub fn new(camera: CameraId, url: Url, fps: f64, decoder: Option<String>) -> Self {
        Self {
            camera,
            url,
            fps,
            decoder,
            decode: Decode::All,
            watch: KeyframeWatch::default(),
            running: None,
        }
    }

    /// Which frames ffmpeg decodes; [`Decode::All`] unless set here.
    /// [`Decode::Auto`] starts with key frames and turns to every frame,
    /// for the life of this source, once they do not keep up with the fps.
    pub fn with_decode(mut self, decode: Decode) -> Self {
        self.decode = decode;
        self
    }

    /// Kills the ffmpeg child, if one runs, and waits until it is reaped
    /// (dropping the source kills it too, but reaps it only later, in the
    /// background). Idempotent; the next grab starts a new child.
    pub async fn stop(&mut self) {
        if let Some(mut run) = self.running.take() {
            let _ = run.child.kill().await;
        }
    }

    /// The PID of the running ffmpeg child, if one runs (for the bench's
    /// CPU and memory figures).
    pub fn ffmpeg_pid(&self) -> Option<u32> {
        self.running.as_ref().and_then(|r| r.child.id())
    }

    fn spawn(&self) -> Result<Running, CaptureError> {
        let mut cmd = Command::new(FFMPEG);
        cmd.args(ffmpeg_args(
            &self.url,
            self.fps,
            self.decoder.as_deref(),
            self.decode,
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
        let mut child = cmd.spawn().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                CaptureError::Setup(format!(
                    "`{FFMPEG}` is not installed: apt-get install -y ffmpeg"
                ))
            } else {
                CaptureError::Setup(format!("cannot start {FFMPEG}: {e}"))
            }
        })?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| CaptureError::Setup("ffmpeg's stdout is not piped".into()))?;
        let stderr = child
            .stderr
            .take()
            .ok_or_else(|| CaptureError::Setup("ffmpeg's stderr is not piped".into()))?;
        tracing::info!(camera = %self.camera, pid = child.id(), source = %redact(&self.url), "ffmpeg started");
        let (tx, frames) = watch::channel::<Slot>(None);
        let diagnosis = Arc::new(Diagnosis::default());
        Ok(Running {
            child,
            frames,
            diagnosis: diagnosis.clone(),
            got_frame: false,
            _stdout: AbortOnDropHandle::new(tokio::spawn(read_frames(
                stdout,
                tx,
                self.camera.clone(),
            ))),
            stderr: AbortOnDropHandle::new(tokio::spawn(read_stderr(
                stderr,
                diagnosis,
                self.camera.clone(),
                self.url.clone(),
            ))),
        })
    }

    /// The newest frame and the instant it arrived; starts ffmpeg if needed.
    /// On an error the child is killed; the next grab starts a new one.
    pub async fn grab(&mut self) -> Result<(Bytes, Timestamp), CaptureError> {
        if self.running.is_none() {
            self.running = Some(Box::new(self.spawn()?));
            self.watch = KeyframeWatch::default();
        }
        let run = self.running.as_mut().expect("started just above");
        let stall = stall_timeout(self.fps);
        let wait = if run.got_frame {
            stall
        } else {
            stall + START_GRACE
        };
        let mut stalled_on_keyframes = false;
        let error = match tokio::time::timeout(wait, run.frames.changed()).await {
            Ok(Ok(())) => {
                let frame = run.frames.borrow_and_update().clone();
                match frame {
                    Some(frame) => {
                        run.got_frame = true;
                        if self.decode == Decode::Auto
                            && self.watch.too_sparse(Instant::now(), self.fps)
                        {
                            self.decode_every_frame("the key frames come less often than");
                        }
                        return Ok(frame);
                    }
                    None => CaptureError::BadStream("ffmpeg sent no frame".into()),
                }
            }
            Ok(Err(_)) => {
                // stdout closed: ffmpeg is ending; let it say why.
                let status = tokio::time::timeout(EXIT_GRACE, run.child.wait()).await;
                let _ = tokio::time::timeout(EXIT_GRACE, &mut run.stderr).await;
                let status = match status {
                    Ok(Ok(s)) => s.to_string(),
                    _ => "still running".into(),
                };
                let why = run.diagnosis.last_line().unwrap_or_default();
                CaptureError::Unreachable(format!("ffmpeg ended ({status}): {why}"))
            }
            Err(_) => {
                let stalled = CaptureError::Unreachable(format!(
                    "stalled: no frame for {}s{}",
                    wait.as_secs(),
                    run.diagnosis
                        .last_line()
                        .map(|l| format!(" (ffmpeg: {l})"))
                        .unwrap_or_default()
                ));
                stalled_on_keyframes = self.decode == Decode::Auto && run.got_frame;
                stalled
            }
        };
        let error = if run.diagnosis.unauthorized.load(Ordering::Relaxed) {
            CaptureError::Unauthorized(
                "the RTSP camera refused the credentials (401); check user and password in the URL"
                    .into(),
            )
        } else {
            error
        };
        // Dropping the child kills it (kill_on_drop).
        self.running = None;
        if stalled_on_keyframes {
            self.decode_every_frame("a stall on key frames only: they are rarer than");
        }
        Err(error)
    }

    /// `auto` gives up key frames: the next grab starts ffmpeg decoding
    /// every frame (the running one is killed).
    fn decode_every_frame(&mut self, why: &str) {
        tracing::info!(
            camera = %self.camera,
            fps = self.fps,
            "{why} {} fps asks; decoding every frame from now on",
            self.fps
        );
        self.decode = Decode::All;
        self.running = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stalls_are_at_least_five_seconds_or_three_periods() {
        assert_eq!(stall_timeout(5.0), Duration::from_secs(5));
        assert_eq!(stall_timeout(0.5), Duration::from_secs(6));
    }

    #[test]
    fn the_decoder_goes_before_the_input() {
        let url = Url::parse("rtsp://cam:s3cr%40t@10.0.0.5:554/s").unwrap();
        let args = ffmpeg_args(&url, 2.5, Some("h264_v4l2m2m"), Decode::All);
        let pos = |a: &str| args.iter().position(|x| x == a).unwrap();
        assert!(pos("h264_v4l2m2m") < pos("-i"));
        assert_eq!(args[pos("-i") + 1], url.as_str());
        assert_eq!(args[pos("-vf") + 1], "fps=2.5");
        assert_eq!(args.last().map(String::as_str), Some("pipe:1"));
        assert!(!ffmpeg_args(&url, 5.0, None, Decode::All).contains(&"h264_v4l2m2m".to_owned()));
        assert!(!args.contains(&"-skip_frame".to_owned()));
        assert_eq!(args[pos("-threads") + 1], "1");
        assert!(
            pos("-threads") < pos("-i"),
            "a decoder option, before the input"
        );
    }

    #[test]
    fn keyframes_skip_the_other_frames_and_are_never_repeated() {
        let url = Url::parse("rtsp://10.0.0.5:554/s").unwrap();
        let args = ffmpeg_args(&url, 2.0, None, Decode::Keyframes);
        let pos = |a: &str| args.iter().position(|x| x == a).unwrap();
        assert_eq!(args[pos("-skip_frame") + 1], "nokey");
        assert!(pos("-skip_frame") < pos("-i"), "a decoder option");
        // At most one per 0.9/fps s (a little slack for timestamp jitter);
        // the comma is escaped from the filter graph's parser.
        assert_eq!(
            args[pos("-vf") + 1],
            "select=isnan(prev_selected_t)+gte(t-prev_selected_t\\,0.45)"
        );
        assert_eq!(args[pos("-fps_mode") + 1], "passthrough");
        assert!(pos("-fps_mode") > pos("-i"), "an output option");
        assert_eq!(args.last().map(String::as_str), Some("pipe:1"));
        // `auto` starts the same way.
        assert_eq!(ffmpeg_args(&url, 2.0, None, Decode::Auto), args);
    }

    #[test]
    fn auto_gives_up_key_frames_only_after_two_long_gaps_in_a_row() {
        let t0 = Instant::now();
        let at = |s: f64| t0 + Duration::from_secs_f64(s);
        // 1 fps from key frames once a second: jitter and one late frame
        // (a gap of 1.7 s) keep the cheap path.
        let mut w = KeyframeWatch::default();
        for s in [0.0, 1.0, 2.1, 3.0, 4.7, 5.0, 6.0, 7.0] {
            assert!(!w.too_sparse(at(s), 1.0), "at {s} s");
        }
        // 5 fps from the same camera: given up at the second 1 s gap.
        let mut w = KeyframeWatch::default();
        assert!(!w.too_sparse(at(0.0), 5.0));
        assert!(!w.too_sparse(at(1.0), 5.0));
        assert!(w.too_sparse(at(2.0), 5.0));
    }

    #[test]
    fn passwords_never_reach_the_log() {
        let url = Url::parse("rtsp://cam:s3cr%40t@10.0.0.5:554/s").unwrap();
        let line = format!("{}: Server returned 401 Unauthorized", url.as_str());
        let out = redact_line(&line, &url);
        assert!(!out.contains("s3cr"), "{out}");
        assert!(out.contains("rtsp://cam:***@10.0.0.5:554/s"), "{out}");
        assert!(!redact_line("user cam password s3cr@t", &url).contains("s3cr@t"));
        assert!(is_unauthorized(&out));
    }

    #[tokio::test]
    async fn a_missing_ffmpeg_or_a_dead_camera_is_an_error_not_a_panic() {
        let url = Url::parse("rtsp://127.0.0.1:1/none").unwrap();
        let mut cam = Rtsp::new(CameraId::parse("a").unwrap(), url, 5.0, None);
        let err = cam.grab().await.unwrap_err().to_string();
        assert!(
            err.contains("ffmpeg ended") || err.contains("not installed"),
            "{err}"
        );
        assert!(cam.running.is_none());
    }
}
