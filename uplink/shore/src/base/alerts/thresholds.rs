//! `[alerts]`: when the shore raises each alert, and how often it looks.
//! Every key has a default that suits a fleet reporting every 10 s (the
//! agent's status period); 0 turns a byte, percent or growth rule off.

use serde::Deserialize;

use crate::base::problem::Problem;

/// The longest backlog window: the index keeps backlog samples this long.
pub const MAX_BACKLOG_WINDOW_S: u64 = 6 * 3600;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// How often the alerts are evaluated (and a quiet vessel marked offline).
    #[serde(default = "defaults::evaluate_every_s")]
    pub evaluate_every_s: u64,
    /// A vessel not heard from for longer is offline, and `stale`.
    #[serde(default = "defaults::stale_after_s")]
    pub stale_after_s: u64,
    /// A camera not up (`ok`/`running`) for at least this long is `camera_down`.
    #[serde(default = "defaults::camera_down_after_s")]
    pub camera_down_after_s: u64,
    /// `disk_low` below this many free bytes (0: off).
    #[serde(default = "defaults::disk_low_free_bytes")]
    pub disk_low_free_bytes: u64,
    /// … or below this share of the filesystem free, % (0: off).
    #[serde(default = "defaults::disk_low_free_percent")]
    pub disk_low_free_percent: f64,
    /// `clock_off` beyond this offset from GPS, ms.
    #[serde(default = "defaults::clock_off_ms")]
    pub clock_off_ms: u64,
    /// `backlog_growing` when the outbox grew by `backlog_growth`
    /// thumbnails within this window (by the vessel's own clock), s.
    #[serde(default = "defaults::backlog_window_s")]
    pub backlog_window_s: u64,
    /// Thumbnails (0: off).
    #[serde(default = "defaults::backlog_growth")]
    pub backlog_growth: u64,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            evaluate_every_s: defaults::evaluate_every_s(),
            stale_after_s: defaults::stale_after_s(),
            camera_down_after_s: defaults::camera_down_after_s(),
            disk_low_free_bytes: defaults::disk_low_free_bytes(),
            disk_low_free_percent: defaults::disk_low_free_percent(),
            clock_off_ms: defaults::clock_off_ms(),
            backlog_window_s: defaults::backlog_window_s(),
            backlog_growth: defaults::backlog_growth(),
        }
    }
}

impl AlertsConfig {
    /// Every problem at once, keys named `alerts.<key>`.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let mut bad = |key, message: &str| {
            out.push(Problem {
                key,
                message: message.to_owned(),
            });
        };
        if !(1..=3600).contains(&self.evaluate_every_s) {
            bad("alerts.evaluate_every_s", "must be 1–3600");
        }
        if self.stale_after_s == 0 || self.stale_after_s > 30 * 86_400 {
            bad("alerts.stale_after_s", "must be 1 s – 30 days");
        }
        if self.camera_down_after_s > 86_400 {
            bad("alerts.camera_down_after_s", "must be at most a day");
        }
        if !(0.0..=100.0).contains(&self.disk_low_free_percent) {
            bad("alerts.disk_low_free_percent", "must be 0–100");
        }
        if self.clock_off_ms == 0 {
            bad("alerts.clock_off_ms", "must be > 0");
        }
        if self.backlog_window_s == 0 || self.backlog_window_s > MAX_BACKLOG_WINDOW_S {
            bad("alerts.backlog_window_s", "must be 1 s – 6 h");
        }
        out
    }
}

mod defaults {
    pub fn evaluate_every_s() -> u64 {
        5
    }
    pub fn stale_after_s() -> u64 {
        60
    }
    pub fn camera_down_after_s() -> u64 {
        30
    }
    pub fn disk_low_free_bytes() -> u64 {
        2_000_000_000
    }
    pub fn disk_low_free_percent() -> f64 {
        5.0
    }
    pub fn clock_off_ms() -> u64 {
        2_000
    }
    pub fn backlog_window_s() -> u64 {
        600
    }
    pub fn backlog_growth() -> u64 {
        300
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_holds_the_defaults() {
        let c =
            crate::adapters::config::Config::from_toml(crate::adapters::config::EXAMPLE, "example")
                .unwrap();
        assert_eq!(c.alerts, AlertsConfig::default());
        let none = crate::adapters::config::Config::from_toml("[mqtt]\nurl = \"mqtt://h\"\n", "t")
            .unwrap();
        assert_eq!(
            none.alerts,
            AlertsConfig::default(),
            "[alerts] may be left out"
        );
    }

    #[test]
    fn defaults_are_valid_and_bad_values_named() {
        assert!(AlertsConfig::default().problems().is_empty());
        let c = AlertsConfig {
            evaluate_every_s: 0,
            stale_after_s: 0,
            disk_low_free_percent: 101.0,
            clock_off_ms: 0,
            backlog_window_s: MAX_BACKLOG_WINDOW_S + 1,
            ..AlertsConfig::default()
        };
        let keys: Vec<_> = c.problems().iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
            [
                "alerts.evaluate_every_s",
                "alerts.stale_after_s",
                "alerts.disk_low_free_percent",
                "alerts.clock_off_ms",
                "alerts.backlog_window_s"
            ]
        );
    }
}
