//! The Redis stream between capture and storage (docs/design.md "Stages").
//!
//! One stream for all cameras, one consumer group. Frames are added by plain
//! XADDs followed, in the same MULTI/EXEC, by a Lua script that trims the
//! oldest entries *not yet delivered* to the group (fresh frames win;
//! pending entries belong to a worker) and reports their cameras, so every
//! trimmed frame is counted exactly. The JPEGs stay out of Lua: passing them
//! through a script cost three times the CPU of the XADD itself. Workers read
//! with XREADGROUP, take over entries of dead consumers with XAUTOCLAIM, and
//! XACK + XDEL once stored. The producer and each worker own a [`RawConn`],
//! which moves JPEGs between the socket and `Bytes` without copying them.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use redis::Client;
use seaframe_wire::CameraId;

use crate::base::frame::Frame;
use crate::base::metrics::Metrics;

mod parse;
mod raw;

use parse::{added_count, parse_entries};

use crate::base::resp::{Reply, Request};
pub use raw::RawConn;

/// The stream all cameras share.
pub const STREAM_KEY: &str = "seaframe:frames";
/// The consumer group of the storage workers.
pub const GROUP: &str = "store";
/// Frames per add (one MULTI/EXEC).
pub const ADD_BATCH_FRAMES: usize = 8;
/// XAUTOCLAIM calls per claim (each scans `10 × COUNT` pending entries).
const MAX_CLAIM_ROUNDS: usize = 64;
/// How long a command may take before the connection is deemed broken.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs after a batch's XADDs, in the same MULTI/EXEC: checks the group,
/// then deletes the oldest entries *not yet delivered* (never the newest)
/// until the stream is back under `maxlen`, and returns their cameras. The
/// JPEGs never pass through Lua: only a trimmed entry is read into it.
const TRIM_SCRIPT: &str = r"
local key, group, maxlen = KEYS[1], ARGV[1], tonumber(ARGV[2])
local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', key)
local last = nil
if ok then
  for _, g in ipairs(groups) do
    local name, delivered
    for i = 1, #g, 2 do
      if g[i] == 'name' then name = g[i + 1] elseif g[i] == 'last-delivered-id' then delivered = g[i + 1] end
    end
    if name == group then last = delivered end
  end
end
if not last then
  return redis.error_reply('NOGROUP the consumer group is missing')
end
local trimmed = {}
local len = redis.call('XLEN', key)
if len <= maxlen then
  return trimmed
end
local newest = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)[1][1]
while len > maxlen do
  local oldest = redis.call('XRANGE', key, '(' .. last, '+', 'COUNT', 1)
  if #oldest == 0 or oldest[1][1] == newest then break end
  local fields, cam = oldest[1][2], ''
  for i = 1, #fields, 2 do
    if fields[i] == 'cam' then cam = fields[i + 1] end
  end
  redis.call('XDEL', key, oldest[1][1])
  trimmed[#trimmed + 1] = cam
  len = len - 1
end
return trimmed
";

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// Redis answered that the group is gone: it restarted empty.
    #[error("the consumer group is missing (Redis restarted empty?)")]
    NoGroup,
    /// The URL does not parse.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("unexpected reply from redis: {0}")]
    Reply(String),
    /// An error reply (other than NOGROUP).
    #[error("redis answered: {0}")]
    Server(String),
    #[error("redis connection: {0}")]
    Io(#[from] std::io::Error),
}

impl QueueError {
    /// An error reply: NOGROUP (the group, or the whole stream, is gone) or
    /// any other.
    fn from_reply(message: String) -> Self {
        if message.starts_with("NOGROUP") {
            Self::NoGroup
        } else {
            Self::Server(message)
        }
    }
}

/// A stream entry read by a worker.
#[derive(Debug)]
pub struct Entry {
    pub id: String,
    /// `None` when the entry's fields were unreadable (it is acked away).
    pub frame: Option<Frame>,
    /// The entry's camera when its `cam` field was readable, even if the
    /// rest was not: an unreadable entry is counted `failed` on it.
    pub camera: Option<CameraId>,
}

/// The queue's shared handle: cheap to clone.
#[derive(Debug, Clone)]
pub struct Queue {
    client: Client,
    max_len: u64,
    pub(crate) metrics: Arc<Metrics>,
    recovering: Arc<tokio::sync::Mutex<()>>,
}

impl Queue {
    /// A handle for `url` (`redis://…` or `unix:///…`); connects lazily.
    pub fn new(url: &str, max_len: u64, metrics: Arc<Metrics>) -> Result<Self, QueueError> {
        Ok(Self {
            client: Client::open(url)?,
            max_len,
            metrics,
            recovering: Arc::default(),
        })
    }

    /// A new connection (see [`RawConn`]) whose replies must come within
    /// `response_timeout` (a blocking read needs more than its block time).
    pub async fn connect(&self, response_timeout: Duration) -> Result<RawConn, QueueError> {
        RawConn::connect(&self.client, Duration::from_secs(3), response_timeout).await
    }

    /// Creates the group (and the stream) unless they exist. Returns whether
    /// it had to create the group, i.e. whether this Redis was empty.
    pub async fn ensure_group(&self, conn: &mut RawConn) -> Result<bool, QueueError> {
        let mut create = Request::default();
        create.command(&[
            b"XGROUP",
            b"CREATE",
            STREAM_KEY.as_bytes(),
            GROUP.as_bytes(),
            b"0",
            b"MKSTREAM",
        ]);
        match conn.send(&create).await?.pop() {
            Some(Reply::Status(_)) => Ok(true),
            Some(r @ Reply::Error(_)) if r.error_code() == Some("BUSYGROUP") => Ok(false),
            Some(Reply::Error(e)) => Err(QueueError::Server(e)),
            other => Err(QueueError::Reply(format!("XGROUP CREATE: {other:?}"))),
        }
    }

    /// After a NOGROUP: recreate the group once and count as `lost`, per
    /// camera, what was enqueued and is neither stored, trimmed, failed,
    /// already lost nor held by a worker (docs/design.md "Accounting").
    pub async fn recover_group(&self, conn: &mut RawConn) -> Result<(), QueueError> {
        let _one_at_a_time = self.recovering.lock().await;
        if self.ensure_group(conn).await? {
            for cam in self.metrics.cameras() {
                let accounted = cam.stored.load(Ordering::Relaxed)
                    + cam.trimmed.load(Ordering::Relaxed)
                    + cam.failed.load(Ordering::Relaxed)
                    + cam.lost.load(Ordering::Relaxed)
                    + cam.in_flight.load(Ordering::Relaxed);
                let lost = cam
                    .enqueued
                    .load(Ordering::Relaxed)
                    .saturating_sub(accounted);
                if lost > 0 {
                    cam.lost.fetch_add(lost, Ordering::Relaxed);
                    tracing::warn!(camera = %cam.id, lost, "Redis restarted empty: frames it held are lost");
                }
            }
        }
        Ok(())
    }

    /// The producer's connection.
    pub async fn connect_producer(&self) -> Result<RawConn, QueueError> {
        self.connect(RESPONSE_TIMEOUT).await
    }

    /// Adds frames (trimming as needed); counts `enqueued` and `trimmed`.
    ///
    /// Each chunk is one MULTI/EXEC: its XADDs (`NOMKSTREAM`: a Redis that
    /// restarted empty has no stream, and then nothing is added), then the
    /// trim script. If the group is missing while the stream is there, the
    /// frames did go in: the group is recreated (at `0`, so that they are
    /// delivered) instead of the frames being added twice. The JPEGs go
    /// from the frames' buffers to the socket without a copy.
    pub async fn add(&self, conn: &mut RawConn, frames: &[Frame]) -> Result<(), QueueError> {
        let max_len = self.max_len.to_string();
        for chunk in frames.chunks(ADD_BATCH_FRAMES) {
            let mut request = Request::default();
            request.command(&[b"MULTI"]);
            for f in chunk {
                let (seq, ts) = (f.seq.to_string(), f.captured_at.unix_nanos().to_string());
                let (w, h) = (f.width.to_string(), f.height.to_string());
                request.command_with_payload(
                    &[
                        b"XADD",
                        STREAM_KEY.as_bytes(),
                        b"NOMKSTREAM",
                        b"*",
                        b"cam",
                        f.camera.as_str().as_bytes(),
                        b"seq",
                        seq.as_bytes(),
                        b"ts",
                        ts.as_bytes(),
                        b"w",
                        w.as_bytes(),
                        b"h",
                        h.as_bytes(),
                        b"clk",
                        f.clock.as_str().as_bytes(),
                        b"jpeg",
                    ],
                    f.jpeg.clone(),
                );
            }
            request.command(&[
                b"EVAL",
                TRIM_SCRIPT.as_bytes(),
                b"1",
                STREAM_KEY.as_bytes(),
                GROUP.as_bytes(),
                max_len.as_bytes(),
            ]);
            request.command(&[b"EXEC"]);
            let mut replies = conn.send(&request).await?;
            let exec = replies.pop();
            if let Some(Reply::Error(e)) =
                replies.into_iter().find(|r| matches!(r, Reply::Error(_)))
            {
                // A command refused before EXEC: the transaction was aborted.
                return Err(QueueError::from_reply(e));
            }
            let mut results = match exec {
                Some(Reply::Array(results)) => results,
                Some(Reply::Error(e)) => return Err(QueueError::from_reply(e)),
                other => return Err(QueueError::Reply(format!("EXEC: {other:?}"))),
            };
            let trim = results
                .pop()
                .ok_or_else(|| QueueError::Reply("EXEC: no reply to the trim script".into()))?;
            let added = added_count(&results, chunk.len())?;
            if added == 0 {
                // No stream: Redis restarted empty. Nothing went in.
                return Err(match trim {
                    Reply::Error(e) => QueueError::from_reply(e),
                    _ => QueueError::NoGroup,
                });
            }
            let trimmed = match trim {
                Reply::Error(e) => {
                    let e = QueueError::from_reply(e);
                    if matches!(e, QueueError::NoGroup) {
                        // Before counting the chunk: it is in the stream, not lost.
                        self.recover_group(conn).await?;
                    } else {
                        tracing::warn!(
                            "the frames went in but trimming failed (the next add trims): {e}"
                        );
                    }
                    Vec::new()
                }
                Reply::Array(cams) => cams.into_iter().filter_map(Reply::into_string).collect(),
                other => return Err(QueueError::Reply(format!("trim script: {other:?}"))),
            };
            for f in chunk {
                self.metrics
                    .camera(&f.camera)
                    .enqueued
                    .fetch_add(1, Ordering::Relaxed);
            }
            for cam in trimmed {
                match CameraId::parse(&cam) {
                    Ok(id) => self
                        .metrics
                        .camera(&id)
                        .trimmed
                        .fetch_add(1, Ordering::Relaxed),
                    Err(_) => {
                        tracing::warn!(camera = %cam, "trimmed an entry of an unknown camera");
                        0
                    }
                };
            }
        }
        Ok(())
    }

    /// Entries never delivered before (`>`), waiting up to `block_ms`.
    pub async fn read_new(
        &self,
        conn: &mut RawConn,
        consumer: &str,
        count: usize,
        block_ms: u64,
    ) -> Result<Vec<Entry>, QueueError> {
        self.read_group(conn, consumer, count, Some(block_ms), ">")
            .await
    }

    /// Entries delivered to `consumer` and not acked (after a restart, a
    /// worker first takes back its own).
    pub async fn read_own_pending(
        &self,
        conn: &mut RawConn,
        consumer: &str,
        count: usize,
    ) -> Result<Vec<Entry>, QueueError> {
        self.read_group(conn, consumer, count, None, "0").await
    }

    async fn read_group(
        &self,
        conn: &mut RawConn,
        consumer: &str,
        count: usize,
        block_ms: Option<u64>,
        id: &str,
    ) -> Result<Vec<Entry>, QueueError> {
        let count = count.to_string();
        let block = block_ms.map(|ms| ms.to_string());
        let mut args: Vec<&[u8]> = vec![
            b"XREADGROUP",
            b"GROUP",
            GROUP.as_bytes(),
            consumer.as_bytes(),
            b"COUNT",
            count.as_bytes(),
        ];
        if let Some(ms) = &block {
            args.extend([&b"BLOCK"[..], ms.as_bytes()]);
        }
        args.extend([&b"STREAMS"[..], STREAM_KEY.as_bytes(), id.as_bytes()]);
        let mut read = Request::default();
        read.command(&args);
        // Nil on timeout; else [[stream, [[id, [k, v, …]], …]]].
        match conn.send(&read).await?.pop() {
            Some(Reply::Nil) => Ok(Vec::new()),
            Some(Reply::Array(streams)) => Ok(streams
                .into_iter()
                .filter_map(|s| match s {
                    Reply::Array(mut kv) if kv.len() == 2 => kv.pop(),
                    _ => None,
                })
                .flat_map(parse_entries)
                .collect()),
            Some(Reply::Error(e)) => Err(QueueError::from_reply(e)),
            other => Err(QueueError::Reply(format!("XREADGROUP: {other:?}"))),
        }
    }

    /// Takes over up to `count` entries idle longer than `min_idle_ms`
    /// (their consumer died). XAUTOCLAIM scans a bounded slice of the
    /// pending list per call, so this follows its cursor until the list is
    /// covered or `count` are claimed. Entries deleted meanwhile (Redis 7
    /// reports their ids) are acked away.
    pub async fn claim_stale(
        &self,
        conn: &mut RawConn,
        consumer: &str,
        min_idle_ms: u64,
        count: usize,
    ) -> Result<Vec<Entry>, QueueError> {
        let mut cursor = "0-0".to_owned();
        let mut claimed = Vec::new();
        let min_idle = min_idle_ms.to_string();
        for _ in 0..MAX_CLAIM_ROUNDS {
            let left = (count - claimed.len()).to_string();
            let mut claim = Request::default();
            claim.command(&[
                b"XAUTOCLAIM",
                STREAM_KEY.as_bytes(),
                GROUP.as_bytes(),
                consumer.as_bytes(),
                min_idle.as_bytes(),
                cursor.as_bytes(),
                b"COUNT",
                left.as_bytes(),
            ]);
            let parts = match conn.send(&claim).await?.pop() {
                Some(Reply::Array(parts)) => parts,
                Some(Reply::Error(e)) => return Err(QueueError::from_reply(e)),
                _ => return Err(QueueError::Reply("XAUTOCLAIM: not an array".into())),
            };
            let mut parts = parts.into_iter();
            let next = parts.next().and_then(Reply::into_string);
            claimed.extend(parts.next().map(parse_entries).unwrap_or_default());
            if let Some(Reply::Array(deleted)) = parts.next() {
                let ids: Vec<String> = deleted.into_iter().filter_map(Reply::into_string).collect();
                if !ids.is_empty() {
                    tracing::debug!(
                        entries = ids.len(),
                        "acking claimed entries deleted meanwhile"
                    );
                    self.ack(conn, &ids).await?;
                }
            }
            match next {
                Some(next) if next != "0-0" && claimed.len() < count => cursor = next,
                _ => break,
            }
        }
        self.metrics
            .claimed
            .fetch_add(claimed.len() as u64, Ordering::Relaxed);
        Ok(claimed)
    }

    /// XACK + XDEL, in one round trip: the entries are done with.
    pub async fn ack(&self, conn: &mut RawConn, ids: &[String]) -> Result<(), QueueError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut done = Request::default();
        let mut xack: Vec<&[u8]> = vec![b"XACK", STREAM_KEY.as_bytes(), GROUP.as_bytes()];
        xack.extend(ids.iter().map(|id| id.as_bytes()));
        done.command(&xack);
        let mut xdel: Vec<&[u8]> = vec![b"XDEL", STREAM_KEY.as_bytes()];
        xdel.extend(ids.iter().map(|id| id.as_bytes()));
        done.command(&xdel);
        for reply in conn.send(&done).await? {
            if let Reply::Error(e) = reply {
                return Err(QueueError::from_reply(e));
            }
        }
        Ok(())
    }

    /// The stream's length (for `/metrics`).
    pub async fn len(&self, conn: &mut RawConn) -> Result<u64, QueueError> {
        let mut xlen = Request::default();
        xlen.command(&[b"XLEN", STREAM_KEY.as_bytes()]);
        match conn.send(&xlen).await?.pop() {
            Some(Reply::Int(n)) => Ok(u64::try_from(n).unwrap_or(0)),
            Some(Reply::Error(e)) => Err(QueueError::from_reply(e)),
            other => Err(QueueError::Reply(format!("XLEN: {other:?}"))),
        }
    }
}
