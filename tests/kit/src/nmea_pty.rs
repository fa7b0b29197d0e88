//! A fake GPS serial port: `socat` links two pseudo-terminals in raw mode
//! (`DIR/gps` for the program under test, `DIR/feed` for us) and a replayed
//! capture is written into `DIR/feed` at a receiver's pace (and the feed
//! then held open, silent, if asked). Killing it is a GPS unplugged: socat
//! goes, and the reader of `DIR/gps` gets EIO/EOF.
//! Killed on drop; socat also ends by itself after the replay's run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::nmea_feed::play;
use crate::nmea_schedule::{Capture, Replay};
use crate::process::{Child, READY_TIMEOUT, require_binary};

#[derive(Debug)]
pub struct NmeaPty {
    socat: Child,
    device: PathBuf,
    writer: tokio::task::JoinHandle<()>,
}

impl NmeaPty {
    /// Makes `dir/gps` and `dir/feed` (replacing links left there by an
    /// earlier run) and replays `log` into the feed. Call inside a tokio
    /// runtime.
    pub async fn start(log: &Path, dir: &Path, replay: Replay) -> Result<Self> {
        Self::open(log, dir, replay, false).await
    }

    /// As [`NmeaPty::start`], but the port stays open and silent once the
    /// capture is played, until the run is over: a receiver that stops
    /// talking while still plugged in.
    pub async fn start_then_silent(log: &Path, dir: &Path, replay: Replay) -> Result<Self> {
        Self::open(log, dir, replay, true).await
    }

    async fn open(log: &Path, dir: &Path, replay: Replay, then_silent: bool) -> Result<Self> {
        require_binary("socat", "socat")?;
        let capture = Capture::load(log)?;
        let device = dir.join("gps");
        let feed = dir.join("feed");
        for link in [&device, &feed] {
            match std::fs::remove_file(link) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("removing {}", link.display())),
            }
        }
        // Bounded: socat outlives the replay by two seconds at most.
        let seconds = (replay.run + Duration::from_secs(2)).as_secs().to_string();
        let mut cmd = Command::new("timeout");
        cmd.args(["-k", "1", &seconds, "socat"])
            .arg(format!("pty,raw,echo=0,link={}", device.display()))
            .arg(format!("pty,raw,echo=0,link={}", feed.display()));
        let mut socat = Child::spawn(cmd, "socat")?;
        let deadline = Instant::now() + READY_TIMEOUT;
        while !(device.symlink_metadata().is_ok() && feed.symlink_metadata().is_ok()) {
            if let Some(status) = socat.exited() {
                bail!("socat exited ({status}); it said:\n{}", socat.said());
            }
            if Instant::now() >= deadline {
                bail!(
                    "socat made no {} within {READY_TIMEOUT:?}",
                    device.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut out = tokio::fs::OpenOptions::new()
            .write(true)
            .open(&feed)
            .await
            .with_context(|| format!("opening {}", feed.display()))?;
        let writer = tokio::spawn(async move {
            // Ends with the run, or with EIO once socat is gone.
            let start = tokio::time::Instant::now();
            let played = play(&mut out, &capture, replay, start).await;
            if then_silent && played.is_ok() {
                tokio::time::sleep_until(start + replay.run).await;
            }
        });
        Ok(Self {
            socat,
            device,
            writer,
        })
    }

    /// `DIR/gps` (a link to `/dev/pts/N`): open it as the serial port.
    pub fn device(&self) -> &Path {
        &self.device
    }

    /// The GPS unplugged: socat killed, the replay stopped.
    pub fn kill(&mut self) {
        self.writer.abort();
        self.socat.kill();
    }
}

impl Drop for NmeaPty {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::sync::mpsc;

    use super::*;
    use crate::data::nmea_log;

    #[derive(Debug)]
    enum Seen {
        First(Vec<u8>),
        Gone,
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_port_carries_the_capture_until_it_is_unplugged() {
        let dir = tempfile::tempdir().unwrap();
        let replay = Replay {
            baud: 38_400,
            ..Replay::looped(Duration::from_millis(50), Duration::from_secs(30))
        };
        let mut pty = NmeaPty::start(&nmea_log("hemi.log"), dir.path(), replay)
            .await
            .unwrap();
        let mut port = std::fs::File::open(pty.device()).unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut first = vec![0u8; 300];
            port.read_exact(&mut first).unwrap();
            tx.send(Seen::First(first)).unwrap();
            // Then on, until the port goes away (EIO or EOF).
            let mut rest = [0u8; 4096];
            while matches!(port.read(&mut rest), Ok(n) if n > 0) {}
            let _ = tx.send(Seen::Gone);
        });
        let limit = Duration::from_secs(10);
        let Seen::First(first) = rx.recv_timeout(limit).unwrap() else {
            panic!("the port went away before 300 bytes");
        };
        let capture = Capture::load(&nmea_log("hemi.log")).unwrap();
        assert_eq!(first, capture.sentences().concat()[..300]);
        pty.kill();
        assert!(matches!(rx.recv_timeout(limit).unwrap(), Seen::Gone));
    }
}
