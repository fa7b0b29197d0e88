//! An IO-free parser of `multipart/x-mixed-replace` bodies (MJPEG over
//! HTTP). Bytes go in in any chunking; whole parts come out. Uses a part's
//! `Content-Length` when it has one (any header case), else scans for the
//! next boundary. Tolerates CRLF or LF line ends and servers that declare
//! the boundary with its leading `--`.

use bytes::{Buf, Bytes, BytesMut};

/// The most a part may grow before the stream is declared broken.
pub const MAX_PART_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MultipartError {
    #[error("MJPEG stream: no part boundary within {MAX_PART_BYTES} bytes")]
    Oversized,
    #[error("MJPEG stream: bad Content-Length {0:?}")]
    BadLength(String),
}

#[derive(Debug)]
pub struct Multipart {
    delimiter: Vec<u8>,
    buf: BytesMut,
}

/// The boundary parameter of a `Content-Type` header, unquoted.
pub fn boundary_of(content_type: &str) -> Option<String> {
    content_type.split(';').find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_owned())
            .filter(|b| !b.is_empty())
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

impl Multipart {
    pub fn new(boundary: &str) -> Self {
        let delimiter = if boundary.starts_with("--") {
            boundary.as_bytes().to_vec()
        } else {
            format!("--{boundary}").into_bytes()
        };
        Self {
            delimiter,
            buf: BytesMut::with_capacity(256 * 1024),
        }
    }

    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next whole part's body, if the buffer holds one.
    pub fn next_part(&mut self) -> Option<Result<Bytes, MultipartError>> {
        let Some(start) = find(&self.buf, &self.delimiter) else {
            if self.buf.len() > MAX_PART_BYTES {
                self.buf.clear();
                return Some(Err(MultipartError::Oversized));
            }
            return None;
        };
        let after = start + self.delimiter.len();
        // Headers end at the first empty line after the delimiter line.
        let (headers_end, body_start) = match (
            find(&self.buf[after..], b"\r\n\r\n"),
            find(&self.buf[after..], b"\n\n"),
        ) {
            (Some(a), Some(b)) if b < a => (after + b, after + b + 2),
            (Some(a), _) => (after + a, after + a + 4),
            (None, Some(b)) => (after + b, after + b + 2),
            (None, None) => {
                if self.buf.len() - start > MAX_PART_BYTES {
                    self.buf.clear();
                    return Some(Err(MultipartError::Oversized));
                }
                return None;
            }
        };
        let headers = String::from_utf8_lossy(&self.buf[after..headers_end]).into_owned();
        let length = headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().to_owned())
        });
        let body_end = match length {
            Some(v) => match v.parse::<usize>() {
                Ok(n) if n <= MAX_PART_BYTES => {
                    if self.buf.len() < body_start + n {
                        return None;
                    }
                    body_start + n
                }
                _ => {
                    self.buf.advance(body_start);
                    return Some(Err(MultipartError::BadLength(v)));
                }
            },
            None => match find(&self.buf[body_start..], &self.delimiter) {
                Some(next) => {
                    let mut end = body_start + next;
                    for eol in [b"\r\n".as_slice(), b"\n"] {
                        if self.buf[body_start..end].ends_with(eol) {
                            end -= eol.len();
                            break;
                        }
                    }
                    end
                }
                None if self.buf.len() - body_start > MAX_PART_BYTES => {
                    self.buf.clear();
                    return Some(Err(MultipartError::Oversized));
                }
                None => return None,
            },
        };
        self.buf.advance(start);
        let mut part = self.buf.split_to(body_end - start);
        part.advance(body_start - start);
        Some(Ok(part.freeze()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(with_length: bool, eol: &str) -> (Vec<u8>, Vec<Vec<u8>>) {
        let bodies: Vec<Vec<u8>> = (0..4u8)
            .map(|i| vec![0xFF, 0xD8, i, b'\n', b'-', 0xFF, 0xD9])
            .collect();
        let mut out = Vec::new();
        for b in &bodies {
            out.extend_from_slice(format!("--frame{eol}Content-Type: image/jpeg{eol}").as_bytes());
            if with_length {
                out.extend_from_slice(format!("content-LENGTH: {}{eol}", b.len()).as_bytes());
            }
            out.extend_from_slice(eol.as_bytes());
            out.extend_from_slice(b);
            out.extend_from_slice(eol.as_bytes());
        }
        out.extend_from_slice(b"--frame");
        (out, bodies)
    }

    fn parse_in_chunks(data: &[u8], chunk: usize, boundary: &str) -> Vec<Vec<u8>> {
        let mut p = Multipart::new(boundary);
        let mut parts = Vec::new();
        for c in data.chunks(chunk) {
            p.push(c);
            while let Some(part) = p.next_part() {
                parts.push(part.unwrap().to_vec());
            }
        }
        parts
    }

    #[test]
    fn parts_come_out_whole_in_any_chunking() {
        for (with_length, eol) in [(true, "\r\n"), (false, "\r\n"), (true, "\n"), (false, "\n")] {
            let (data, bodies) = stream(with_length, eol);
            for chunk in [1, 2, 3, 7, 64, data.len()] {
                let parts = parse_in_chunks(&data, chunk, "frame");
                assert_eq!(
                    parts, bodies,
                    "length {with_length} eol {eol:?} chunk {chunk}"
                );
                assert_eq!(parse_in_chunks(&data, chunk, "--frame"), bodies);
            }
        }
    }

    #[test]
    fn reads_the_boundary_parameter() {
        assert_eq!(
            boundary_of("multipart/x-mixed-replace; boundary=frame").as_deref(),
            Some("frame")
        );
        assert_eq!(
            boundary_of("multipart/x-mixed-replace;Boundary=\"a b\"").as_deref(),
            Some("a b")
        );
        assert_eq!(boundary_of("image/jpeg"), None);
    }

    #[test]
    fn garbage_never_grows_without_bound() {
        let mut p = Multipart::new("frame");
        let junk = vec![0u8; 1024 * 1024];
        let mut errors = 0;
        for _ in 0..20 {
            p.push(&junk);
            if let Some(Err(MultipartError::Oversized)) = p.next_part() {
                errors += 1;
            }
        }
        assert!(errors >= 1);
        assert!(p.buf.len() <= MAX_PART_BYTES + junk.len());
    }
}
