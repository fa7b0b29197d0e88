//! The GPS reader task: connects to the configured source, turns what it
//! reads into fixes (through [`Feed`] for NMEA, or gpsd's TPV reports), and
//! reconnects with back-off when the source fails or goes quiet. A bad line
//! is counted and skipped; nothing here can stop capture.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpStream, UdpSocket};
use tokio_util::sync::CancellationToken;

use crate::base::backoff::{Backoff, pause};
use crate::base::config::GpsSource;
use crate::base::gps::feed::Feed;
use crate::base::gps::fix::Fix;
use crate::base::gps::state::Gps;
use seaframe_wire::timestamp::Timestamp;

/// No data from a connected source for this long: reconnect.
const QUIET_TIMEOUT: Duration = Duration::from_secs(30);
/// No bytes for this long: the receiver's burst is over, so the epoch in
/// progress is reported now (a stream that falls silent keeps its last
/// epoch). Receivers report at 1 Hz or faster and send each burst
/// without pauses, so a second of silence never cuts a cycle in two.
const EPOCH_IDLE: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const KNOTS_PER_M_S: f64 = 1.943_844_5;

#[derive(Debug)]
pub struct GpsReader {
    source: GpsSource,
    gps: Arc<Gps>,
    /// A serial source's reading thread: joined before the port is opened
    /// again and before [`GpsReader::run`] returns.
    serial: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

type SessionResult = Result<(), String>;

impl GpsReader {
    pub fn new(source: GpsSource, gps: Arc<Gps>) -> Self {
        Self {
            source,
            gps,
            serial: std::sync::Mutex::new(None),
        }
    }

    /// Reads until `shutdown`, reconnecting with back-off.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        if self.source == GpsSource::None {
            self.gps.set_state("none");
            return Ok(());
        }
        let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
        loop {
            self.gps.set_state("connecting");
            let outcome = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                outcome = self.session() => outcome,
            };
            let wait = backoff.next_delay();
            match outcome {
                Ok(()) => {
                    backoff.reset();
                    tracing::info!(source = %self.source, "GPS source ended; reconnecting");
                }
                Err(e) => {
                    tracing::warn!(source = %self.source, retry_in_ms = wait.as_millis() as u64, "GPS: {e}");
                    self.gps.set_state(format!("retrying: {e}"));
                }
            }
            if !pause(wait, &shutdown).await {
                break;
            }
        }
        self.join_serial().await;
        self.gps.set_state("stopped");
        Ok(())
    }

    /// Waits for the last serial thread, if any: it ends within its read
    /// timeout once its session (the channel's receiver) is gone.
    async fn join_serial(&self) {
        let thread = self.serial.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread {
            match tokio::task::spawn_blocking(move || thread.join()).await {
                Ok(Ok(())) => {}
                _ => tracing::warn!("the serial GPS thread panicked"),
            }
        }
    }

    async fn session(&self) -> SessionResult {
        match &self.source {
            GpsSource::None => Ok(()),
            GpsSource::Tcp { addr } => {
                let stream = connect(addr).await?;
                self.gps.set_state("ok");
                self.read_stream(stream).await
            }
            GpsSource::Udp { addr } => {
                let socket = UdpSocket::bind(addr)
                    .await
                    .map_err(|e| format!("cannot listen on udp:{addr}: {e}"))?;
                self.gps.set_state("listening");
                let mut feed = Feed::new(Arc::clone(&self.gps), None);
                let mut buf = vec![0u8; 2048];
                loop {
                    let n = match tokio::time::timeout(EPOCH_IDLE, socket.recv(&mut buf)).await {
                        Err(_) => {
                            feed.flush(Timestamp::now());
                            continue;
                        }
                        Ok(r) => r.map_err(|e| format!("udp: {e}"))?,
                    };
                    let now = Timestamp::now();
                    self.gps.set_state("ok");
                    // One sentence per datagram, usually without a line end.
                    feed.bytes(&buf[..n], now);
                    feed.bytes(b"\n", now);
                }
            }
            GpsSource::Serial { device, baud } => self.read_serial(device.clone(), *baud).await,
            GpsSource::Gpsd { addr } => self.read_gpsd(addr).await,
            GpsSource::Replay { file, rate } => {
                super::replay::session(file, *rate, &self.gps).await
            }
            GpsSource::SignalK { url } => super::signalk::session(url, &self.gps).await,
        }
    }

    /// NMEA from a byte stream, until EOF, an error or silence; the epoch
    /// in progress is reported after [`EPOCH_IDLE`] without bytes and when
    /// the stream ends.
    async fn read_stream(&self, mut stream: impl tokio::io::AsyncRead + Unpin) -> SessionResult {
        let mut feed = Feed::new(Arc::clone(&self.gps), None);
        let mut buf = vec![0u8; 4096];
        let mut quiet = Duration::ZERO;
        loop {
            let n = match tokio::time::timeout(EPOCH_IDLE, stream.read(&mut buf)).await {
                Err(_) => {
                    feed.flush(Timestamp::now());
                    quiet += EPOCH_IDLE;
                    if quiet >= QUIET_TIMEOUT {
                        return Err(format!("no data for {}s", QUIET_TIMEOUT.as_secs()));
                    }
                    continue;
                }
                Ok(Err(e)) => {
                    feed.flush(Timestamp::now());
                    return Err(format!("read failed: {e}"));
                }
                Ok(Ok(0)) => {
                    feed.flush(Timestamp::now());
                    return Err("the source closed the connection".into());
                }
                Ok(Ok(n)) => n,
            };
            quiet = Duration::ZERO;
            feed.bytes(&buf[..n], Timestamp::now());
        }
    }

    /// A serial port (or pseudo-terminal) read on a thread of its own.
    async fn read_serial(&self, device: std::path::PathBuf, baud: u32) -> SessionResult {
        // The previous session's thread holds the port until it ends.
        self.join_serial().await;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, String>>(64);
        let name = device.display().to_string();
        let thread = std::thread::Builder::new()
            .name(format!("serial {name}"))
            .spawn(move || {
                let port = serialport::new(device.to_string_lossy(), baud)
                    .timeout(Duration::from_millis(500))
                    .open();
                let mut port = match port {
                    Ok(p) => p,
                    Err(e) => {
                        let _ =
                            tx.blocking_send(Err(format!("cannot open {}: {e}", device.display())));
                        return;
                    }
                };
                let mut buf = [0u8; 1024];
                loop {
                    let msg = match std::io::Read::read(&mut port, &mut buf) {
                        Ok(0) => Err("the serial port closed".to_owned()),
                        Ok(n) => Ok(buf[..n].to_vec()),
                        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Ok(Vec::new()),
                        Err(e) => Err(format!("serial read failed: {e}")),
                    };
                    let failed = msg.is_err();
                    if tx.blocking_send(msg).is_err() || failed {
                        return; // the reader is gone, or the port failed
                    }
                }
            })
            .map_err(|e| format!("cannot start the serial thread: {e}"))?;
        if let Ok(mut slot) = self.serial.lock() {
            *slot = Some(thread);
        }
        let mut feed = Feed::new(Arc::clone(&self.gps), None);
        let mut quiet_since = tokio::time::Instant::now();
        while let Some(msg) = rx.recv().await {
            let bytes = match msg {
                Ok(bytes) => bytes,
                Err(e) => {
                    feed.flush(Timestamp::now());
                    return Err(e);
                }
            };
            if bytes.is_empty() {
                if quiet_since.elapsed() >= EPOCH_IDLE {
                    feed.flush(Timestamp::now());
                }
                if quiet_since.elapsed() > QUIET_TIMEOUT {
                    return Err(format!("{name}: no data for {}s", QUIET_TIMEOUT.as_secs()));
                }
                continue;
            }
            quiet_since = tokio::time::Instant::now();
            self.gps.set_state("ok");
            feed.bytes(&bytes, Timestamp::now());
        }
        feed.flush(Timestamp::now());
        Err(format!("{name}: the serial thread ended"))
    }

    /// gpsd's JSON protocol: `?WATCH`, then TPV reports.
    async fn read_gpsd(&self, addr: &str) -> SessionResult {
        let mut stream = connect(addr).await?;
        stream
            .write_all(b"?WATCH={\"enable\":true,\"json\":true}\n")
            .await
            .map_err(|e| format!("gpsd: {e}"))?;
        self.gps.set_state("ok");
        let mut lines = BufReader::new(stream).lines();
        loop {
            let line = match tokio::time::timeout(QUIET_TIMEOUT, lines.next_line()).await {
                Err(_) => return Err(format!("gpsd: no report for {}s", QUIET_TIMEOUT.as_secs())),
                Ok(Err(e)) => return Err(format!("gpsd: {e}")),
                Ok(Ok(None)) => return Err("gpsd closed the connection".into()),
                Ok(Ok(Some(line))) => line,
            };
            if let Some(fix) = tpv_fix(&line) {
                self.gps.record(fix, Timestamp::now());
            }
        }
    }
}

async fn connect(addr: &str) -> Result<TcpStream, String> {
    match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
        Err(_) => Err(format!("{addr}: timed out connecting")),
        Ok(Err(e)) => Err(format!("{addr}: {e}")),
        Ok(Ok(s)) => Ok(s),
    }
}

/// A gpsd TPV report with a 2D/3D fix and a time, as a [`Fix`].
pub fn tpv_fix(line: &str) -> Option<Fix> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    if v["class"] != "TPV" {
        return None;
    }
    let mode = u8::try_from(v["mode"].as_u64()?).ok().filter(|m| *m >= 2)?;
    let time = Timestamp::parse_user(v["time"].as_str()?).ok()?;
    let (lat, lon) = (v["lat"].as_f64()?, v["lon"].as_f64()?);
    if !(lat.abs() <= 90.0 && lon.abs() <= 180.0) {
        return None;
    }
    // gpsd "status": 2 DGPS, 3 RTK fixed, 4 RTK float, 5 dead reckoning.
    let quality = match v["status"].as_u64() {
        Some(2) => 2,
        Some(3) => 4,
        Some(4) => 5,
        Some(5) => 6,
        _ => 1,
    };
    Some(Fix {
        time,
        lat,
        lon,
        mode,
        quality,
        satellites: None,
        hdop: None,
        altitude_m: v["altMSL"].as_f64().or_else(|| v["alt"].as_f64()),
        speed_kn: v["speed"].as_f64().map(|s| s * KNOTS_PER_M_S),
        course_deg: v["track"].as_f64(),
        heading_deg: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_gpsd_tpv() {
        let f = tpv_fix(r#"{"class":"TPV","status":2,"mode":3,"time":"2021-12-23T01:45:00.000Z","lat":44.068843373,"lon":-121.314077962,"altMSL":1129.913,"speed":1.0,"track":97.75}"#).unwrap();
        assert_eq!(f.time.to_rfc3339(), "2021-12-23T01:45:00.000000000Z");
        assert_eq!(
            (f.mode, f.quality_name(), f.course_deg),
            (3, "dgps", Some(97.75))
        );
        assert!((f.speed_kn.unwrap() - 1.9438445).abs() < 1e-6);
        assert!(tpv_fix(r#"{"class":"TPV","mode":1}"#).is_none());
        assert!(tpv_fix("not json").is_none());
    }
}
