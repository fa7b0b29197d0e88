//! A bare HTTP/1.1 client for the kit's own tests of its fake cameras: one
//! GET over a std TCP stream, the response kept as bytes, so that a test
//! sees what a camera really sent (header case, chunking, a body cut short,
//! silence). Test-only.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A response as received.
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    /// Header lines as sent (`Name: value`).
    pub headers: Vec<String>,
    /// The body as sent (still chunked, if it was).
    pub body: Vec<u8>,
    /// Whether the server closed the connection before `limit` passed.
    pub closed: bool,
}

impl Raw {
    /// The value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find_map(|h| {
            let (n, v) = h.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// GETs `path` from `addr` (`127.0.0.1:PORT`) with `extra` header lines,
/// reading until the server closes, `max_bytes` arrived, or `limit` passed.
pub fn get(addr: &str, path: &str, extra: &[&str], limit: Duration, max_bytes: usize) -> Raw {
    let mut s = TcpStream::connect(addr).expect("connect");
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for h in extra {
        request.push_str(h);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    s.write_all(request.as_bytes()).expect("send");
    let deadline = Instant::now() + limit;
    let mut got = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let mut closed = false;
    while got.len() < max_bytes {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        s.set_read_timeout(Some(left)).expect("timeout");
        match s.read(&mut buf) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                closed = true;
                break;
            }
            Err(_) => break, // timed out
        }
    }
    let end = got
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a whole response head");
    let head = String::from_utf8_lossy(&got[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    Raw {
        status,
        headers: lines.map(str::to_owned).collect(),
        body: got[end + 4..].to_vec(),
        closed,
    }
}

/// The data of a chunked body (as far as it goes).
pub fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = body.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&body[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
            .expect("a chunk size");
        let data = &body[eol + 2..];
        if size == 0 || data.len() < size {
            out.extend_from_slice(&data[..size.min(data.len())]);
            break;
        }
        out.extend_from_slice(&data[..size]);
        body = data.get(size + 2..).unwrap_or_default();
    }
    out
}
