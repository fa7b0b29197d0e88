//! RESP2, the Redis protocol, as bytes only (no IO): requests built as
//! segments for a vectored write, so that a frame's JPEG goes from its
//! `Bytes` to the socket without a copy; and the header line of a reply,
//! which tells the reader how many bytes or elements follow (see
//! [`super::raw`]).

use std::io::IoSlice;

use bytes::Bytes;

/// The longest reply string accepted (a JPEG; ids and names are tiny).
pub const MAX_BULK_BYTES: usize = 256 << 20;
/// The most elements accepted in one reply array.
pub const MAX_ARRAY_LEN: usize = 1 << 20;

/// One reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`, `+QUEUED`
    Status(String),
    /// `-NOGROUP …`: the code is the first word.
    Error(String),
    Int(i64),
    /// `$-1` and `*-1`.
    Nil,
    /// Shares the buffer it was read into (a JPEG is never copied).
    Bulk(Bytes),
    Array(Vec<Reply>),
}

impl Reply {
    /// The error's code (`NOGROUP`, `ERR`, …), for an error reply.
    pub fn error_code(&self) -> Option<&str> {
        match self {
            Self::Error(message) => message.split_whitespace().next(),
            _ => None,
        }
    }

    /// A bulk or status reply as text.
    pub fn into_string(self) -> Option<String> {
        match self {
            Self::Bulk(b) => String::from_utf8(b.to_vec()).ok(),
            Self::Status(s) => Some(s),
            _ => None,
        }
    }
}

/// What a reply's first line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Header {
    Status(String),
    Error(String),
    Int(i64),
    Nil,
    /// A string of this many bytes follows (then CRLF).
    Bulk(usize),
    /// This many replies follow.
    Array(usize),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("malformed reply from redis: {0}")]
pub struct ProtocolError(pub String);

/// Reads a reply's first line (without its CRLF).
pub fn header(line: &[u8]) -> Result<Header, ProtocolError> {
    let Some((&kind, rest)) = line.split_first() else {
        return Err(ProtocolError("an empty line".into()));
    };
    let text = || {
        std::str::from_utf8(rest)
            .map(str::to_owned)
            .map_err(|_| ProtocolError("a line that is not UTF-8".into()))
    };
    let number = || -> Result<i64, ProtocolError> {
        std::str::from_utf8(rest)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                ProtocolError(format!("not a number: {:?}", String::from_utf8_lossy(rest)))
            })
    };
    let length = |max: usize| -> Result<Option<usize>, ProtocolError> {
        let n = number()?;
        if n < 0 {
            return Ok(None);
        }
        match usize::try_from(n) {
            Ok(n) if n <= max => Ok(Some(n)),
            _ => Err(ProtocolError(format!("a length of {n}"))),
        }
    };
    Ok(match kind {
        b'+' => Header::Status(text()?),
        b'-' => Header::Error(text()?),
        b':' => Header::Int(number()?),
        b'$' => length(MAX_BULK_BYTES)?.map_or(Header::Nil, Header::Bulk),
        b'*' => length(MAX_ARRAY_LEN)?.map_or(Header::Nil, Header::Array),
        other => {
            return Err(ProtocolError(format!(
                "unknown reply type {:?}",
                char::from(other)
            )));
        }
    })
}

/// Commands to send in one write: header bytes we own, and payloads shared
/// with their frames (never copied).
#[derive(Debug, Default)]
pub struct Request {
    /// Owned bytes and payloads, in order.
    parts: Vec<Part>,
    commands: usize,
}

#[derive(Debug)]
enum Part {
    Owned(Vec<u8>),
    Shared(Bytes),
}

impl Request {
    /// Adds a command of small arguments (copied into the request).
    pub fn command(&mut self, args: &[&[u8]]) {
        let out = self.owned_tail();
        push_len(out, b'*', args.len());
        for arg in args {
            push_bulk(out, arg);
        }
        self.commands += 1;
    }

    /// Adds a command whose last argument is `payload`, sent from where it
    /// is (not copied).
    pub fn command_with_payload(&mut self, args: &[&[u8]], payload: Bytes) {
        let out = self.owned_tail();
        push_len(out, b'*', args.len() + 1);
        for arg in args {
            push_bulk(out, arg);
        }
        push_len(out, b'$', payload.len());
        self.parts.push(Part::Shared(payload));
        self.parts.push(Part::Owned(b"\r\n".to_vec()));
        self.commands += 1;
    }

    /// How many commands (hence top-level replies) the request holds.
    pub fn commands(&self) -> usize {
        self.commands
    }

    /// The request's bytes, as slices for `write_vectored`.
    pub fn slices(&self) -> Vec<IoSlice<'_>> {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Owned(b) => IoSlice::new(b),
                Part::Shared(b) => IoSlice::new(b),
            })
            .collect()
    }

    fn owned_tail(&mut self) -> &mut Vec<u8> {
        if !matches!(self.parts.last(), Some(Part::Owned(_))) {
            self.parts.push(Part::Owned(Vec::with_capacity(256)));
        }
        match self.parts.last_mut() {
            Some(Part::Owned(b)) => b,
            _ => unreachable!("an owned part was pushed just above"),
        }
    }
}

fn push_len(out: &mut Vec<u8>, kind: u8, n: usize) {
    out.push(kind);
    out.extend_from_slice(n.to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn push_bulk(out: &mut Vec<u8>, arg: &[u8]) {
    push_len(out, b'$', arg.len());
    out.extend_from_slice(arg);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_is_sent_where_it_lies_between_the_headers() {
        let payload = Bytes::from_static(b"\xff\xd8jpeg\xff\xd9");
        let mut r = Request::default();
        r.command(&[b"MULTI"]);
        r.command_with_payload(&[b"XADD", b"k", b"*", b"jpeg"], payload.clone());
        r.command(&[b"EXEC"]);
        assert_eq!(r.commands(), 3);
        let slices = r.slices();
        let bytes: Vec<u8> = slices.iter().flat_map(|s| s.iter().copied()).collect();
        assert_eq!(
            bytes,
            b"*1\r\n$5\r\nMULTI\r\n*5\r\n$4\r\nXADD\r\n$1\r\nk\r\n$1\r\n*\r\n$4\r\njpeg\r\n\
              $8\r\n\xff\xd8jpeg\xff\xd9\r\n*1\r\n$4\r\nEXEC\r\n"
        );
        assert_eq!(slices.len(), 3, "header, payload, the rest");
        assert_eq!(
            slices[1].as_ptr(),
            payload.as_ptr(),
            "the payload is not copied"
        );
    }

    #[test]
    fn header_lines_say_what_follows() {
        assert_eq!(header(b"+QUEUED"), Ok(Header::Status("QUEUED".into())));
        assert_eq!(header(b":42"), Ok(Header::Int(42)));
        assert_eq!(header(b"$593000"), Ok(Header::Bulk(593_000)));
        assert_eq!(header(b"$-1"), Ok(Header::Nil));
        assert_eq!(header(b"*-1"), Ok(Header::Nil));
        assert_eq!(header(b"*3"), Ok(Header::Array(3)));
        let e = header(b"-NOGROUP the consumer group is missing");
        assert_eq!(
            e,
            Ok(Header::Error(
                "NOGROUP the consumer group is missing".into()
            ))
        );
        assert_eq!(
            Reply::Error("NOGROUP the consumer group is missing".into()).error_code(),
            Some("NOGROUP")
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [
            &b""[..],
            b"?",
            b":x",
            b"$99999999999",
            b"*999999999",
            b"$-x",
            b"+\xff",
        ] {
            assert!(header(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
