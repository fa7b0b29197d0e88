//! Lines in, fixes out: parses each NMEA line, counts what is skipped and
//! why, assembles epochs and records their fixes. Shared by every
//! line-based source (serial, TCP, UDP, replay).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::fix::{Assembler, Fix};
use super::nmea::{self, NmeaError};
use super::state::Gps;
use crate::timestamp::Timestamp;

/// Maps a fix's time before it is recorded (a replay moves its log to
/// now); given the fix and the arrival of its epoch's first sentence.
pub type Rebase = Box<dyn FnMut(&mut Fix, Timestamp) + Send>;

pub struct Feed {
    gps: Arc<Gps>,
    assembler: Assembler,
    rebase: Option<Rebase>,
    /// When the current epoch's first sentence arrived: the best estimate of
    /// when the receiver sent the fix (later sentences only add lag).
    epoch_arrived: Option<Timestamp>,
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed")
            .field("rebase", &self.rebase.is_some())
            .finish_non_exhaustive()
    }
}

impl Feed {
    pub fn new(gps: Arc<Gps>, rebase: Option<Rebase>) -> Self {
        Self {
            gps,
            assembler: Assembler::default(),
            rebase,
            epoch_arrived: None,
        }
    }

    /// One line as received; `arrived` is the system time it came in.
    pub fn line(&mut self, line: &[u8], arrived: Timestamp) {
        match nmea::parse(line) {
            Ok(Some(sentence)) => {
                self.gps.sentences.fetch_add(1, Ordering::Relaxed);
                if let Some(epoch) = self.assembler.push(&sentence) {
                    let epoch_arrived = self.epoch_arrived.replace(arrived).unwrap_or(arrived);
                    self.record(epoch.fix(), epoch_arrived);
                } else if self.epoch_arrived.is_none() {
                    self.epoch_arrived = Some(arrived);
                }
            }
            Ok(None) | Err(NmeaError::Empty) => {}
            Err(e) => {
                let kind = match e {
                    NmeaError::Empty => "empty",
                    NmeaError::NotNmea => "not_nmea",
                    NmeaError::TooLong => "too_long",
                    NmeaError::NoChecksum => "no_checksum",
                    NmeaError::BadChecksum { .. } => "bad_checksum",
                    NmeaError::Truncated { .. } => "truncated",
                    NmeaError::BadField { .. } => "bad_field",
                };
                self.gps.count_skipped(kind);
                tracing::debug!("skipped NMEA line: {e}");
            }
        }
    }

    /// Ends the current epoch (when the source goes quiet or away).
    pub fn flush(&mut self, arrived: Timestamp) {
        let fix = self.assembler.finish().fix();
        let epoch_arrived = self.epoch_arrived.take().unwrap_or(arrived);
        self.record(fix, epoch_arrived);
    }

    fn record(&mut self, fix: Option<Fix>, arrived: Timestamp) {
        if let Some(mut fix) = fix {
            if let Some(rebase) = self.rebase.as_mut() {
                rebase(&mut fix, arrived);
            }
            self.gps.record(fix, arrived);
        }
    }
}

/// Splits a byte stream into lines, bounding a line's length so that
/// binary garbage without newlines cannot grow memory.
#[derive(Debug, Default)]
pub struct LineSplitter {
    buf: Vec<u8>,
    overflow: bool,
}

/// Longer than any NMEA line we accept; the rest of such a line is dropped.
const MAX_BUFFERED_LINE: usize = 1024;

impl LineSplitter {
    /// Feeds bytes; calls `each` with every complete line.
    pub fn push(&mut self, bytes: &[u8], mut each: impl FnMut(&[u8])) {
        for &b in bytes {
            if b == b'\n' {
                if !self.overflow {
                    each(&self.buf);
                }
                self.buf.clear();
                self.overflow = false;
            } else if self.buf.len() < MAX_BUFFERED_LINE {
                self.buf.push(b);
            } else {
                self.overflow = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_and_runaway_garbage_is_bounded() {
        let mut s = LineSplitter::default();
        let mut got = Vec::new();
        s.push(b"$A*00\r\n$B", |l| got.push(l.to_vec()));
        s.push(b"*01\n", |l| got.push(l.to_vec()));
        s.push(&vec![b'x'; 5000], |l| got.push(l.to_vec()));
        s.push(b"\n$C*02\n", |l| got.push(l.to_vec()));
        assert_eq!(
            got,
            [b"$A*00\r".to_vec(), b"$B*01".to_vec(), b"$C*02".to_vec()]
        );
        assert!(s.buf.is_empty());
    }
}
