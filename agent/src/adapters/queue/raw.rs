//! A connection to Redis that does not copy frames: requests are written
//! with one vectored write straight from the frames' buffers, and a reply's
//! strings are read into buffers that become the frames' `Bytes` (redis-rs
//! copied every 590 KB JPEG two or three times each way). Unix socket or
//! TCP, with the URL's credentials and database. The producer and each
//! worker own one; a connection that failed in any way is dropped.

use std::io::IoSlice;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use redis::{Client, ConnectionAddr};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::adapters::queue::QueueError;
use crate::base::resp::{self, Header, Reply, Request};

/// The longest header line accepted.
const MAX_LINE_BYTES: usize = 64 << 10;
/// Read at least this much at a time.
const READ_CHUNK_BYTES: usize = 64 << 10;

trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// A connection that sends [`Request`]s and reads their replies.
pub struct RawConn {
    io: Box<dyn Io>,
    /// Bytes read and not yet parsed.
    buf: BytesMut,
    response_timeout: Duration,
}

impl std::fmt::Debug for RawConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawConn")
            .field("buffered", &self.buf.len())
            .finish()
    }
}

impl RawConn {
    /// Connects to `client`'s address, then AUTH and SELECT as its URL says.
    /// A reply must come within `response_timeout` of its request.
    pub async fn connect(
        client: &Client,
        connect_timeout: Duration,
        response_timeout: Duration,
    ) -> Result<Self, QueueError> {
        let info = client.get_connection_info();
        let io: Box<dyn Io> = match info.addr() {
            ConnectionAddr::Unix(path) => Box::new(
                tokio::time::timeout(connect_timeout, tokio::net::UnixStream::connect(path))
                    .await
                    .map_err(|_| timed_out("connecting"))??,
            ),
            ConnectionAddr::Tcp(host, port) => {
                let stream = tokio::time::timeout(
                    connect_timeout,
                    tokio::net::TcpStream::connect((host.as_str(), *port)),
                )
                .await
                .map_err(|_| timed_out("connecting"))??;
                stream.set_nodelay(true)?;
                Box::new(stream)
            }
            _ => {
                return Err(QueueError::Reply(
                    "only redis:// and unix:// URLs are supported".into(),
                ));
            }
        };
        Self::over(io, response_timeout, info.redis_settings()).await
    }

    async fn over(
        io: Box<dyn Io>,
        response_timeout: Duration,
        settings: &redis::RedisConnectionInfo,
    ) -> Result<Self, QueueError> {
        let mut conn = Self {
            io,
            buf: BytesMut::with_capacity(READ_CHUNK_BYTES),
            response_timeout,
        };
        let mut hello = Request::default();
        if let Some(password) = settings.password() {
            match settings.username() {
                Some(user) => hello.command(&[b"AUTH", user.as_bytes(), password.as_bytes()]),
                None => hello.command(&[b"AUTH", password.as_bytes()]),
            }
        }
        if settings.db() != 0 {
            hello.command(&[b"SELECT", settings.db().to_string().as_bytes()]);
        }
        if hello.commands() > 0 {
            for reply in conn.send(&hello).await? {
                if let Reply::Error(e) = reply {
                    return Err(QueueError::Reply(format!("connecting: {e}")));
                }
            }
        }
        Ok(conn)
    }

    /// Writes `request` and reads one reply per command. Not cancel-safe,
    /// and an IO error, a malformed reply or a timeout leaves the
    /// connection out of step: drop it then.
    pub async fn send(&mut self, request: &Request) -> Result<Vec<Reply>, QueueError> {
        tokio::time::timeout(self.response_timeout, self.send_untimed(request))
            .await
            .map_err(|_| timed_out("waiting for a reply"))?
    }

    async fn send_untimed(&mut self, request: &Request) -> Result<Vec<Reply>, QueueError> {
        let mut slices = request.slices();
        let mut rest: &mut [IoSlice<'_>] = &mut slices;
        while !rest.is_empty() {
            let n = self.io.write_vectored(rest).await?;
            if n == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::WriteZero).into());
            }
            IoSlice::advance_slices(&mut rest, n);
        }
        self.io.flush().await?;
        let mut replies = Vec::with_capacity(request.commands());
        while replies.len() < request.commands() {
            replies.push(self.read_reply().await?);
        }
        Ok(replies)
    }

    /// One whole reply; nested arrays are kept on a stack, not recursed.
    async fn read_reply(&mut self) -> Result<Reply, QueueError> {
        let mut open: Vec<(Vec<Reply>, usize)> = Vec::new();
        loop {
            let line = self.read_line().await?;
            let header = resp::header(&line).map_err(|e| QueueError::Reply(e.to_string()))?;
            let mut done = match header {
                Header::Status(s) => Reply::Status(s),
                Header::Error(e) => Reply::Error(e),
                Header::Int(n) => Reply::Int(n),
                Header::Nil => Reply::Nil,
                Header::Bulk(len) => Reply::Bulk(self.read_bulk(len).await?),
                Header::Array(0) => Reply::Array(Vec::new()),
                Header::Array(n) => {
                    open.push((Vec::with_capacity(n.min(1024)), n));
                    continue;
                }
            };
            // Close every array this reply completes.
            loop {
                let Some((items, want)) = open.last_mut() else {
                    return Ok(done);
                };
                items.push(done);
                if items.len() < *want {
                    break;
                }
                let (items, _) = open.pop().expect("an open array was just looked at");
                done = Reply::Array(items);
            }
        }
    }

    /// A line, without its CRLF.
    async fn read_line(&mut self) -> Result<Bytes, QueueError> {
        let mut searched = 0;
        loop {
            if let Some(at) = self.buf[searched..].windows(2).position(|w| w == b"\r\n") {
                let line = self.buf.split_to(searched + at).freeze();
                self.buf.advance(2);
                return Ok(line);
            }
            if self.buf.len() > MAX_LINE_BYTES {
                return Err(QueueError::Reply("a reply line too long".into()));
            }
            searched = self.buf.len().saturating_sub(1);
            self.fill(READ_CHUNK_BYTES).await?;
        }
    }

    /// `len` bytes and the CRLF after them; the bytes are handed out
    /// without a copy (they were read in place).
    async fn read_bulk(&mut self, len: usize) -> Result<Bytes, QueueError> {
        let want = len + 2;
        if self.buf.len() < want {
            self.buf.reserve(want - self.buf.len());
            while self.buf.len() < want {
                self.fill(0).await?;
            }
        }
        let data = self.buf.split_to(len).freeze();
        if &self.buf[..2] != b"\r\n" {
            return Err(QueueError::Reply("a string not ended by CRLF".into()));
        }
        self.buf.advance(2);
        Ok(data)
    }

    /// Reads what the socket has (making room for at least `room` bytes).
    async fn fill(&mut self, room: usize) -> Result<(), QueueError> {
        if room > 0 {
            self.buf.reserve(room);
        }
        if self.io.read_buf(&mut self.buf).await? == 0 {
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
        }
        Ok(())
    }
}

fn timed_out(doing: &str) -> QueueError {
    QueueError::Io(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("redis: timed out {doing}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection to a scripted server: whatever it is sent, it answers
    /// `replies`, written in small pieces.
    async fn scripted(replies: &'static [u8]) -> RawConn {
        let (ours, mut theirs) = tokio::io::duplex(1 << 20);
        tokio::spawn(async move {
            for piece in replies.chunks(7) {
                if theirs.write_all(piece).await.is_err() {
                    return;
                }
            }
            let mut sink = Vec::new();
            let _ = theirs.read_to_end(&mut sink).await;
        });
        let settings = Client::open("redis://127.0.0.1/")
            .expect("a valid URL")
            .get_connection_info()
            .redis_settings()
            .clone();
        RawConn::over(Box::new(ours), Duration::from_secs(5), &settings)
            .await
            .expect("no hello to send")
    }

    #[tokio::test]
    async fn replies_are_read_whole_from_pieces() {
        let mut conn = scripted(
            b"+OK\r\n+QUEUED\r\n*3\r\n$15\r\n1764000000000-0\r\n$-1\r\n*2\r\n$3\r\nbow\r\n*0\r\n:7\r\n",
        )
        .await;
        let mut request = Request::default();
        for _ in 0..4 {
            request.command(&[b"PING"]);
        }
        let replies = conn.send(&request).await.expect("four replies");
        assert_eq!(
            replies,
            [
                Reply::Status("OK".into()),
                Reply::Status("QUEUED".into()),
                Reply::Array(vec![
                    Reply::Bulk(Bytes::from_static(b"1764000000000-0")),
                    Reply::Nil,
                    Reply::Array(vec![
                        Reply::Bulk(Bytes::from_static(b"bow")),
                        Reply::Array(vec![])
                    ]),
                ]),
                Reply::Int(7),
            ]
        );
    }

    #[tokio::test]
    async fn a_bad_or_cut_reply_is_an_error() {
        let mut request = Request::default();
        request.command(&[b"PING"]);
        for bad in [&b"$3\r\nabcd\r\n"[..], b"?\r\n", b"*2\r\n:1\r\n"] {
            let bad: &'static [u8] = Box::leak(bad.to_vec().into_boxed_slice());
            let mut conn = scripted(bad).await;
            conn.response_timeout = Duration::from_millis(500);
            assert!(
                conn.send(&request).await.is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
