//! Which time to stamp a frame with. Boards without a real-time clock boot
//! in 1970 (or wherever their last fake-hwclock save left them): when the
//! system clock disagrees with GPS time by more than [`MAX_SKEW_NS`], frames
//! get the GPS-corrected time and are marked `clock = gps`; when the system
//! clock is implausible and no GPS time is known yet, there is no
//! trustworthy time and capture waits rather than file frames under 1970.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use crate::base::gps::state::Gps;
use seaframe_wire::timestamp::Timestamp;

/// Beyond this disagreement the system clock is corrected from GPS time.
pub const MAX_SKEW_NS: i64 = 2_000_000_000;
/// A system clock before this (2024-01-01T00:00:00Z) is not believed.
pub const PLAUSIBLE_AFTER: Timestamp = Timestamp::from_unix_nanos(1_704_067_200_000_000_000);

/// Where a frame's time came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockSource {
    System,
    Gps,
}

impl ClockSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::Gps => "gps",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "system" => Some(Self::System),
            "gps" => Some(Self::Gps),
            _ => None,
        }
    }
}

/// The agent's clock: the system clock, corrected from GPS when they disagree.
#[derive(Debug, Clone)]
pub struct Clock {
    gps: Arc<Gps>,
    logged: Arc<AtomicBool>,
}

impl Clock {
    /// The clock of a board whose GPS state is `gps` (and whose system
    /// clock is off by `gps.skew_ns()`, in tests).
    pub fn new(gps: Arc<Gps>) -> Self {
        Self {
            gps,
            logged: Arc::default(),
        }
    }

    /// Now, and where that time came from; `None` when there is no
    /// trustworthy time yet.
    pub fn now(&self) -> Option<(Timestamp, ClockSource)> {
        self.correct(Timestamp::now())
    }

    /// The trustworthy time of an instant read from the system clock (by
    /// `Timestamp::now()`, e.g. when a frame arrived).
    pub fn correct(&self, raw_system: Timestamp) -> Option<(Timestamp, ClockSource)> {
        let system =
            Timestamp::from_unix_nanos(raw_system.unix_nanos().saturating_add(self.gps.skew_ns()));
        match self.gps.offset_ns() {
            Some(offset) if offset.abs() > MAX_SKEW_NS => {
                if !self.logged.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        offset_ms = offset / 1_000_000,
                        "system clock disagrees with GPS time: stamping frames with GPS time"
                    );
                }
                Some((
                    Timestamp::from_unix_nanos(system.unix_nanos() + offset),
                    ClockSource::Gps,
                ))
            }
            _ if system < PLAUSIBLE_AFTER => None,
            _ => Some((system, ClockSource::System)),
        }
    }

    /// GPS time minus system time, if known.
    pub fn offset_ns(&self) -> Option<i64> {
        self.gps.offset_ns()
    }

    /// The GPS state this clock follows (fixes, track, counts).
    pub fn gps(&self) -> &Arc<Gps> {
        &self.gps
    }
}
