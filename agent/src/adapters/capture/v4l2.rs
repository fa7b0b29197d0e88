//! `v4l2:/dev/videoN`: a USB (UVC) camera through the `v4l` crate, asked
//! for MJPEG at the configured size and rate. The camera's own JPEG bytes
//! are kept — exactly `bytesused` of each buffer (nokhwa's V4L backend was
//! seen handing back the whole mmap buffer, padding JPEGs to megabytes).
//! Capture runs on a thread of its own (the ioctls block); the newest frame
//! is handed over through a watch channel, and the thread ends when the
//! source is dropped.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;
use v4l::buffer::Type;
use v4l::io::traits::CaptureStream;
use v4l::prelude::MmapStream;
use v4l::video::Capture;
use v4l::{Device, FourCC};

use crate::base::capture::CaptureError;
use seaframe_wire::timestamp::Timestamp;

/// No frame from the device for this long: it is stalled or gone.
const STALL_TIMEOUT: Duration = Duration::from_secs(5);
const BUFFERS: u32 = 4;

type Slot = Option<Result<(Bytes, Timestamp), String>>;

#[derive(Debug)]
pub struct V4l2 {
    rx: watch::Receiver<Slot>,
}

/// Opens the device and sets MJPEG at `width`×`height`, `fps` (blocking).
fn open(
    device: &PathBuf,
    width: u32,
    height: u32,
    fps: f64,
) -> Result<MmapStream<'static>, String> {
    let dev =
        Device::with_path(device).map_err(|e| format!("cannot open {}: {e}", device.display()))?;
    let mut fmt = dev
        .format()
        .map_err(|e| format!("{} is not a video capture device: {e}", device.display()))?;
    fmt.width = width;
    fmt.height = height;
    fmt.fourcc = FourCC::new(b"MJPG");
    let fmt = dev
        .set_format(&fmt)
        .map_err(|e| format!("cannot set MJPEG format: {e}"))?;
    if fmt.fourcc != FourCC::new(b"MJPG") {
        return Err(format!(
            "the camera does not offer MJPEG (it offers {})",
            fmt.fourcc
        ));
    }
    let rate = fps.round().max(1.0) as u32;
    if let Err(e) = dev.set_params(&v4l::video::capture::Parameters::with_fps(rate)) {
        tracing::debug!("camera refused {rate} fps: {e}");
    }
    MmapStream::with_buffers(&dev, Type::VideoCapture, BUFFERS)
        .map_err(|e| format!("cannot start streaming: {e}"))
}

impl V4l2 {
    /// Starts the capture thread; errors show on the first grab.
    pub fn start(device: PathBuf, width: u32, height: u32, fps: f64) -> Self {
        let (tx, rx) = watch::channel::<Slot>(None);
        let name = format!("v4l2 {}", device.display());
        let spawned = std::thread::Builder::new().name(name).spawn(move || {
            let mut stream = match open(&device, width, height, fps) {
                Ok(s) => s,
                Err(e) => {
                    let _ = tx.send(Some(Err(e)));
                    return;
                }
            };
            loop {
                let sent = match stream.next() {
                    Ok((buf, meta)) => {
                        let used = (meta.bytesused as usize).min(buf.len());
                        tx.send(Some(Ok((
                            Bytes::copy_from_slice(&buf[..used]),
                            Timestamp::now(),
                        ))))
                    }
                    Err(e) => {
                        let _ = tx.send(Some(Err(format!("capture failed: {e}"))));
                        return;
                    }
                };
                if sent.is_err() {
                    return; // the source was dropped
                }
            }
        });
        if let Err(e) = spawned {
            tracing::error!("cannot start a capture thread: {e}");
        }
        Self { rx }
    }

    /// The newest frame and the instant it arrived from the device.
    pub async fn grab(&mut self) -> Result<(Bytes, Timestamp), CaptureError> {
        let changed = tokio::time::timeout(STALL_TIMEOUT, self.rx.changed()).await;
        match changed {
            Err(_) => Err(CaptureError::Unreachable(format!(
                "stalled: no frame for {}s",
                STALL_TIMEOUT.as_secs()
            ))),
            Ok(Err(_)) => Err(CaptureError::Unreachable("the capture thread ended".into())),
            Ok(Ok(())) => match self.rx.borrow_and_update().clone() {
                Some(Ok(frame)) => Ok(frame),
                Some(Err(e)) => Err(CaptureError::Unreachable(e)),
                None => Err(CaptureError::Unreachable("no frame yet".into())),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_missing_device_is_a_clear_error() {
        let mut cam = V4l2::start("/dev/video-does-not-exist".into(), 640, 480, 5.0);
        let err = cam.grab().await.unwrap_err().to_string();
        assert!(
            err.contains("cannot open /dev/video-does-not-exist"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_file_that_is_not_a_camera_is_a_clear_error() {
        let mut cam = V4l2::start("/dev/null".into(), 640, 480, 5.0);
        let err = cam.grab().await.unwrap_err().to_string();
        assert!(err.contains("/dev/null"), "{err}");
    }
}
