//! Bytes in, NMEA sentences out: the IO-free framer every byte-stream
//! source (serial, TCP, UDP) reads through. It finds `$` (and `!`)
//! anywhere — after binary on the same line too — skips u-blox UBX frames
//! and other binary, bounds a sentence at [`MAX_LINE_BYTES`], and names
//! every run of bytes it refuses ([`Refusal`]) so that each is counted.
//!
//! Like gpsd's packet lexer, a UBX header whose frame then fails its
//! checksum gives back all but its first byte to be scanned again: a
//! sentence swallowed by a false `0xB5 0x62` is not lost.

use std::collections::VecDeque;

use crate::base::gps::nmea::MAX_LINE_BYTES;

/// UBX frames: sync `0xB5 0x62`, class, id, u16 LE payload length,
/// payload, two Fletcher checksum bytes.
const UBX_SYNC: [u8; 2] = [0xB5, 0x62];
const UBX_HEADER_BYTES: usize = 6;
/// The longest UBX payload believed (gpsd allows about 9 KB; u-blox's
/// longest periodic messages, RXM-RAWX and NAV-SAT, stay under 4 KB). A
/// longer length field is junk that happened to start with the sync bytes.
const MAX_UBX_PAYLOAD_BYTES: usize = 8192;

/// What the framer refused, for the skip counters (`/api/v1/status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A whole UBX frame with a good checksum (u-blox binary output).
    Ubx,
    /// `0xB5 0x62` and a header, but the frame's checksum failed; the
    /// bytes after the first were scanned again.
    UbxBadChecksum,
    /// A run of bytes outside any sentence or frame (binary of another
    /// protocol, line noise, a text line without `$`).
    Binary,
    /// A sentence cut short by a new `$`/`!` or by a byte that cannot be in
    /// a sentence (binary on the line).
    Interrupted,
    /// A sentence with no line end within [`MAX_LINE_BYTES`]; the rest of
    /// the line is dropped with it.
    TooLong,
}

impl Refusal {
    /// The counter's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ubx => "ubx_frame",
            Self::UbxBadChecksum => "ubx_bad_checksum",
            Self::Binary => "binary",
            Self::Interrupted => "interrupted",
            Self::TooLong => "too_long",
        }
    }
}

/// What the framer hands on.
#[derive(Debug, PartialEq, Eq)]
pub enum Framed<'a> {
    /// From `$`/`!` to the byte before the line end, for [`super::nmea::parse`].
    Sentence(&'a [u8]),
    Refused(Refusal),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between sentences; `in_junk` once a refused run has been counted,
    /// so that the rest of the run is not counted again.
    Idle {
        in_junk: bool,
    },
    Sentence,
    /// A UBX frame; `after_junk` if it began inside a counted junk run.
    Ubx {
        after_junk: bool,
    },
}

/// The framer; holds at most one sentence or one UBX frame.
#[derive(Debug)]
pub struct Framer {
    state: State,
    /// The sentence, or the UBX frame, so far.
    buf: Vec<u8>,
    /// Bytes given back by a failed UBX frame, scanned before new input.
    rescan: VecDeque<u8>,
}

impl Default for Framer {
    fn default() -> Self {
        Self {
            state: State::Idle { in_junk: false },
            // Grows to one sentence (or frame) on first use; a default
            // framer allocates nothing (the feed swaps one in while it reads).
            buf: Vec::new(),
            rescan: VecDeque::new(),
        }
    }
}

fn is_line_end(b: u8) -> bool {
    matches!(b, b'\r' | b'\n')
}

/// Bytes a sentence may hold between its start and its line end.
fn is_sentence_byte(b: u8) -> bool {
    (0x20..0x7F).contains(&b)
}

impl Framer {
    /// Feeds bytes as they were read (any split); calls `each` with every
    /// sentence and every refusal, in stream order.
    pub fn push(&mut self, bytes: &[u8], mut each: impl FnMut(Framed<'_>)) {
        for &b in bytes {
            self.step(b, &mut each);
            while let Some(again) = self.rescan.pop_front() {
                self.step(again, &mut each);
            }
        }
    }

    fn step(&mut self, b: u8, each: &mut impl FnMut(Framed<'_>)) {
        match self.state {
            State::Idle { in_junk } => self.idle(b, in_junk, each),
            State::Sentence => self.sentence(b, each),
            State::Ubx { after_junk } => self.ubx(b, after_junk, each),
        }
    }

    fn start(&mut self, state: State, b: u8) {
        self.state = state;
        self.buf.clear();
        self.buf.push(b);
    }

    fn idle(&mut self, b: u8, in_junk: bool, each: &mut impl FnMut(Framed<'_>)) {
        match b {
            b'$' | b'!' => self.start(State::Sentence, b),
            _ if b == UBX_SYNC[0] => self.start(
                State::Ubx {
                    after_junk: in_junk,
                },
                b,
            ),
            // Line ends, and the padding some multiplexers send, between sentences.
            b'\r' | b'\n' | b' ' | b'\0' => {}
            _ => {
                if !in_junk {
                    each(Framed::Refused(Refusal::Binary));
                }
                self.state = State::Idle { in_junk: true };
            }
        }
    }

    fn sentence(&mut self, b: u8, each: &mut impl FnMut(Framed<'_>)) {
        if is_line_end(b) {
            each(Framed::Sentence(&self.buf));
            self.state = State::Idle { in_junk: false };
        } else if b == b'$' && self.buf == b"$" {
            // Some receivers (ST Teseo) double the leading `$`.
        } else if b == b'$' || b == b'!' || b == UBX_SYNC[0] || !is_sentence_byte(b) {
            each(Framed::Refused(Refusal::Interrupted));
            self.state = State::Idle { in_junk: true };
            self.idle(b, true, each);
        } else if self.buf.len() >= MAX_LINE_BYTES {
            each(Framed::Refused(Refusal::TooLong));
            self.state = State::Idle { in_junk: true };
        } else {
            self.buf.push(b);
        }
    }

    fn ubx(&mut self, b: u8, after_junk: bool, each: &mut impl FnMut(Framed<'_>)) {
        self.buf.push(b);
        let len = self.buf.len();
        let junk = (!after_junk).then_some(Refusal::Binary);
        if len == 2 && b != UBX_SYNC[1] {
            return self.give_back(junk, each);
        }
        if len < UBX_HEADER_BYTES {
            return;
        }
        let payload = usize::from(u16::from_le_bytes([self.buf[4], self.buf[5]]));
        if payload > MAX_UBX_PAYLOAD_BYTES {
            return self.give_back(junk, each);
        }
        if len < UBX_HEADER_BYTES + payload + 2 {
            return;
        }
        let (a, b) = fletcher(&self.buf[2..len - 2]);
        if [a, b] == self.buf[len - 2..] {
            each(Framed::Refused(Refusal::Ubx));
            self.state = State::Idle { in_junk: false };
        } else {
            self.give_back(Some(Refusal::UbxBadChecksum), each);
        }
    }

    /// Not a UBX frame after all: count it (unless its junk run was
    /// counted already), and scan again everything but the first byte.
    fn give_back(&mut self, why: Option<Refusal>, each: &mut impl FnMut(Framed<'_>)) {
        if let Some(why) = why {
            each(Framed::Refused(why));
        }
        for &b in self.buf[1..].iter().rev() {
            self.rescan.push_front(b);
        }
        self.buf.clear();
        self.state = State::Idle { in_junk: true };
    }
}

/// The UBX checksum: 8-bit Fletcher over class, id, length and payload.
pub fn fletcher(bytes: &[u8]) -> (u8, u8) {
    bytes.iter().fold((0u8, 0u8), |(a, b), &x| {
        let a = a.wrapping_add(x);
        (a, b.wrapping_add(a))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    enum Out {
        S(String),
        R(Refusal),
    }

    fn frame(chunks: &[&[u8]]) -> Vec<Out> {
        let mut f = Framer::default();
        let mut out = Vec::new();
        for c in chunks {
            f.push(c, |x| {
                out.push(match x {
                    Framed::Sentence(s) => Out::S(String::from_utf8_lossy(s).into_owned()),
                    Framed::Refused(r) => Out::R(r),
                })
            });
        }
        out
    }

    fn ubx(class: u8, id: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0xB5, 0x62, class, id];
        v.extend((payload.len() as u16).to_le_bytes());
        v.extend(payload);
        let (a, b) = fletcher(&v[2..]);
        v.extend([a, b]);
        v
    }

    fn s(x: &str) -> Out {
        Out::S(x.into())
    }

    #[test]
    fn a_sentence_split_across_reads_is_read_whole() {
        assert_eq!(
            frame(&[b"$GPGGA,1", b"2*3", b"4\r", b"\n$GPZDA*00\n"]),
            [s("$GPGGA,12*34"), s("$GPZDA*00")]
        );
    }

    #[test]
    fn ubx_frames_between_sentences_are_skipped_and_counted() {
        let frame1 = ubx(0x01, 0x07, &[0x55; 92]); // NAV-PVT-sized
        let mut bytes = b"$GPGGA*00\r\n".to_vec();
        bytes.extend(&frame1);
        bytes.extend(b"$GPRMC*01\r\n");
        bytes.extend(ubx(0x05, 0x01, &[0x06, 0x01]));
        // Split in the middle of the first frame and of its length field.
        let cut = 11 + 5;
        assert_eq!(
            frame(&[&bytes[..cut], &bytes[cut..]]),
            [
                s("$GPGGA*00"),
                Out::R(Refusal::Ubx),
                s("$GPRMC*01"),
                Out::R(Refusal::Ubx)
            ]
        );
    }

    #[test]
    fn a_sentence_after_binary_on_the_same_line_is_read() {
        assert_eq!(
            frame(&[b"\x01\xfe\x80junk$GPGLL*02\n"]),
            [Out::R(Refusal::Binary), s("$GPGLL*02")]
        );
        // A sentence cut by binary is refused; the one after is read.
        assert_eq!(
            frame(&[b"$GPGGA,12\x02\x03$GPGLL*02\n"]),
            [Out::R(Refusal::Interrupted), s("$GPGLL*02")]
        );
        assert_eq!(
            frame(&[b"$GPGGA,12$GPGLL*02\n$$GPZDA*00\n"]),
            [Out::R(Refusal::Interrupted), s("$GPGLL*02"), s("$GPZDA*00")]
        );
    }

    #[test]
    fn a_false_ubx_sync_gives_its_bytes_back() {
        // A bad checksum: the sentence inside the would-be payload is read.
        let mut bytes = vec![0xB5, 0x62, 0x01, 0x07, 12, 0];
        bytes.extend(b"$GPGLL*02\r\n");
        bytes.extend(b"$GPZDA*00\n");
        assert_eq!(
            frame(&[&bytes]),
            [
                Out::R(Refusal::UbxBadChecksum),
                s("$GPGLL*02"),
                s("$GPZDA*00")
            ]
        );
        // An implausible length, or no second sync byte.
        assert_eq!(
            frame(&[b"\xb5\x62\x01\x07\xff\xff$GPGLL*02\n\xb5$GPZDA*00\n"]),
            [
                Out::R(Refusal::Binary),
                s("$GPGLL*02"),
                Out::R(Refusal::Binary),
                s("$GPZDA*00")
            ]
        );
    }

    #[test]
    fn an_overlong_line_is_refused_and_memory_stays_bounded() {
        let mut f = Framer::default();
        let mut out = Vec::new();
        let mut long = b"$GPGGA,".to_vec();
        long.extend(vec![b'1'; 100_000]);
        long.extend(b"\n$GPZDA*00\n");
        f.push(&long, |x| out.push(format!("{x:?}")));
        assert_eq!(
            out,
            [
                "Refused(TooLong)",
                "Sentence([36, 71, 80, 90, 68, 65, 42, 48, 48])"
            ]
        );
        assert!(f.buf.capacity() <= 2 * (MAX_LINE_BYTES + 1));
        // Runaway binary: one refusal, nothing held.
        let mut out = Vec::new();
        f.push(&vec![0x07; 100_000], |x| out.push(format!("{x:?}")));
        assert_eq!(out, ["Refused(Binary)"]);
        assert!(f.rescan.is_empty() && f.buf.len() <= MAX_LINE_BYTES);
    }

    #[test]
    fn the_ubx_checksum_is_fletcher_8() {
        // UBX-ACK-ACK for CFG-MSG, from the u-blox protocol description.
        assert_eq!(
            ubx(0x05, 0x01, &[0x06, 0x01]),
            [0xB5, 0x62, 0x05, 0x01, 0x02, 0x00, 0x06, 0x01, 0x0F, 0x38]
        );
    }
}
