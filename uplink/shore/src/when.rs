//! Instants as the shore handles them: `i64` nanoseconds since the Unix
//! epoch (UTC) in the index, RFC 3339 in JSON, and the three ways a user may
//! write a time in a query (RFC 3339, `YYYY/MM/DD HH:MM:SS` UTC, Unix ms).

use std::time::{SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

/// Why a user's time was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a time: use RFC 3339 (2026-11-24T08:00:00Z), \
     YYYY/MM/DD HH:MM:SS (UTC) or Unix milliseconds"
)]
pub struct BadTime(pub String);

/// Now, in ns since the epoch.
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A time as a user wrote it, in ns since the epoch.
pub fn parse_user_ns(input: &str) -> Result<i64, BadTime> {
    let s = input.trim();
    let bad = || BadTime(input.to_owned());
    let digits = s.strip_prefix('-').unwrap_or(s);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        let ms: i64 = s.parse().map_err(|_| bad())?;
        return ms.checked_mul(1_000_000).ok_or_else(bad);
    }
    let dt = match OffsetDateTime::parse(s, &Rfc3339) {
        Ok(dt) => dt,
        Err(_) => {
            let slashed = format_description!(
                version = 2,
                "[year]/[month]/[day] [hour]:[minute]:[second][optional [.[subsecond]]]"
            );
            time::PrimitiveDateTime::parse(s, &slashed)
                .map_err(|_| bad())?
                .assume_utc()
        }
    };
    i64::try_from(dt.unix_timestamp_nanos()).map_err(|_| bad())
}

/// The UTC calendar date and time of an instant.
pub fn datetime(ns: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns))
        .expect("every i64 of nanoseconds is within time's range")
}

/// RFC 3339 with nine fractional digits: `2026-11-24T08:00:00.123456789Z`.
pub fn rfc3339_ns(ns: i64) -> String {
    let fmt =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9]Z");
    datetime(ns)
        .format(&fmt)
        .expect("a UTC date formats with a fixed description")
}

/// RFC 3339 of a Unix-milliseconds time (as the link's JSON carries them).
pub fn rfc3339_ms(ms: i64) -> String {
    rfc3339_ns(ms.saturating_mul(1_000_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_user_format_reads_the_same_instant() {
        let want = 1_764_000_000_123_000_000;
        for s in [
            "1764000000123",
            "2025-11-24T16:00:00.123Z",
            "2025-11-24T17:00:00.123+01:00",
            "2025/11/24 16:00:00.123",
        ] {
            assert_eq!(parse_user_ns(s).unwrap(), want, "{s}");
        }
        for s in [
            "",
            "soon",
            "2025/11/24",
            "2025-13-01T00:00:00Z",
            "1e9",
            "99999999999999999",
        ] {
            assert!(parse_user_ns(s).is_err(), "{s}");
        }
    }

    #[test]
    fn formats_with_nanoseconds() {
        assert_eq!(
            rfc3339_ns(1_764_000_000_000_000_007),
            "2025-11-24T16:00:00.000000007Z"
        );
        assert_eq!(parse_user_ns(&rfc3339_ns(-5)).unwrap(), -5);
    }
}
