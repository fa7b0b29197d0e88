//! Thumbnails the shore will not store although their envelope decodes:
//! the image is not a whole JPEG, the size is zero, or the capture time is
//! outside a sane window. Ingest acks such a message, counts it by the
//! reason returned here (`seaframe_shore_messages_dropped_total{reason}`)
//! and stores nothing, so one bad message can never stall the link nor
//! make the broker redeliver it forever. IO-free: the caller passes "now".

use seaframe_wire::Thumb;
use seaframe_wire::jpeg::{self, JpegError};

/// 2000-01-01T00:00:00Z, ns. Nothing the fleet captured is older: an
/// earlier stamp is a board that booted in 1970 without a clock fix, or a
/// corrupt field (i64 extremes read as 1677 or 2262).
pub const EARLIEST_CAPTURE_NS: i64 = 946_684_800_000_000_000;

/// How far ahead of the shore's clock a capture time may be: vessels'
/// clocks drift and time zones get misconfigured, but not by a day.
pub const MAX_AHEAD_NS: i64 = 86_400_000_000_000;

/// Why a decoded thumbnail is refused (a metrics label), or `Ok`.
pub fn check(thumb: &Thumb, now_ns: i64) -> Result<(), &'static str> {
    let m = &thumb.meta;
    if m.width == 0 || m.height == 0 {
        return Err("zero_size");
    }
    if m.captured_at_ns < EARLIEST_CAPTURE_NS {
        return Err("stamped_before_2000");
    }
    if m.captured_at_ns > now_ns.saturating_add(MAX_AHEAD_NS) {
        return Err("stamped_in_future");
    }
    match jpeg::inspect(&thumb.jpeg) {
        Ok(_) => Ok(()),
        Err(JpegError::ZeroSize) => Err("zero_size"),
        Err(_) => Err("not_jpeg"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW_NS: i64 = 1_764_460_800_000_000_000;

    fn real_jpeg(width: u16, height: u16) -> Vec<u8> {
        let pixels = vec![90u8; usize::from(width) * usize::from(height) * 3];
        let mut out = Vec::new();
        jpeg_encoder::Encoder::new(&mut out, 80)
            .encode(&pixels, width, height, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        out
    }

    fn thumb(captured_at_ns: i64, size: (u16, u16), jpeg: Vec<u8>) -> Thumb {
        let position = seaframe_testkit::thumb_position(59.0, 10.0);
        seaframe_testkit::thumb("aurora", "mast", captured_at_ns, size, position, jpeg)
    }

    #[test]
    fn each_poison_has_its_reason_and_a_good_thumbnail_passes() {
        let good = real_jpeg(16, 8);
        assert_eq!(check(&thumb(NOW_NS, (16, 8), good.clone()), NOW_NS), Ok(()));
        let ahead = NOW_NS + MAX_AHEAD_NS;
        assert_eq!(check(&thumb(ahead, (16, 8), good.clone()), NOW_NS), Ok(()));
        let cases = [
            (thumb(NOW_NS, (0, 8), good.clone()), "zero_size"),
            (thumb(NOW_NS, (16, 0), good.clone()), "zero_size"),
            (
                thumb(i64::MIN, (16, 8), good.clone()),
                "stamped_before_2000",
            ),
            (
                thumb(EARLIEST_CAPTURE_NS - 1, (16, 8), good.clone()),
                "stamped_before_2000",
            ),
            (thumb(i64::MAX, (16, 8), good.clone()), "stamped_in_future"),
            (thumb(ahead + 1, (16, 8), good.clone()), "stamped_in_future"),
            (
                thumb(NOW_NS, (16, 8), b"\xff\xd8<html>".to_vec()),
                "not_jpeg",
            ),
            (
                thumb(NOW_NS, (16, 8), good[..good.len() - 2].to_vec()),
                "not_jpeg",
            ),
        ];
        for (t, want) in cases {
            assert_eq!(check(&t, NOW_NS), Err(want), "{:?}", t.meta);
        }
    }
}
