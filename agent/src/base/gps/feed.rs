//! Bytes or lines in, fixes out: frames the stream (`framer`), parses each
//! sentence, counts what is skipped and why, assembles epochs and records
//! their fixes, each timed by the arrival of its epoch's first sentence
//! (later sentences only add lag). Shared by serial, TCP, UDP and replay.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::base::gps::fix::{Assembler, Fix};
use crate::base::gps::framer::{Framed, Framer};
use crate::base::gps::nmea::{self, NmeaError};
use crate::base::gps::state::Gps;
use seaframe_wire::timestamp::Timestamp;

/// Maps a fix's time before it is recorded (a replay moves its log to
/// now); given the fix and the arrival of its epoch's first sentence.
pub type Rebase = Box<dyn FnMut(&mut Fix, Timestamp) + Send>;

pub struct Feed {
    gps: Arc<Gps>,
    assembler: Assembler,
    rebase: Option<Rebase>,
    framer: Framer,
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
            framer: Framer::default(),
        }
    }

    /// Bytes as read from a stream (any split): framed, each sentence fed
    /// to [`Feed::line`], each refusal counted.
    pub fn bytes(&mut self, bytes: &[u8], arrived: Timestamp) {
        // Out of `self` while it calls back into `self` (a default framer
        // allocates nothing).
        let mut framer = std::mem::take(&mut self.framer);
        framer.push(bytes, |framed| match framed {
            Framed::Sentence(line) => self.line(line, arrived),
            Framed::Refused(why) => {
                self.gps.count_skipped(why.name());
                tracing::debug!(reason = why.name(), "skipped bytes of the GPS stream");
            }
        });
        self.framer = framer;
    }

    /// One line as received; `arrived` is the system time it came in.
    pub fn line(&mut self, line: &[u8], arrived: Timestamp) {
        match nmea::parse(line) {
            Ok(Some(sentence)) => {
                self.gps.sentences.fetch_add(1, Ordering::Relaxed);
                for epoch in self.assembler.push_arrived(&sentence, Some(arrived)) {
                    self.record(epoch.fix(), epoch.arrived.unwrap_or(arrived));
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

    /// Reports the epoch in progress (the source went quiet or away);
    /// idempotent until more sentences come.
    pub fn flush(&mut self, now: Timestamp) {
        if let Some(epoch) = self.assembler.finish() {
            self.record(epoch.fix(), epoch.arrived.unwrap_or(now));
        }
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
