//! A live JPEG source for the fake cameras: ffmpeg's `testsrc` (a moving
//! pattern with a frame counter) encoded as JPEG at a real-time pace, split
//! into frames here and published as the newest one. Owns its ffmpeg
//! (killed on drop); knows nothing of HTTP.

use std::io::Read;
use std::process::Command;
use std::time::Duration;

use anyhow::Result;
use axum::body::Bytes;
use tokio::sync::watch;

use crate::process::{Child, require_binary};

/// One encoded frame and its number (1, 2, ...).
#[derive(Clone)]
pub(crate) struct Shot {
    pub index: u64,
    pub jpeg: Bytes,
}

impl std::fmt::Debug for Shot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Shot #{} ({} bytes)", self.index, self.jpeg.len())
    }
}

/// ffmpeg encoding the test pattern; the newest frame in a watch channel
/// (which closes when ffmpeg ends).
#[derive(Debug)]
pub(crate) struct JpegFeed {
    _ffmpeg: Child,
    newest: watch::Receiver<Option<Shot>>,
}

impl JpegFeed {
    /// `width`×`height` at `fps`, for `run` at most (then ffmpeg ends).
    pub fn start(width: u32, height: u32, fps: u32, run: Duration) -> Result<Self> {
        require_binary("ffmpeg", "ffmpeg")?;
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-hide_banner", "-nostdin", "-loglevel", "error", "-re"])
            .args(["-f", "lavfi", "-i"])
            .arg(format!("testsrc=size={width}x{height}:rate={fps}"))
            .args(["-t", &run.as_secs().to_string()])
            .args(["-c:v", "mjpeg", "-q:v", "5", "-f", "image2pipe", "pipe:1"]);
        let (ffmpeg, stdout) = Child::spawn_reading(cmd, "ffmpeg (test pattern)")?;
        let (tx, newest) = watch::channel(None);
        std::thread::spawn(move || split_frames(stdout, &tx));
        Ok(Self {
            _ffmpeg: ffmpeg,
            newest,
        })
    }

    /// A receiver of the newest frame.
    pub fn subscribe(&self) -> watch::Receiver<Option<Shot>> {
        self.newest.clone()
    }
}

/// Reads ffmpeg's output to its end, publishing every whole JPEG.
fn split_frames(mut out: impl Read, tx: &watch::Sender<Option<Shot>>) {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut index = 0;
    loop {
        let n = match out.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        loop {
            match next_jpeg(&buf) {
                Cut::Frame { start, end } => {
                    index += 1;
                    let jpeg = Bytes::copy_from_slice(&buf[start..end]);
                    tx.send_replace(Some(Shot { index, jpeg }));
                    buf.drain(..end);
                }
                Cut::Skip(n) => {
                    buf.drain(..n);
                }
                Cut::NeedMore => break,
            }
        }
    }
}

/// What [`next_jpeg`] found at the front of a buffer.
#[derive(Debug, PartialEq, Eq)]
enum Cut {
    /// A whole JPEG at `start..end`.
    Frame { start: usize, end: usize },
    /// `n` bytes that are not (or cannot start) a JPEG.
    Skip(usize),
    /// A JPEG has started but not ended yet.
    NeedMore,
}

/// Finds the first whole JPEG in `buf` by walking its segments (so that
/// bytes `FF D9` inside a table are not taken for its end): after SOS, the
/// entropy-coded data runs to the first marker that is neither a stuffed
/// `FF 00` nor a restart marker.
fn next_jpeg(buf: &[u8]) -> Cut {
    let Some(start) = buf.windows(2).position(|w| w == [0xFF, 0xD8]) else {
        // Keep a last FF: it may be the first half of an SOI.
        let keep = usize::from(buf.last() == Some(&0xFF));
        return if buf.len() > keep {
            Cut::Skip(buf.len() - keep)
        } else {
            Cut::NeedMore
        };
    };
    if start > 0 {
        return Cut::Skip(start);
    }
    let mut i = 2;
    loop {
        let (Some(&ff), Some(&marker)) = (buf.get(i), buf.get(i + 1)) else {
            return Cut::NeedMore;
        };
        if ff != 0xFF {
            return Cut::Skip(2); // not a JPEG after all: look for the next SOI
        }
        match marker {
            0xFF => i += 1, // fill byte
            0xD9 => return Cut::Frame { start, end: i + 2 },
            0x01 | 0xD0..=0xD7 => i += 2,
            _ => {
                let Some(len) = buf.get(i + 2..i + 4) else {
                    return Cut::NeedMore;
                };
                i += 2 + usize::from(u16::from_be_bytes([len[0], len[1]]));
                if marker == 0xDA {
                    // Entropy-coded data up to the next real marker.
                    loop {
                        let (Some(&a), Some(&b)) = (buf.get(i), buf.get(i + 1)) else {
                            return Cut::NeedMore;
                        };
                        if a == 0xFF && b != 0x00 && !(0xD0..=0xD7).contains(&b) {
                            break;
                        }
                        i += 1;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal JPEG-shaped byte string: SOI, a table holding `FF D9`,
    /// SOS, data with a stuffed byte and a restart marker, EOI.
    fn fake_jpeg() -> Vec<u8> {
        let mut j = vec![0xFF, 0xD8];
        j.extend([0xFF, 0xDB, 0x00, 0x06, 0x00, 0xFF, 0xD9, 0x01]);
        j.extend([0xFF, 0xDA, 0x00, 0x03, 0x01]);
        j.extend([0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD3, 0x56]);
        j.extend([0xFF, 0xD9]);
        j
    }

    #[test]
    fn a_whole_jpeg_is_cut_at_its_real_end() {
        let j = fake_jpeg();
        let mut buf = b"noise".to_vec();
        buf.extend(&j);
        buf.extend(&j[..4]);
        assert_eq!(next_jpeg(&buf), Cut::Skip(5));
        let buf = buf.split_off(5);
        assert_eq!(
            next_jpeg(&buf),
            Cut::Frame {
                start: 0,
                end: j.len()
            }
        );
        assert_eq!(next_jpeg(&buf[j.len()..]), Cut::NeedMore);
        assert_eq!(next_jpeg(&j[..j.len() - 1]), Cut::NeedMore);
    }

    #[test]
    fn frames_of_a_pipe_come_out_whole_and_numbered() {
        let mut stream = Vec::new();
        for _ in 0..3 {
            stream.extend(fake_jpeg());
        }
        let (tx, rx) = watch::channel(None);
        split_frames(std::io::Cursor::new(stream), &tx);
        let last = rx.borrow().clone().unwrap();
        assert_eq!(last.index, 3);
        assert_eq!(last.jpeg.as_ref(), fake_jpeg().as_slice());
    }
}
