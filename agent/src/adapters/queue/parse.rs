//! Reading the stream's replies: how many XADDs of a transaction added
//! their frame, and entries (XREADGROUP, XAUTOCLAIM) back into frames.

use seaframe_wire::CameraId;

use crate::adapters::queue::{Entry, QueueError};
use crate::base::clock::ClockSource;
use crate::base::frame::Frame;
use crate::base::resp::Reply;
use seaframe_wire::timestamp::Timestamp;

/// How many of a transaction's XADDs added their frame: all or none (a
/// nil reply: no stream), since they ran in one MULTI/EXEC.
pub(super) fn added_count(replies: &[Reply], expected: usize) -> Result<usize, QueueError> {
    if replies.len() != expected {
        return Err(QueueError::Reply(format!(
            "EXEC: {} XADD replies for {expected} frames",
            replies.len()
        )));
    }
    let mut added = 0;
    for reply in replies {
        match reply {
            Reply::Nil => {}
            Reply::Error(e) => return Err(QueueError::from_reply(e.clone())),
            _ => added += 1,
        }
    }
    if added != 0 && added != expected {
        return Err(QueueError::Reply(format!(
            "EXEC: {added} of {expected} XADDs added their frame"
        )));
    }
    Ok(added)
}

/// `[[id, [k, v, …]], …]` → entries; never panics on a bad reply.
pub(super) fn parse_entries(v: Reply) -> Vec<Entry> {
    let Reply::Array(items) = v else {
        return Vec::new();
    };
    items
        .into_iter()
        .filter_map(|item| {
            let Reply::Array(mut pair) = item else {
                return None;
            };
            if pair.len() != 2 {
                return None;
            }
            let fields = pair.pop()?;
            let id = pair.pop()?.into_string()?;
            let (frame, camera) = match parse_frame(fields) {
                Ok(frame) => {
                    let camera = Some(frame.camera.clone());
                    (Some(frame), camera)
                }
                Err(camera) => {
                    tracing::warn!(%id, camera = ?camera, "stream entry with unreadable fields; acking it away");
                    (None, camera)
                }
            };
            Some(Entry { id, frame, camera })
        })
        .collect()
}

/// An entry's fields → its frame (the JPEG shares the reply's buffer); or,
/// when they are unreadable, the entry's camera if at least that was
/// readable.
fn parse_frame(fields: Reply) -> Result<Frame, Option<CameraId>> {
    let Reply::Array(kv) = fields else {
        return Err(None);
    };
    let (mut cam, mut seq, mut ts, mut w, mut h, mut jpeg) = (None, None, None, None, None, None);
    let mut clock = ClockSource::System;
    let mut it = kv.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        let (Reply::Bulk(k), Reply::Bulk(v)) = (k, v) else {
            continue;
        };
        let text = std::str::from_utf8(&v).ok();
        match &k[..] {
            b"cam" => cam = text.and_then(|s| CameraId::parse(s).ok()),
            b"seq" => seq = text.and_then(|s| s.parse::<u64>().ok()),
            b"ts" => ts = text.and_then(|s| s.parse::<i64>().ok()),
            b"w" => w = text.and_then(|s| s.parse::<u32>().ok()),
            b"h" => h = text.and_then(|s| s.parse::<u32>().ok()),
            b"jpeg" => jpeg = Some(v),
            b"clk" => {
                clock = text
                    .and_then(ClockSource::parse)
                    .unwrap_or(ClockSource::System)
            }
            _ => {}
        }
    }
    match (cam, seq, ts, w, h, jpeg) {
        (Some(cam), Some(seq), Some(ts), Some(w), Some(h), Some(jpeg)) => Ok(Frame::new(
            cam,
            seq,
            Timestamp::from_unix_nanos(ts),
            clock,
            w,
            h,
            jpeg,
        )),
        (cam, ..) => Err(cam),
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    #[test]
    fn bad_entries_parse_to_none_without_panicking() {
        let bulk = |s: &str| Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()));
        let entries = parse_entries(Reply::Array(vec![
            Reply::Array(vec![
                bulk("1-0"),
                Reply::Array(vec![bulk("cam"), bulk("../x")]),
            ]),
            Reply::Array(vec![bulk("2-0"), Reply::Nil]),
            Reply::Int(3),
            Reply::Array(vec![
                bulk("4-0"),
                Reply::Array(vec![bulk("cam"), bulk("deck"), bulk("seq"), bulk("x")]),
            ]),
            Reply::Array(vec![
                bulk("5-0"),
                Reply::Array(
                    [
                        ("cam", "deck"),
                        ("seq", "7"),
                        ("ts", "1764000000000000000"),
                        ("w", "4"),
                        ("h", "2"),
                        ("jpeg", "\u{ff}\u{d8}"),
                    ]
                    .iter()
                    .flat_map(|(k, v)| [bulk(k), bulk(v)])
                    .collect(),
                ),
            ]),
        ]));
        let ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["1-0", "2-0", "4-0", "5-0"]);
        assert!(entries[..3].iter().all(|e| e.frame.is_none()));
        let cameras: Vec<Option<&str>> = entries
            .iter()
            .map(|e| e.camera.as_ref().map(CameraId::as_str))
            .collect();
        assert_eq!(cameras, [None, None, Some("deck"), Some("deck")]);
        let good = entries[3].frame.as_ref().expect("a whole entry parses");
        assert_eq!((good.seq, good.width, good.height), (7, 4, 2));
        assert_eq!(good.captured_at.unix_nanos(), 1_764_000_000_000_000_000);
    }
}
