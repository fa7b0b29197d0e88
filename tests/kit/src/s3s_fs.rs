//! A native S3-compatible server for the fleet benchmark: `s3s-fs` (the
//! s3s project's file-system back end, crates.io, Apache-2.0, installed by
//! `scripts/install-s3s-fs`) on a free loopback port, its objects in a temp
//! dir, killed on drop. moto (Python) spends ~4 CPU-ms an object, which
//! caps a benchmark near 250 objects/s whatever the shore does; this one
//! shows what the shore does against a store that keeps up. The tests keep
//! moto (it can be stopped and replayed, and is quick to install).

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::process::{Child, READY_TIMEOUT, spawn_on_free_port};

/// The access key it is started with (any S3 client signs with it).
pub const S3S_ACCESS_KEY: &str = "bench";
/// The secret key it is started with.
pub const S3S_SECRET_KEY: &str = "bench-secret";

/// Where `scripts/install-s3s-fs` puts it: `$S3S_FS`, else
/// `~/.cache/seaframe/s3s-fs/bin/s3s-fs`.
fn binary() -> PathBuf {
    std::env::var_os("S3S_FS").map_or_else(
        || {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/seaframe/s3s-fs/bin/s3s-fs")
        },
        PathBuf::from,
    )
}

#[derive(Debug)]
pub struct S3sFsServer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl S3sFsServer {
    /// Starts it on a free 127.0.0.1 port with its root in a temp dir under
    /// `$TMPDIR`, and waits until it accepts connections.
    pub fn start() -> Result<Self> {
        let binary = binary();
        if !binary.is_file() {
            bail!(
                "{} is missing: run scripts/install-s3s-fs (cargo install s3s-fs)",
                binary.display()
            );
        }
        let dir = tempfile::tempdir()?;
        let root = dir.path().to_owned();
        let (child, port) = spawn_on_free_port("s3s-fs", |port| {
            let mut cmd = Command::new(&binary);
            cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args([
                    "--access-key",
                    S3S_ACCESS_KEY,
                    "--secret-key",
                    S3S_SECRET_KEY,
                ])
                .arg(&root);
            let mut child = Child::spawn(cmd, "s3s-fs")?;
            let deadline = Instant::now() + READY_TIMEOUT;
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                if let Some(status) = child.exited() {
                    bail!("s3s-fs exited ({status}); it said:\n{}", child.said());
                }
                if Instant::now() >= deadline {
                    child.kill();
                    bail!("s3s-fs did not listen on port {port} within {READY_TIMEOUT:?}");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(child)
        })?;
        Ok(Self { child, port, dir })
    }

    /// `http://127.0.0.1:PORT`: an S3 client's `endpoint` (path-style).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// A bucket is a folder of its root.
    pub fn create_bucket(&self, bucket: &str) -> Result<()> {
        let path = self.dir.path().join(bucket);
        std::fs::create_dir(&path).with_context(|| format!("creating {}", path.display()))
    }
}
