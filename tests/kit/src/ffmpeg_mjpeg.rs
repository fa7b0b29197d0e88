//! ffmpeg's own HTTP server sending MJPEG (`-listen 1`), as some encoders
//! and cheap cameras serve it: chunked transfer encoding, lowercase part
//! headers (`Content-type`, `Content-length`), exactly one client, then it
//! exits. A different server from [`HttpCamera`](crate::HttpCamera).
//! Its readiness is read from the socket table, never by connecting (the
//! first connection is its one client). Killed on drop.

use std::process::Command;
use std::time::Duration;

use anyhow::Result;

use crate::process::{Child, require_binary, spawn_on_free_port};
use crate::sockets::{Proto, wait_open};

#[derive(Debug)]
pub struct FfmpegMjpegServer {
    _child: Child,
    url: String,
}

impl FfmpegMjpegServer {
    /// `width`×`height` at `fps` (ffmpeg's `testsrc2`), for `run` of video
    /// at most, on a free loopback port.
    pub fn start(width: u32, height: u32, fps: u32, run: Duration) -> Result<Self> {
        require_binary("ffmpeg", "ffmpeg")?;
        let (child, port) = spawn_on_free_port("ffmpeg -listen", |port| {
            let mut cmd = Command::new("ffmpeg");
            cmd.args(["-hide_banner", "-nostdin", "-loglevel", "error", "-re"])
                .args(["-f", "lavfi", "-i"])
                .arg(format!("testsrc2=size={width}x{height}:rate={fps}"))
                .args(["-t", &run.as_secs().to_string()])
                .args(["-c:v", "mjpeg", "-q:v", "5", "-f", "mpjpeg"])
                .args(["-boundary_tag", "frame"])
                // Else ffmpeg labels the stream application/octet-stream.
                .args(["-content_type", "multipart/x-mixed-replace;boundary=frame"])
                .args(["-listen", "1"])
                .arg(format!("http://127.0.0.1:{port}/stream.mjpg"));
            let mut child = Child::spawn(cmd, "ffmpeg -listen")?;
            wait_open(&mut child, None, &[(Proto::Tcp, port)])?;
            Ok(child)
        })?;
        Ok(Self {
            _child: child,
            url: format!("http://127.0.0.1:{port}/stream.mjpg"),
        })
    }

    /// `http://127.0.0.1:PORT/stream.mjpg`
    pub fn url(&self) -> &str {
        &self.url
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw_http::{dechunk, get};

    #[test]
    fn one_client_gets_chunked_mjpeg_with_lowercase_part_headers() {
        let server = FfmpegMjpegServer::start(160, 120, 10, Duration::from_secs(20)).unwrap();
        let addr = server
            .url()
            .trim_start_matches("http://")
            .trim_end_matches("/stream.mjpg");
        let r = get(addr, "/stream.mjpg", &[], Duration::from_secs(3), 64 * 1024);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("transfer-encoding"), Some("chunked"));
        assert_eq!(
            r.header("content-type"),
            Some("multipart/x-mixed-replace;boundary=frame")
        );
        let body = String::from_utf8_lossy(&dechunk(&r.body)).into_owned();
        assert!(body.contains("--frame\r\nContent-type: image/jpeg\r\nContent-length: "));
    }
}
