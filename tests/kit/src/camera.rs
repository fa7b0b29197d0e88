//! The testbed's fake IP cameras on loopback ports, killed on drop:
//! `http-camera.py` (snapshots and MJPEG over HTTP with fault injection) and
//! `rtsp-server.py` (GStreamer's RTSP server, optional Basic auth).

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Result, bail};

use crate::process::{Child, require_binary};

/// Where the shared testbed is: `$SEAFRAME_TESTBED`, else `../shared/testbed`
/// beside the workspace, else `/work/shared/testbed`.
pub fn testbed_dir() -> Result<PathBuf> {
    let mut tried = Vec::new();
    if let Some(dir) = std::env::var_os("SEAFRAME_TESTBED") {
        tried.push(PathBuf::from(dir));
    }
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    tried.push(workspace.join("../shared/testbed"));
    tried.push(PathBuf::from("/work/shared/testbed"));
    match tried.iter().find(|d| d.join("http-camera.py").is_file()) {
        Some(d) => Ok(d.clone()),
        None => {
            bail!("the testbed (http-camera.py) is not in any of {tried:?}; set SEAFRAME_TESTBED")
        }
    }
}

#[derive(Debug)]
pub struct HttpCamera {
    _child: Child,
    url: String,
}

impl HttpCamera {
    /// A 640×360, 10 fps camera for 120 s at most.
    pub fn start() -> Result<Self> {
        Self::start_with(&["--size", "640x360", "--fps", "10"])
    }

    pub fn start_with(args: &[&str]) -> Result<Self> {
        require_binary("ffmpeg", "ffmpeg")?;
        require_binary("python3", "python3")?;
        let mut cmd = Command::new("python3");
        cmd.arg(testbed_dir()?.join("http-camera.py"))
            .args(["--port", "0", "--seconds", "120"])
            .args(args);
        let (child, line) = Child::spawn_until(cmd, "http-camera.py", "READY ")?;
        let url = line.trim().trim_start_matches("READY ").to_owned();
        Ok(Self { _child: child, url })
    }

    /// `http://127.0.0.1:PORT/`
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// The testbed's RTSP camera (`rtsp-server.py`: GStreamer's RTSP server,
/// H.264 test pattern) on a loopback port, killed on drop.
#[derive(Debug)]
pub struct RtspCamera {
    child: Child,
    url: String,
    port: u16,
}

/// What `rtsp-server.py` needs from Debian, checked before it is started so
/// that a missing package fails loudly with its name.
fn require_gst_rtsp() -> Result<()> {
    const PACKAGES: &str = "python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base \
                            gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly";
    if !std::path::Path::new("/usr/bin/python3").is_file() {
        bail!("/usr/bin/python3 is not installed: apt-get install -y python3 {PACKAGES}");
    }
    let probe = Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import gi; gi.require_version('GstRtspServer', '1.0'); \
             from gi.repository import Gst; Gst.init(None); \
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

impl RtspCamera {
    /// On a free port (`port` 0) or on `port`; `args` as for the script
    /// (`--fps`, `--size`, `--user`, `--password`). Runs 120 s at most.
    pub fn start(port: u16, args: &[&str]) -> Result<Self> {
        require_gst_rtsp()?;
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(testbed_dir()?.join("rtsp-server.py"))
            .args(["--port", &port.to_string(), "--seconds", "120"])
            .args(args);
        let (child, line) = Child::spawn_until(cmd, "rtsp-server.py", "READY ")?;
        let url = line.trim().trim_start_matches("READY ").to_owned();
        let port = url
            .trim_start_matches("rtsp://127.0.0.1:")
            .split('/')
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("rtsp-server.py printed an odd address: {url}"))?;
        Ok(Self { child, url, port })
    }

    /// `rtsp://127.0.0.1:PORT/test` (H.264)
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
