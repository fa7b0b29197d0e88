//! NMEA over the network from a replayed capture, paced as in
//! `nmea_schedule`: a TCP server on a free loopback port (a marine
//! NMEA-to-Ethernet gateway: one client at a time, each from the start of
//! the capture; or a receiver that then falls silent, connection open)
//! and a UDP sender (one sentence a datagram, to a loopback port). Tasks
//! on the caller's tokio runtime, ended on drop and by themselves after
//! [`Replay::run`].

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::time::Instant;

use crate::nmea_schedule::{Capture, Replay, schedule};

/// Plays `capture` into `out` from `start` (the replay's time zero) until
/// the schedule ends or a write fails (the reader went away).
pub(crate) async fn play<W: AsyncWrite + Unpin>(
    out: &mut W,
    capture: &Capture,
    replay: Replay,
    start: Instant,
) -> std::io::Result<()> {
    for w in schedule(capture, replay, false) {
        tokio::time::sleep_until(start + w.at).await;
        out.write_all(&w.bytes).await?;
        out.flush().await?;
    }
    Ok(())
}

/// A TCP NMEA server; its task ends on drop.
#[derive(Debug)]
pub struct NmeaTcpServer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl NmeaTcpServer {
    /// Serves the capture at `log` on a free 127.0.0.1 port. Call inside a
    /// tokio runtime.
    pub async fn start(log: &Path, replay: Replay) -> Result<Self> {
        Self::serve(log, replay, false).await
    }

    /// As [`NmeaTcpServer::start`], but a client's connection stays open
    /// and silent once the capture is played, until the run is over: a
    /// receiver that stops talking without hanging up.
    pub async fn start_then_silent(log: &Path, replay: Replay) -> Result<Self> {
        Self::serve(log, replay, true).await
    }

    async fn serve(log: &Path, replay: Replay, then_silent: bool) -> Result<Self> {
        let capture = Arc::new(Capture::load(log)?);
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let deadline = Instant::now() + replay.run;
        let task = tokio::spawn(async move {
            // One client at a time: the next is accepted when this one ends.
            while let Ok(Ok((mut client, _))) =
                tokio::time::timeout_at(deadline, listener.accept()).await
            {
                let left = deadline.saturating_duration_since(Instant::now());
                let this_one = Replay {
                    run: left,
                    ..replay
                };
                let played = play(&mut client, &capture, this_one, Instant::now()).await;
                if then_silent && played.is_ok() {
                    tokio::time::sleep_until(deadline).await;
                }
            }
        });
        Ok(Self { addr, task })
    }

    /// `127.0.0.1:PORT`
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for NmeaTcpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A UDP NMEA talker; its task ends on drop.
#[derive(Debug)]
pub struct NmeaUdpSender {
    task: tokio::task::JoinHandle<()>,
}

impl NmeaUdpSender {
    /// Sends the capture at `log`, one sentence a datagram, to `dest` (a
    /// loopback address). Call inside a tokio runtime.
    pub async fn start(log: &Path, replay: Replay, dest: SocketAddr) -> Result<Self> {
        anyhow::ensure!(dest.ip().is_loopback(), "{dest} is not a loopback address");
        let capture = Capture::load(log)?;
        let socket = UdpSocket::bind("127.0.0.1:0").await?;
        let task = tokio::spawn(async move {
            let start = Instant::now();
            for w in schedule(&capture, replay, true) {
                tokio::time::sleep_until(start + w.at).await;
                // Nobody listening yet is not an error for a talker.
                let _ = socket.send_to(&w.bytes, dest).await;
            }
        });
        Ok(Self { task })
    }
}

impl Drop for NmeaUdpSender {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::AsyncReadExt;

    use super::*;
    use crate::data::nmea_log;

    fn fast() -> Replay {
        Replay::looped(Duration::from_millis(10), Duration::from_secs(20))
    }

    /// The first `n` bytes a new client of `addr` reads.
    async fn first_bytes(addr: SocketAddr, n: usize) -> Vec<u8> {
        let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut got = vec![0u8; n];
        tokio::time::timeout(Duration::from_secs(10), client.read_exact(&mut got))
            .await
            .unwrap()
            .unwrap();
        got
    }

    #[tokio::test]
    async fn every_tcp_client_gets_the_capture_from_its_start() {
        let log = nmea_log("hemi.log");
        let capture = Capture::load(&log).unwrap();
        let start: Vec<u8> = capture.sentences().concat()[..2000].to_vec();
        let server = NmeaTcpServer::start(&log, fast()).await.unwrap();
        assert_eq!(first_bytes(server.addr(), 2000).await, start);
        assert_eq!(first_bytes(server.addr(), 2000).await, start);
    }

    #[tokio::test]
    async fn a_then_silent_server_plays_once_and_keeps_the_line_open() {
        let log = nmea_log("hemi.log");
        let all: Vec<u8> = Capture::load(&log).unwrap().sentences().concat();
        let once = Replay {
            loops: 1,
            ..Replay::looped(Duration::ZERO, Duration::from_secs(20))
        };
        let server = NmeaTcpServer::start_then_silent(&log, once).await.unwrap();
        let mut client = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
        let mut got = vec![0u8; all.len()];
        tokio::time::timeout(Duration::from_secs(10), client.read_exact(&mut got))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, all);
        // Then silence: no byte, and no end of stream either.
        let mut more = [0u8; 1];
        let after = tokio::time::timeout(Duration::from_secs(2), client.read(&mut more)).await;
        assert!(after.is_err(), "{after:?}");
    }

    #[tokio::test]
    async fn udp_datagrams_are_one_sentence_each() {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let log = nmea_log("hemi.log");
        let _sender = NmeaUdpSender::start(&log, fast(), socket.local_addr().unwrap())
            .await
            .unwrap();
        let mut buf = vec![0u8; 2048];
        for _ in 0..20 {
            let n = tokio::time::timeout(Duration::from_secs(10), socket.recv(&mut buf))
                .await
                .unwrap()
                .unwrap();
            let datagram = &buf[..n];
            assert!(datagram.ends_with(b"\n"), "{datagram:?}");
            assert_eq!(datagram.iter().filter(|&&b| b == b'\n').count(), 1);
        }
    }
}
