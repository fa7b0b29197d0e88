//! The testbed's fake IP camera (`http-camera.py`: snapshots and MJPEG over
//! HTTP with fault injection) on a free loopback port, killed on drop.

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
