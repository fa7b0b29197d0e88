//! A real gpsd to read from: Debian's `gpsfake` (gpsd-clients) starts
//! `gpsd` on a free loopback port and feeds it a capture through a
//! pseudo-terminal, once, 0.1 s between sentences (faster, and gpsd 3.22
//! often drops `time` from its TPV reports). gpsd reads the capture only
//! once a client watches, and ends 3 s after it is used up.
//!
//! Readiness is gpsd's listening socket, read from the socket table. On
//! drop, gpsfake and gpsd are killed (one process group), and the SysV
//! shared-memory segment gpsd made for its port is removed (gpsd, having
//! dropped privileges, cannot); gpsfake's control socket lives in a temp
//! dir of our own.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::process::{Child, require_binary, spawn_on_free_port};
use crate::sockets::{Proto, wait_open};

/// How long a run lasts at most.
const MAX_RUN_S: u32 = 90;

#[derive(Debug)]
pub struct Gpsd {
    child: Child,
    port: u16,
    _tmp: tempfile::TempDir,
}

impl Gpsd {
    /// gpsd on a free 127.0.0.1 port, fed `log` once.
    pub fn start(log: &Path) -> Result<Self> {
        require_binary("gpsfake", "gpsd-clients")?;
        require_binary("gpsd", "gpsd")?;
        let tmp = tempfile::tempdir()?;
        let (child, port) = spawn_on_free_port("gpsfake", |port| {
            let mut cmd = Command::new("timeout");
            cmd.args(["-k", "3", &MAX_RUN_S.to_string(), "gpsfake"])
                // quiet; exit 3 s after the log is used up; gpsd's port;
                // the log once, 0.1 s a sentence.
                .args(["-q", "-W", "3", "-P", &port.to_string(), "-1", "-c", "0.1"])
                .arg(log)
                .env("TMPDIR", tmp.path());
            let mut child = Child::spawn(cmd, "gpsfake")?;
            wait_open(&mut child, None, &[(Proto::Tcp, port)])?;
            Ok(child)
        })?;
        Ok(Self {
            child,
            port,
            _tmp: tmp,
        })
    }

    /// `127.0.0.1:PORT`
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Watches (which starts the capture) and returns every JSON report
    /// gpsd sends until it closes the connection, the capture used up (or
    /// [`MAX_RUN_S`] is over, whichever comes first).
    pub fn reports(&self) -> Result<Vec<serde_json::Value>> {
        let mut s = std::net::TcpStream::connect(self.addr())?;
        s.set_read_timeout(Some(Duration::from_secs(u64::from(MAX_RUN_S))))?;
        s.write_all(b"?WATCH={\"enable\":true,\"json\":true}\n")?;
        let deadline = Instant::now() + Duration::from_secs(u64::from(MAX_RUN_S) + 5);
        let mut out = Vec::new();
        for line in BufReader::new(s).lines() {
            let line = match line {
                Ok(line) => line,
                // gpsd gone: the run is over.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
                Err(e) => return Err(e.into()),
            };
            out.push(serde_json::from_str(&line)?);
            anyhow::ensure!(
                Instant::now() < deadline,
                "gpsd still reporting after {MAX_RUN_S} s"
            );
        }
        Ok(out)
    }
}

impl Drop for Gpsd {
    fn drop(&mut self) {
        self.child.kill();
        // gpsfake names gpsd's segment 0x4770<port>.
        let key = format!("0x{:08x}", 0x4770_0000_u32 | u32::from(self.port));
        let _ = Command::new("ipcrm")
            .args(["-M", &key])
            .stderr(Stdio::null())
            .status();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::nmea_log;

    #[test]
    fn a_watching_client_gets_tpv_reports_of_the_capture() {
        let gpsd = Gpsd::start(&nmea_log("ublox-f9p-hpnmea.log")).unwrap();
        let mut s = std::net::TcpStream::connect(gpsd.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s.write_all(b"?WATCH={\"enable\":true,\"json\":true}\n")
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut lines = BufReader::new(s).lines();
        let tpv = loop {
            assert!(Instant::now() < deadline, "no TPV with a position");
            let line = lines.next().unwrap().unwrap();
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            if v["class"] == "TPV" && v["lat"].is_number() && v["time"].is_string() {
                break v;
            }
        };
        assert!(
            (tpv["lat"].as_f64().unwrap() - 44.0688).abs() < 0.001,
            "{tpv}"
        );
        assert!(
            tpv["time"].as_str().unwrap().starts_with("2021-12-23"),
            "{tpv}"
        );
    }
}
