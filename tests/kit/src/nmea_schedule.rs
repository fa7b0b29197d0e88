//! When each byte of an NMEA capture leaves a replaying device: the pure
//! core of the kit's NMEA feeds (TCP, UDP, pseudo-terminal). No IO here but
//! reading the capture file; the feeds sleep until each [`Write::at`].
//!
//! A capture (gpsd's `.log` format) is replayed as captured, garbage and bad
//! checksums included, with `#` comment lines left out. Pacing follows a
//! real receiver: its UART sends `baud / 10` bytes a second (8N1), and each
//! epoch (a new UTC time in a fix sentence) starts one `cycle` after the
//! previous one began. gpsd's `# Delay-Cookie: C SECONDS` header makes every
//! byte `C` in the data a pause of SECONDS between two writes.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};

/// How a capture is replayed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Replay {
    /// Serial line rate; 0: no byte pacing.
    pub baud: u32,
    /// One epoch a cycle (1 s for a 1 Hz receiver); zero: no epoch pacing.
    pub cycle: Duration,
    /// Passes over the capture; 0: until `run` is over.
    pub loops: u32,
    /// How long a feed runs at most (also bounds `loops`).
    pub run: Duration,
}

impl Default for Replay {
    /// A 1 Hz receiver at 4800 baud, the capture once, 60 s at most.
    fn default() -> Self {
        Self {
            baud: 4800,
            cycle: Duration::from_secs(1),
            loops: 1,
            run: Duration::from_secs(60),
        }
    }
}

impl Replay {
    /// As fast as the epochs allow: no byte pacing, one epoch every
    /// `cycle`, looped until `run` is over.
    pub fn looped(cycle: Duration, run: Duration) -> Self {
        Self {
            baud: 0,
            cycle,
            loops: 0,
            run,
        }
    }
}

/// A capture's data lines (each with its own line end) and its delay cookie.
#[derive(Debug, Clone)]
pub struct Capture {
    lines: Vec<Vec<u8>>,
    cookie: Option<(u8, Duration)>,
}

impl Capture {
    pub fn load(path: &Path) -> Result<Self> {
        let bytes =
            std::fs::read(path).with_context(|| format!("reading capture {}", path.display()))?;
        Ok(Self::parse(&bytes))
    }

    pub fn parse(bytes: &[u8]) -> Self {
        let mut lines = Vec::new();
        let mut cookie = None;
        for line in bytes.split_inclusive(|&b| b == b'\n') {
            if let Some(header) = line.strip_prefix(b"# Delay-Cookie: ") {
                cookie = parse_cookie(header);
            }
            if !line.starts_with(b"#") {
                lines.push(line.to_vec());
            }
        }
        Self { lines, cookie }
    }

    /// The data lines, with a delay cookie's bytes removed (one datagram
    /// each, for UDP).
    pub fn sentences(&self) -> Vec<Vec<u8>> {
        self.lines
            .iter()
            .map(|l| match self.cookie {
                Some((c, _)) => l.iter().copied().filter(|&b| b != c).collect(),
                None => l.clone(),
            })
            .collect()
    }
}

/// `| 0.01` → (`|`, 10 ms).
fn parse_cookie(header: &[u8]) -> Option<(u8, Duration)> {
    let text = std::str::from_utf8(header).ok()?;
    let mut parts = text.split_whitespace();
    let cookie = parts.next()?.as_bytes();
    let seconds: f64 = parts.next()?.parse().ok()?;
    match cookie {
        [c] if seconds.is_finite() && seconds >= 0.0 => {
            Some((*c, Duration::from_secs_f64(seconds)))
        }
        _ => None,
    }
}

/// The UTC time field (`hhmmss.ss`) of a fix sentence, which marks its epoch.
fn epoch_of(line: &[u8]) -> Option<&[u8]> {
    if !matches!(line.first(), Some(b'$' | b'!')) {
        return None;
    }
    let body = line.split(|&b| b == b'*').next()?;
    let mut fields = body.split(|&b| b == b',');
    let kind = fields.next()?.get(3..6)?;
    let position = match kind {
        b"GGA" | b"RMC" | b"GNS" | b"ZDA" | b"GBS" | b"GST" => 1,
        b"GLL" => 5,
        _ => return None,
    };
    fields.nth(position - 1).filter(|f| !f.is_empty())
}

/// One write of a replay: `bytes` at `at` after its start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub at: Duration,
    pub bytes: Vec<u8>,
}

/// The writes of a replay, in order, ending after `loops` passes or once
/// `at` passes `run`. With `whole_lines`, a line is one write (cookies
/// removed); else a line is split at its delay cookies.
pub fn schedule(capture: &Capture, replay: Replay, whole_lines: bool) -> Schedule<'_> {
    let lines = if whole_lines {
        std::borrow::Cow::Owned(capture.sentences())
    } else {
        std::borrow::Cow::Borrowed(capture.lines.as_slice())
    };
    Schedule {
        lines,
        cookie: if whole_lines { None } else { capture.cookie },
        replay,
        next_line: 0,
        pass: 0,
        t: Duration::ZERO,
        burst_start: Duration::ZERO,
        last_epoch: None,
        pending: std::collections::VecDeque::new(),
    }
}

/// The iterator [`schedule`] returns.
#[derive(Debug)]
pub struct Schedule<'a> {
    lines: std::borrow::Cow<'a, [Vec<u8>]>,
    cookie: Option<(u8, Duration)>,
    replay: Replay,
    next_line: usize,
    pass: u32,
    /// The replay's clock: when the next byte may leave.
    t: Duration,
    burst_start: Duration,
    last_epoch: Option<Vec<u8>>,
    pending: std::collections::VecDeque<Write>,
}

impl Schedule<'_> {
    /// Time for `n` bytes on the serial line.
    fn wire_time(&self, n: usize) -> Duration {
        if self.replay.baud == 0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64(n as f64 * 10.0 / f64::from(self.replay.baud))
    }

    /// Queues the writes of line `i`, advancing the clock.
    fn queue_line(&mut self, i: usize) {
        let line = self.lines[i].clone();
        if !self.replay.cycle.is_zero()
            && let Some(epoch) = epoch_of(&line)
            && self.last_epoch.as_deref() != Some(epoch)
        {
            if self.last_epoch.is_some() {
                self.t = self.t.max(self.burst_start + self.replay.cycle);
            }
            self.burst_start = self.t;
            self.last_epoch = Some(epoch.to_vec());
        }
        let pieces: Vec<&[u8]> = match self.cookie {
            Some((c, _)) => line.split(|&b| b == c).collect(),
            None => vec![&line[..]],
        };
        for (k, piece) in pieces.into_iter().enumerate() {
            if k > 0
                && let Some((_, pause)) = self.cookie
            {
                self.t += pause;
            }
            if piece.is_empty() {
                continue;
            }
            self.pending.push_back(Write {
                at: self.t,
                bytes: piece.to_vec(),
            });
            self.t += self.wire_time(piece.len());
        }
    }
}

impl Iterator for Schedule<'_> {
    type Item = Write;

    fn next(&mut self) -> Option<Write> {
        loop {
            if let Some(w) = self.pending.pop_front() {
                return (w.at <= self.replay.run).then_some(w);
            }
            if self.lines.is_empty() || self.t > self.replay.run {
                return None;
            }
            if self.next_line == self.lines.len() {
                self.pass += 1;
                self.next_line = 0;
                if self.replay.loops != 0 && self.pass >= self.replay.loops {
                    return None;
                }
            }
            self.queue_line(self.next_line);
            self.next_line += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &[u8] = b"# Name: test\r\n\
$GPGGA,120000.00,4221.8,N,07101.9,W,1,08,0.9,5.0,M,,,,*00\r\n\
$GPGSV,1,1,01,01,40,083,46*00\r\n\
$GPGGA,120001.00,4221.8,N,07101.9,W,1,08,0.9,5.0,M,,,,*00\r\n\
$GPGLL,4221.8,N,07101.9,W,120001.00,A*00\n\
garbage\n";

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn comments_are_left_out_and_bytes_kept_as_captured() {
        let c = Capture::parse(LOG);
        assert_eq!(c.lines.len(), 5);
        assert!(c.lines[3].ends_with(b"*00\n"));
        assert_eq!(c.lines[4], b"garbage\n");
    }

    #[test]
    fn an_epoch_starts_one_cycle_after_the_last() {
        let c = Capture::parse(LOG);
        let replay = Replay {
            baud: 0,
            cycle: ms(500),
            loops: 2,
            run: Duration::from_secs(60),
        };
        let at: Vec<Duration> = schedule(&c, replay, false).map(|w| w.at).collect();
        // GGA 12:00:00 and GSV at 0; GGA 12:00:01 (and the GLL of the same
        // second, and the garbage) at 0.5 s; the second pass at 1 s, 1.5 s.
        assert_eq!(
            at,
            [0, 0, 500, 500, 500, 1000, 1000, 1500, 1500, 1500].map(ms)
        );
    }

    #[test]
    fn bytes_take_their_time_on_the_wire_and_run_bounds_it_all() {
        let c = Capture::parse(b"0123456789\nabcdefghij\n");
        let replay = Replay {
            baud: 1100, // 110 bytes a second: 11 bytes take 100 ms
            cycle: Duration::ZERO,
            loops: 0,
            run: ms(250),
        };
        let at: Vec<Duration> = schedule(&c, replay, false).map(|w| w.at).collect();
        assert_eq!(at, [0, 100, 200].map(ms));
    }

    #[test]
    fn delay_cookies_split_writes_or_vanish_from_datagrams() {
        let c = Capture::parse(b"# Delay-Cookie: | 0.01\n$GPZDA,1|20000.00,01,01,2020,,*00\n");
        let writes: Vec<Write> = schedule(&c, Replay::looped(Duration::ZERO, ms(50)), false)
            .take(2)
            .collect();
        assert_eq!(writes[0].bytes, b"$GPZDA,1");
        assert_eq!(writes[1].at, ms(10));
        assert_eq!(writes[1].bytes, b"20000.00,01,01,2020,,*00\n");
        let whole: Vec<Write> = schedule(&c, Replay::default(), true).collect();
        assert_eq!(whole.len(), 1);
        assert_eq!(whole[0].bytes, b"$GPZDA,120000.00,01,01,2020,,*00\n");
    }
}
