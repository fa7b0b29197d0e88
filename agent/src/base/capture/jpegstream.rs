//! An IO-free splitter of a byte stream of concatenated JPEGs (what
//! `ffmpeg -f image2pipe -c:v mjpeg` writes): bytes go in in any chunking,
//! whole JPEGs come out. A JPEG starts at SOI (FF D8) and ends at the EOI
//! (FF D9) that [`crate::base::jpeg::inspect`] finds by walking the segments and
//! the byte-stuffed entropy data, so an FF D9 inside a header segment never
//! cuts a frame short. Bytes before an SOI are skipped; a frame that is not
//! a JPEG is reported and the splitter resynchronises on the next SOI.

use bytes::{Buf, Bytes, BytesMut};

use crate::base::jpeg::{self, JpegError};

/// The most one frame may grow before the stream is declared broken.
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    #[error("JPEG stream: no end of image within {MAX_FRAME_BYTES} bytes")]
    Oversized,
    #[error("JPEG stream: a bad frame was skipped: {0}")]
    BadFrame(JpegError),
}

#[derive(Debug, Default)]
pub struct JpegSplitter {
    buf: BytesMut,
    /// Bytes of `buf` already searched for an EOI without finding one.
    searched: usize,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl JpegSplitter {
    pub fn new() -> Self {
        Self {
            buf: BytesMut::with_capacity(256 * 1024),
            searched: 0,
        }
    }

    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next whole JPEG, if the buffer holds one.
    pub fn next_frame(&mut self) -> Option<Result<Bytes, SplitError>> {
        // Drop anything before the first SOI (keep a trailing FF: it
        // may be the first half of one).
        match find(&self.buf, &[0xFF, 0xD8]) {
            Some(0) => {}
            Some(start) => {
                self.buf.advance(start);
                self.searched = 0;
            }
            None => {
                let keep = usize::from(self.buf.last() == Some(&0xFF));
                let drop = self.buf.len() - keep;
                self.buf.advance(drop);
                self.searched = 0;
                return None;
            }
        }
        // Walk the JPEG only once an EOI marker could be in the buffer.
        let from = self.searched.saturating_sub(1).max(2);
        if self.buf.len() < 4 || find(&self.buf[from..], &[0xFF, 0xD9]).is_none() {
            self.searched = self.buf.len();
            return self.check_size();
        }
        match jpeg::inspect(&self.buf) {
            Ok(info) => {
                self.searched = 0;
                Some(Ok(self.buf.split_to(info.len).freeze()))
            }
            Err(JpegError::Truncated { .. } | JpegError::NoEoi) => {
                self.searched = self.buf.len();
                self.check_size()
            }
            Err(e) => {
                // Resynchronise on the next SOI.
                self.buf.advance(2);
                self.searched = 0;
                Some(Err(SplitError::BadFrame(e)))
            }
        }
    }

    fn check_size(&mut self) -> Option<Result<Bytes, SplitError>> {
        if self.buf.len() > MAX_FRAME_BYTES {
            self.buf.clear();
            self.searched = 0;
            return Some(Err(SplitError::Oversized));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal valid JPEG whose DQT holds FF D9 (not an EOI) and whose
    /// entropy data holds stuffed FF 00 and a restart marker.
    fn jpeg(tag: u8) -> Vec<u8> {
        let mut j = vec![0xFF, 0xD8];
        j.extend_from_slice(&[0xFF, 0xDB, 0x00, 0x06, 0x00, 0xFF, 0xD9, tag]);
        j.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x10, 0x00, 0x10, 0x01]);
        j.extend_from_slice(&[0x01, 0x11, 0x00]);
        j.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00]);
        j.extend_from_slice(&[0x12, 0xFF, 0x00, tag, 0xFF, 0xD0, 0x34]);
        j.extend_from_slice(&[0xFF, 0xD9]);
        j
    }

    fn split(data: &[u8], chunk: usize) -> (Vec<Vec<u8>>, usize) {
        let mut s = JpegSplitter::new();
        let (mut frames, mut errors) = (Vec::new(), 0);
        for c in data.chunks(chunk) {
            s.push(c);
            while let Some(f) = s.next_frame() {
                match f {
                    Ok(f) => frames.push(f.to_vec()),
                    Err(_) => errors += 1,
                }
            }
        }
        (frames, errors)
    }

    #[test]
    fn frames_come_out_whole_in_any_chunking() {
        let frames: Vec<Vec<u8>> = (0..5).map(jpeg).collect();
        let mut data = b"junk before".to_vec();
        for f in &frames {
            data.extend_from_slice(f);
        }
        for chunk in [1, 2, 3, 5, 17, data.len()] {
            assert_eq!(split(&data, chunk), (frames.clone(), 0), "chunk {chunk}");
        }
    }

    #[test]
    fn a_broken_frame_is_skipped_and_the_next_one_found() {
        let mut data = vec![0xFF, 0xD8, 0xFF, 0xD9]; // SOI EOI: no frame header
        data.extend_from_slice(&jpeg(7));
        let (frames, errors) = split(&data, 4);
        assert_eq!(frames, vec![jpeg(7)]);
        assert_eq!(errors, 1);
    }

    #[test]
    fn an_endless_frame_is_bounded() {
        let mut s = JpegSplitter::new();
        s.push(&[0xFF, 0xD8, 0xFF, 0xDB, 0x00, 0x04, 0x00, 0x00]);
        s.push(&[0xFF, 0xC0]);
        let junk = vec![0u8; 1024 * 1024];
        let mut oversized = false;
        for _ in 0..20 {
            s.push(&junk);
            if let Some(Err(SplitError::Oversized)) = s.next_frame() {
                oversized = true;
            }
        }
        assert!(oversized);
        assert!(s.buf.len() <= MAX_FRAME_BYTES + junk.len());
    }
}
