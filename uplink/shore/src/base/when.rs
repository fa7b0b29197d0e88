//! Instants as the shore handles them: `i64` nanoseconds since the Unix
//! epoch (UTC) in the index, RFC 3339 in JSON, and the three ways a user may
//! write a time in a query (RFC 3339, `YYYY/MM/DD HH:MM:SS` UTC, Unix ms) —
//! the agent's own ([`seaframe_wire::timestamp`]), over plain `i64`s.

use seaframe_wire::timestamp::{TimeParseError, Timestamp};
use time::OffsetDateTime;

/// Now, in ns since the epoch.
pub fn now_ns() -> i64 {
    Timestamp::now().unix_nanos()
}

/// A time as a user wrote it, in ns since the epoch.
pub fn parse_user_ns(input: &str) -> Result<i64, TimeParseError> {
    Timestamp::parse_user(input).map(Timestamp::unix_nanos)
}

/// The UTC calendar date and time of an instant.
pub fn datetime(ns: i64) -> OffsetDateTime {
    Timestamp::from_unix_nanos(ns).to_datetime()
}

/// RFC 3339 with nine fractional digits: `2026-11-24T08:00:00.123456789Z`.
pub fn rfc3339_ns(ns: i64) -> String {
    Timestamp::from_unix_nanos(ns).to_rfc3339()
}

/// RFC 3339 of a Unix-milliseconds time (as the link's JSON carries them).
pub fn rfc3339_ms(ms: i64) -> String {
    Timestamp::from_unix_millis(ms).to_rfc3339()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ns_helpers_are_the_timestamps() {
        let ns = 1_764_000_000_123_000_007;
        assert_eq!(rfc3339_ns(ns), "2025-11-24T16:00:00.123000007Z");
        assert_eq!(parse_user_ns(&rfc3339_ns(ns)), Ok(ns));
        assert_eq!(
            rfc3339_ms(1_764_000_000_123),
            "2025-11-24T16:00:00.123000000Z"
        );
        assert!(parse_user_ns("soon").is_err());
    }
}
