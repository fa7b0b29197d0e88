//! The link to shore as a pure state machine, and the byte budget. No IO:
//! the publisher feeds them events and the clock, and asks what to do.
//!
//! States: `Offline` (no broker session), `CatchUp` (connected, a backlog
//! older than a few seconds waits), `Live` (connected, nothing old waits).
//! In every connected state the newest thumbnail goes first, so the shore
//! sees now before the past; the backlog drains behind it within the budget.

use std::time::Duration;

use tokio::time::Instant;

/// A backlog this small counts as live traffic (a few seconds of cameras).
pub const LIVE_BACKLOG: u64 = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Offline,
    CatchUp,
    Live,
}

impl LinkState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Offline => "offline",
            Self::CatchUp => "catch-up",
            Self::Live => "live",
        }
    }

    /// The next state after the connection or the backlog changed.
    pub fn next(self, connected: bool, backlog: u64) -> Self {
        match (connected, backlog > LIVE_BACKLOG) {
            (false, _) => Self::Offline,
            (true, true) => Self::CatchUp,
            (true, false) => Self::Live,
        }
    }
}

/// A token bucket of bytes: `rate` bytes per second on average, bursts of
/// at most one second's worth. A payload may take the bucket below zero (a
/// payload bigger than a second's budget still goes, and the debt is paid
/// before the next one). Rate 0 means unlimited.
#[derive(Debug, Clone)]
pub struct Budget {
    rate_bytes_per_s: u64,
    tokens: f64,
    refilled_at: Instant,
}

impl Budget {
    pub fn new(rate_bytes_per_s: u64, now: Instant) -> Self {
        Self {
            rate_bytes_per_s,
            tokens: rate_bytes_per_s as f64,
            refilled_at: now,
        }
    }

    /// Changes the rate (a pushed config), keeping the current tokens.
    pub fn set_rate(&mut self, rate_bytes_per_s: u64) {
        self.rate_bytes_per_s = rate_bytes_per_s;
        self.tokens = self.tokens.min(rate_bytes_per_s as f64);
    }

    fn refill(&mut self, now: Instant) {
        let elapsed_s = now
            .saturating_duration_since(self.refilled_at)
            .as_secs_f64();
        self.refilled_at = now;
        let cap = self.rate_bytes_per_s as f64;
        self.tokens = (self.tokens + elapsed_s * cap).min(cap);
    }

    /// Takes `bytes` if the bucket is not in debt; otherwise says how long
    /// to wait until it is.
    pub fn take(&mut self, bytes: u64, now: Instant) -> Result<(), Duration> {
        if self.rate_bytes_per_s == 0 {
            return Ok(());
        }
        self.refill(now);
        // Half a byte of tolerance for the float arithmetic of refills.
        if self.tokens < -0.5 {
            let wait_s = -self.tokens / self.rate_bytes_per_s as f64;
            return Err(Duration::from_secs_f64(wait_s).max(Duration::from_millis(1)));
        }
        self.tokens -= bytes as f64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_follow_connection_and_backlog() {
        let s = LinkState::Offline;
        let s = s.next(true, 1000);
        assert_eq!(s, LinkState::CatchUp);
        let s = s.next(true, LIVE_BACKLOG);
        assert_eq!(s, LinkState::Live);
        assert_eq!(s.next(false, 0), LinkState::Offline);
        assert_eq!(LinkState::CatchUp.as_str(), "catch-up");
    }

    #[test]
    fn unlimited_budget_never_waits() {
        let now = Instant::now();
        let mut b = Budget::new(0, now);
        for _ in 0..1000 {
            assert!(b.take(1_000_000, now).is_ok());
        }
    }

    #[test]
    fn the_budget_holds_the_average_rate() {
        let start = Instant::now();
        let mut b = Budget::new(10_000, start);
        let mut now = start;
        let mut sent = 0u64;
        // Ten seconds of a sender that always has a 3 KB payload ready.
        while now < start + Duration::from_secs(10) {
            match b.take(3_000, now) {
                Ok(()) => sent += 3_000,
                Err(wait) => now += wait,
            }
        }
        // 10 s at 10 KB/s, plus the first second's burst and one payload.
        assert!((100_000..=113_000).contains(&sent), "{sent}");
    }

    #[test]
    fn a_payload_bigger_than_the_budget_goes_then_waits_it_off() {
        let now = Instant::now();
        let mut b = Budget::new(1_000, now);
        assert!(b.take(5_000, now).is_ok());
        let wait = b.take(10, now).unwrap_err();
        assert!((3.9..=4.1).contains(&wait.as_secs_f64()), "{wait:?}");
        assert!(b.take(10, now + wait).is_ok());
    }
}
