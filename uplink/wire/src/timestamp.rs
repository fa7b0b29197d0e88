//! [`Timestamp`]: an instant in UTC with nanosecond resolution, the one time
//! type of the agent and the shore, plus the formats users write times in
//! (one parser and one RFC 3339 form for both ends' APIs).

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

/// Nanoseconds since the Unix epoch, UTC. Covers the years 1678..2262.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// Why a user's time string was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{input:?} is not a time: use RFC 3339 (2026-11-24T08:00:00Z), \
     YYYY/MM/DD HH:MM:SS (UTC) or Unix milliseconds"
)]
pub struct TimeParseError {
    pub input: String,
}

impl Timestamp {
    pub const fn from_unix_nanos(ns: i64) -> Self {
        Self(ns)
    }

    pub const fn from_unix_millis(ms: i64) -> Self {
        Self(ms.saturating_mul(1_000_000))
    }

    /// The system clock, now.
    pub fn now() -> Self {
        let ns = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_nanos()).unwrap_or(i64::MAX),
        };
        Self(ns)
    }

    pub const fn unix_nanos(self) -> i64 {
        self.0
    }

    pub const fn unix_millis(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    /// This instant as a calendar date and time in UTC.
    pub fn to_datetime(self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0))
            .expect("every i64 of nanoseconds is within time's supported range")
    }

    /// RFC 3339 with all nine fractional digits, e.g. `2026-11-24T08:00:00.123456789Z`.
    pub fn to_rfc3339(self) -> String {
        let dt = self.to_datetime();
        let fmt = format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9]Z"
        );
        dt.format(&fmt)
            .expect("formatting a UTC date with a fixed description cannot fail")
    }

    /// Parses the time formats of the API and CLI: RFC 3339,
    /// `YYYY/MM/DD HH:MM:SS[.fff]` (UTC), or Unix milliseconds.
    pub fn parse_user(input: &str) -> Result<Self, TimeParseError> {
        let s = input.trim();
        let err = || TimeParseError {
            input: input.to_owned(),
        };
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
            let ms: i64 = s.parse().map_err(|_| err())?;
            // Beyond the years 1678..2262 reads as their end: `to=9999999999999`
            // is how scripts say "until the end".
            return Ok(Self::from_unix_millis(ms));
        }
        if let Ok(dt) = OffsetDateTime::parse(s, &Rfc3339) {
            return Self::from_datetime(dt).ok_or_else(err);
        }
        let slashed = format_description!(
            version = 2,
            "[year]/[month]/[day] [hour]:[minute]:[second][optional [.[subsecond]]]"
        );
        let dt = time::PrimitiveDateTime::parse(s, &slashed).map_err(|_| err())?;
        Self::from_datetime(dt.assume_utc()).ok_or_else(err)
    }

    fn from_datetime(dt: OffsetDateTime) -> Option<Self> {
        i64::try_from(dt.unix_timestamp_nanos()).ok().map(Self)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_user_format_to_the_same_instant() {
        let want = Timestamp::from_unix_millis(1_764_000_000_123);
        for s in [
            "1764000000123",
            "2025-11-24T16:00:00.123Z",
            "2025-11-24T17:00:00.123+01:00",
            "2025/11/24 16:00:00.123",
        ] {
            assert_eq!(Timestamp::parse_user(s).unwrap(), want, "{s}");
        }
        assert_eq!(
            Timestamp::parse_user("2025/11/24 16:00:00").unwrap(),
            Timestamp::from_unix_millis(1_764_000_000_000)
        );
    }

    #[test]
    fn rejects_what_is_not_a_time() {
        for s in [
            "",
            "yesterday",
            "2025-13-01T00:00:00Z",
            "2025/11/24",
            "12ab",
            "1e9",
            "99999999999999999999",
        ] {
            let e = Timestamp::parse_user(s).unwrap_err();
            assert_eq!(e.input, s);
        }
    }

    #[test]
    fn formats_with_nanoseconds() {
        let t = Timestamp::from_unix_nanos(1_764_000_000_000_000_007);
        assert_eq!(t.to_rfc3339(), "2025-11-24T16:00:00.000000007Z");
        assert_eq!(Timestamp::parse_user(&t.to_rfc3339()).unwrap(), t);
        assert_eq!(
            Timestamp::parse_user("99999999999999999").unwrap(),
            Timestamp::from_unix_nanos(i64::MAX),
            "milliseconds past 2262 read as its end"
        );
        let before_1970 = Timestamp::from_unix_nanos(-5);
        assert_eq!(before_1970.to_rfc3339(), "1969-12-31T23:59:59.999999995Z");
        assert_eq!(
            Timestamp::parse_user(&before_1970.to_rfc3339()).unwrap(),
            before_1970
        );
    }
}
