//! Capture: one task per camera, paced at the camera's `fps`. A frame's
//! `captured_at` is the instant its bytes arrived; every frame is checked
//! to be a whole JPEG before it goes to the hand-off. A failing camera is
//! retried with back-off, its state shown, and never affects the others.
//!
//! The sources are `adapters::capture`, one file per kind; what they return
//! and the IO-free parsers they use are `base::capture`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::adapters::capture::numbering::Numbering;
#[cfg(feature = "v4l2")]
use crate::adapters::capture::v4l2;
use crate::adapters::capture::{http, replay, rtsp, testpattern};
use crate::base::backoff::{Backoff, pause};
use crate::base::capture::CaptureError;
use crate::base::clock::Clock;
use crate::base::config::{CameraConfig, CameraSource};
use crate::base::frame::Frame;
use crate::base::handoff::Handoff;
use crate::base::jpeg;
use crate::base::metrics::{CameraMetrics, CameraState};
use seaframe_wire::timestamp::Timestamp;

/// The shortest wait before retrying a camera that refused the credentials.
const UNAUTHORIZED_RETRY: Duration = Duration::from_secs(5);

enum Source {
    /// `None` only while a frame renders on the blocking pool.
    TestPattern(Option<Box<testpattern::TestPattern>>),
    Replay(replay::Replay),
    Snapshot(http::Snapshot),
    Mjpeg(http::Mjpeg),
    #[cfg(feature = "v4l2")]
    V4l2(v4l2::V4l2),
    Rtsp(rtsp::Rtsp),
}

impl Source {
    fn open(cfg: &CameraConfig) -> Result<Self, CaptureError> {
        Ok(match &cfg.source {
            CameraSource::TestPattern => Self::TestPattern(Some(Box::new(
                testpattern::TestPattern::new(cfg.id.clone(), cfg.width, cfg.height),
            ))),
            CameraSource::Replay { dir } => Self::Replay(replay::Replay::new(dir.clone())),
            CameraSource::HttpSnapshot { url } => {
                Self::Snapshot(http::Snapshot::new(url.clone(), cfg.fps)?)
            }
            CameraSource::Mjpeg { url } => Self::Mjpeg(http::Mjpeg::new(url.clone())?),
            #[cfg(feature = "v4l2")]
            CameraSource::V4l2 { device } => Self::V4l2(v4l2::V4l2::start(
                device.clone(),
                cfg.width,
                cfg.height,
                cfg.fps,
            )),
            // The config refuses it in such a build (base/config/source.rs).
            #[cfg(not(feature = "v4l2"))]
            CameraSource::V4l2 { .. } => {
                return Err(CaptureError::Setup(crate::base::config::NO_V4L2.into()));
            }
            CameraSource::Rtsp { url } => Self::Rtsp(
                rtsp::Rtsp::new(cfg.id.clone(), url.clone(), cfg.fps, cfg.decoder.clone())
                    .with_decode(cfg.decode),
            ),
        })
    }

    /// The next frame's bytes and the instant they arrived.
    async fn grab(&mut self) -> Result<(Bytes, Timestamp), CaptureError> {
        match self {
            Self::TestPattern(slot) => {
                let at = Timestamp::now();
                let mut pattern = slot.take().ok_or_else(|| {
                    CaptureError::Setup("test pattern lost by an interrupted render".into())
                })?;
                let (pattern, jpeg) = tokio::task::spawn_blocking(move || {
                    let jpeg = pattern.render(at);
                    (pattern, jpeg)
                })
                .await
                .map_err(|e| CaptureError::Setup(format!("test pattern task failed: {e}")))?;
                *slot = Some(pattern);
                let jpeg =
                    jpeg.map_err(|e| CaptureError::Setup(format!("JPEG encoding failed: {e}")))?;
                Ok((Bytes::from(jpeg), at))
            }
            Self::Replay(r) => Ok((r.grab().await?, Timestamp::now())),
            Self::Snapshot(s) => Ok((s.grab().await?, Timestamp::now())),
            Self::Mjpeg(m) => Ok((m.grab().await?, Timestamp::now())),
            #[cfg(feature = "v4l2")]
            Self::V4l2(v) => v.grab().await,
            Self::Rtsp(r) => r.grab().await,
        }
    }
}

/// One camera's capture task.
#[derive(Debug)]
pub struct Camera {
    cfg: CameraConfig,
    handoff: Handoff,
    metrics: Arc<CameraMetrics>,
    clock: Clock,
    numbering: Numbering,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::TestPattern(_) => "TestPattern",
            Self::Replay(_) => "Replay",
            Self::Snapshot(_) => "Snapshot",
            Self::Mjpeg(_) => "Mjpeg",
            #[cfg(feature = "v4l2")]
            Self::V4l2(_) => "V4l2",
            Self::Rtsp(_) => "Rtsp",
        })
    }
}

impl Camera {
    /// `numbering`: where this camera's sequence numbers continue.
    pub fn new(
        cfg: CameraConfig,
        handoff: Handoff,
        metrics: Arc<CameraMetrics>,
        clock: Clock,
        numbering: Numbering,
    ) -> Self {
        Self {
            cfg,
            handoff,
            metrics,
            clock,
            numbering,
        }
    }

    pub async fn run(mut self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let period = Duration::from_secs_f64(1.0 / self.cfg.fps);
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
        let mut source: Option<Source> = None;
        self.metrics.set_state(CameraState::Starting);
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                _ = ticks.tick() => {}
            }
            let attempt = async {
                if source.is_none() {
                    source = Some(Source::open(&self.cfg)?);
                }
                let src = source.as_mut().expect("opened just above");
                let (bytes, at) = src.grab().await?;
                let info = jpeg::inspect(&bytes)?;
                Ok::<_, CaptureError>((bytes.slice(..info.len), at, info))
            };
            let outcome = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                outcome = attempt => outcome,
            };
            match outcome {
                Ok((jpeg, captured_at, info)) => {
                    backoff.reset();
                    let Some((captured_at, clock)) = self.clock.correct(captured_at) else {
                        self.metrics.set_state(CameraState::Retrying {
                            error: "waiting for a trustworthy time: the system clock is implausible and GPS has given no time yet".into(),
                            retry_in_ms: 0,
                        });
                        continue;
                    };
                    let frame = Frame::new(
                        self.cfg.id.clone(),
                        self.numbering.take().await,
                        captured_at,
                        clock,
                        info.width,
                        info.height,
                        jpeg,
                    );
                    self.handoff.push(frame);
                    self.metrics.captured.fetch_add(1, Ordering::Relaxed);
                    self.metrics
                        .last_frame_ns
                        .store(captured_at.unix_nanos(), Ordering::Relaxed);
                    if self.metrics.state() != CameraState::Ok {
                        tracing::info!(camera = %self.cfg.id, "camera delivering frames");
                        self.metrics.set_state(CameraState::Ok);
                    }
                }
                Err(e) => {
                    self.metrics.capture_errors.fetch_add(1, Ordering::Relaxed);
                    // A bad JPEG from a working stream keeps the connection.
                    if !matches!(e, CaptureError::BadJpeg(_)) {
                        source = None;
                    }
                    let mut wait = backoff.next_delay();
                    // Wrong credentials stay wrong: never retry them in a tight loop.
                    if matches!(e, CaptureError::Unauthorized(_)) {
                        wait = wait.max(UNAUTHORIZED_RETRY);
                    }
                    tracing::warn!(camera = %self.cfg.id, source = %self.cfg.source, retry_in_ms = wait.as_millis() as u64, "capture failed: {e}");
                    self.metrics.set_state(CameraState::Retrying {
                        error: e.to_string(),
                        retry_in_ms: wait.as_millis() as u64,
                    });
                    if !pause(wait, &shutdown).await {
                        break;
                    }
                    ticks.reset();
                }
            }
        }
        self.metrics.set_state(CameraState::Stopped);
        Ok(())
    }
}
