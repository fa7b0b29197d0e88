//! A real RTSP camera on a loopback port, killed on drop: GStreamer's RTSP
//! server driven by the kit's own `peers/rtsp_camera.py` (live H.264 at
//! `/test` and H.265 at `/h265`, a key frame a second, optional Basic auth).
//! Checks for the Debian packages it needs before it starts, naming them.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, anyhow, bail};

use crate::process::Child;

/// What the camera needs from Debian (python3-gi and GStreamer's RTSP
/// server; x264enc is in plugins-ugly, x265enc in plugins-bad).
const PACKAGES: &str = "python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base \
                        gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly";

/// Debian's python, which sees python3-gi (a venv or pyenv one does not).
const SYSTEM_PYTHON: &str = "/usr/bin/python3";

/// The kit's GStreamer script.
fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/rtsp_camera.py")
}

/// Fails loudly, with the packages to install, unless GStreamer's RTSP
/// server and the H.264 encoder can be loaded.
fn require_gst_rtsp() -> Result<()> {
    if !Path::new(SYSTEM_PYTHON).is_file() {
        bail!("{SYSTEM_PYTHON} is not installed: apt-get install -y python3 {PACKAGES}");
    }
    let probe = Command::new(SYSTEM_PYTHON)
        .args([
            "-c",
            "import gi; gi.require_version('Gst', '1.0'); \
             gi.require_version('GstRtspServer', '1.0'); \
             from gi.repository import Gst, GstRtspServer; Gst.init(None); \
             assert Gst.ElementFactory.find('x264enc'), 'x264enc'",
        ])
        .output()?;
    if !probe.status.success() {
        bail!(
            "GStreamer's RTSP server is not usable ({}): apt-get install -y {PACKAGES}",
            String::from_utf8_lossy(&probe.stderr).trim()
        );
    }
    Ok(())
}

#[derive(Debug)]
pub struct RtspCamera {
    child: Child,
    url: String,
    port: u16,
}

impl RtspCamera {
    /// On a free port (`port` 0) or on `port`; `args` are the script's
    /// (`--fps`, `--size`, `--user`, `--password`). Runs 120 s at most.
    pub fn start(port: u16, args: &[&str]) -> Result<Self> {
        require_gst_rtsp()?;
        let mut cmd = Command::new(SYSTEM_PYTHON);
        cmd.arg(script())
            .args(["--port", &port.to_string(), "--seconds", "120"])
            .args(args);
        let (child, line) = Child::spawn_until(cmd, "rtsp_camera.py", "READY ")?;
        let url = line.trim().trim_start_matches("READY ").to_owned();
        let port = url
            .strip_prefix("rtsp://127.0.0.1:")
            .and_then(|rest| rest.split('/').next())
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| anyhow!("rtsp_camera.py printed an odd address: {url}"))?;
        Ok(Self { child, url, port })
    }

    /// `rtsp://127.0.0.1:PORT/test` (H.264); `/h265` beside it.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// SIGKILL, as a camera losing power.
    pub fn kill(&mut self) {
        self.child.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ffprobe_sees_h264_at_the_size_and_rate_asked() {
        crate::process::require_binary("ffprobe", "ffmpeg").unwrap();
        let cam = RtspCamera::start(0, &["--fps", "10", "--size", "320x180"]).unwrap();
        let out = Command::new("timeout")
            .args(["20", "ffprobe", "-v", "error", "-rtsp_transport", "tcp"])
            .args([
                "-show_entries",
                "stream=codec_name,width,height,r_frame_rate",
            ])
            .args(["-of", "csv=p=0", cam.url()])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(text.trim(), "h264,320,180,10/1", "{out:?}");
    }
}
