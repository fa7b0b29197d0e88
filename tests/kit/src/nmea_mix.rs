//! Mixed receiver streams made from a checked-in capture, as receivers
//! really talk: u-blox UBX frames between the sentences (a u-blox in its
//! default UBX+NMEA mode), binary junk before `$` on the same line, and the
//! fix sentences re-broadcast under a second talker (a chartplotter
//! passing on what it hears). Pure: bytes in, bytes out; written to a temp
//! file by the tests, never checked in.
//!
//! The UBX frames are well formed (sync, class, id, LE length, Fletcher
//! checksum) and of messages that carry no fix (MON-HW, ACK-ACK), so that
//! gpsd, which decodes UBX, gets no position from them; one of them holds
//! a whole GGA sentence for another place in its payload, which a reader
//! that does not skip UBX frames would take for a fix.

/// How to mix a capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    /// The data lines to keep: from this one (0-based, comments not counted)…
    pub from_line: usize,
    /// …and at most this many.
    pub lines: usize,
    /// A UBX frame after every this many sentences (0: none).
    pub ubx_every: usize,
    /// Binary junk before the `$` of every this many sentences (0: none).
    pub junk_every: usize,
    /// GGA, RMC and GLL sent again by this talker right after the original.
    pub rebroadcast_as: Option<[u8; 2]>,
}

impl Default for Mix {
    /// The capture as it is.
    fn default() -> Self {
        Self {
            from_line: 0,
            lines: usize::MAX,
            ubx_every: 0,
            junk_every: 0,
            rebroadcast_as: None,
        }
    }
}

/// What a mix put in, for the tests' own counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mixed {
    pub sentences: usize,
    pub ubx_frames: usize,
    pub junk_runs: usize,
    pub rebroadcasts: usize,
}

/// The UBX checksum: 8-bit Fletcher over class, id, length and payload.
fn fletcher(bytes: &[u8]) -> [u8; 2] {
    let (a, b) = bytes.iter().fold((0u8, 0u8), |(a, b), &x| {
        let a = a.wrapping_add(x);
        (a, b.wrapping_add(a))
    });
    [a, b]
}

/// A UBX frame of `class`/`id` carrying `payload`.
pub fn ubx_frame(class: u8, id: u8, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(payload.len()).expect("a UBX payload under 64 KiB");
    let mut frame = vec![0xB5, 0x62, class, id];
    frame.extend(len.to_le_bytes());
    frame.extend(payload);
    let sum = fletcher(&frame[2..]);
    frame.extend(sum);
    frame
}

/// `$BODY*CS` with the checksum computed.
pub fn with_checksum(body: &[u8]) -> Vec<u8> {
    let sum = body.iter().fold(0u8, |x, b| x ^ b);
    let mut s = Vec::with_capacity(body.len() + 4);
    s.push(b'$');
    s.extend(body);
    s.extend(format!("*{sum:02X}").bytes());
    s
}

/// The n-th UBX frame of a mix: MON-HW-sized, then ACK-ACK, then a frame
/// whose payload is a valid GGA for 0°N 0°E between line ends.
fn nth_frame(n: usize) -> Vec<u8> {
    match n % 3 {
        0 => ubx_frame(0x0A, 0x09, &[0x5A; 60]),
        1 => ubx_frame(0x05, 0x01, &[0x06, 0x01]),
        _ => {
            let mut payload = b"\r\n".to_vec();
            payload.extend(with_checksum(
                b"GPGGA,000000.00,0000.000,N,00000.000,E,1,08,1.0,0.0,M,0.0,M,,",
            ));
            payload.extend(b"\r\n");
            ubx_frame(0x0A, 0x09, &payload)
        }
    }
}

/// Junk as a receiver's other protocol or a noisy line might send: no line
/// end, no `$`, no UBX sync.
const JUNK: &[u8] = &[0x01, 0xFE, 0x80, 0x7F, 0x10, 0x03, b'x', 0xA0, 0xA1];

/// The capture `bytes` (gpsd's `.log` format) mixed as `mix` says. Comment
/// lines at the top are kept (gpsfake reads them); gpsfake's `|` write
/// marks are removed; every line ends with CR LF.
pub fn mix(bytes: &[u8], mix: Mix) -> (Vec<u8>, Mixed) {
    let mut out = Vec::new();
    let mut counts = Mixed::default();
    let mut data_lines = 0usize;
    for raw in bytes.split(|&b| b == b'\n') {
        if raw.starts_with(b"#") {
            if data_lines == 0 {
                out.extend(raw);
                out.push(b'\n');
            }
            continue;
        }
        let line: Vec<u8> = raw
            .iter()
            .copied()
            .filter(|&b| b != b'|' && b != b'\r')
            .collect();
        if line.is_empty() {
            continue;
        }
        data_lines += 1;
        if data_lines <= mix.from_line {
            continue;
        }
        if counts.sentences >= mix.lines {
            break;
        }
        counts.sentences += 1;
        let n = counts.sentences;
        if mix.junk_every > 0 && n % mix.junk_every == 0 {
            out.extend(JUNK);
            counts.junk_runs += 1;
        }
        out.extend(&line);
        out.extend(b"\r\n");
        if let Some(again) = mix.rebroadcast_as.and_then(|t| rebroadcast(&line, t)) {
            out.extend(again);
            out.extend(b"\r\n");
            counts.rebroadcasts += 1;
        }
        if mix.ubx_every > 0 && n % mix.ubx_every == 0 {
            out.extend(nth_frame(counts.ubx_frames));
            counts.ubx_frames += 1;
        }
    }
    (out, counts)
}

/// A GGA, RMC or GLL sentence again under `talker`, checksum recomputed.
fn rebroadcast(line: &[u8], talker: [u8; 2]) -> Option<Vec<u8>> {
    let kind = line.get(3..6)?;
    if !matches!(kind, b"GGA" | b"RMC" | b"GLL") || line.first() != Some(&b'$') {
        return None;
    }
    let star = line.iter().rposition(|&b| b == b'*')?;
    let mut body = talker.to_vec();
    body.extend(line.get(3..star)?);
    Some(with_checksum(&body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_sentences_are_well_formed() {
        // UBX-ACK-ACK for CFG-MSG, as in u-blox's protocol description.
        assert_eq!(
            ubx_frame(0x05, 0x01, &[0x06, 0x01]),
            [0xB5, 0x62, 0x05, 0x01, 0x02, 0x00, 0x06, 0x01, 0x0F, 0x38]
        );
        assert_eq!(
            with_checksum(b"GPHDT,,T"),
            b"$GPHDT,,T*1B",
            "a line of hemi.log"
        );
        assert_eq!(
            rebroadcast(b"$GPHDT,,T*1B", *b"GN"),
            None,
            "only fix sentences"
        );
        assert_eq!(
            rebroadcast(b"$GPGGA,,,,,,0,,,,M,,M,,*66", *b"GN").unwrap(),
            b"$GNGGA,,,,,,0,,,,M,,M,,*78"
        );
    }

    #[test]
    fn a_mix_puts_in_what_it_says() {
        let capture = b"# header\n$GPGGA,,,,,,0,,,,M,,M,,*66\r\n$GPHDT,,T*1B\r\n# note\n$GPHDT,,T*1B\r\n$GPHDT,,T*1B\r\n";
        let (out, counts) = mix(
            capture,
            Mix {
                from_line: 0,
                lines: 3,
                ubx_every: 2,
                junk_every: 3,
                rebroadcast_as: Some(*b"GN"),
            },
        );
        assert_eq!(
            counts,
            Mixed {
                sentences: 3,
                ubx_frames: 1,
                junk_runs: 1,
                rebroadcasts: 1
            }
        );
        let mut want = b"# header\n$GPGGA,,,,,,0,,,,M,,M,,*66\r\n$GNGGA,,,,,,0,,,,M,,M,,*78\r\n$GPHDT,,T*1B\r\n".to_vec();
        want.extend(nth_frame(0));
        want.extend(JUNK);
        want.extend(b"$GPHDT,,T*1B\r\n");
        assert_eq!(out, want);
    }
}
