//! `[retention]`: how long thumbnails stay ashore, how they are thinned as
//! they age, and the byte budgets, for the fleet and per vessel
//! (`[retention.vessels.<name>]` overrides any of `max_age_days`,
//! `max_bytes` and `thin`). [`RetentionConfig::policy`] is what one vessel
//! gets.
//!
//! With no `[retention]` at all: full rate for 7 days, then one thumbnail a
//! minute per camera, one per ten minutes after 30 days, deleted after 365
//! days, and whatever their age the oldest go first when the filesystem of
//! `data_dir` has less than 10 % free. No fixed byte cap unless `max_bytes`
//! is set. At 1 thumbnail/s of ~8.3 KB that keeps ≈ 5.8 GB per camera
//! (7 × 0.72 GB at full rate, 0.28 GB a minute apart, 0.40 GB ten minutes
//! apart).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::base::problem::Problem;

const DAY_NS: f64 = 86_400e9;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Thumbnails captured longer ago are deleted; 0: never by age.
    #[serde(default = "defaults::max_age_days")]
    pub max_age_days: f64,
    /// The fleet's JPEG bytes at most (oldest deleted first); none: no cap.
    pub max_bytes: Option<u64>,
    /// Keep the filesystem of `data_dir` at least this free (oldest deleted
    /// first); 0: off.
    #[serde(default = "defaults::min_free_percent")]
    pub min_free_percent: f64,
    /// Thinning steps, by age.
    #[serde(default = "defaults::thin")]
    pub thin: Vec<ThinStep>,
    /// Seconds between passes (the first comes one interval after start).
    #[serde(default = "defaults::interval_s")]
    pub interval_s: u64,
    #[serde(default)]
    pub vessels: BTreeMap<String, VesselRetention>,
}

/// From `after_days` of age on, keep one thumbnail per `keep_every_s` per
/// camera (the first of each such slot of UTC time).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThinStep {
    pub after_days: f64,
    pub keep_every_s: u64,
}

/// A vessel's overrides (what is absent comes from the fleet's).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VesselRetention {
    pub max_age_days: Option<f64>,
    pub max_bytes: Option<u64>,
    pub thin: Option<Vec<ThinStep>>,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            max_age_days: defaults::max_age_days(),
            max_bytes: None,
            min_free_percent: defaults::min_free_percent(),
            thin: defaults::thin(),
            interval_s: defaults::interval_s(),
            vessels: BTreeMap::new(),
        }
    }
}

/// One vessel's rules, in ns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub max_age_ns: Option<i64>,
    /// This vessel's own cap (from its override only: the fleet's
    /// `max_bytes` caps the whole fleet).
    pub max_bytes: Option<u64>,
    /// `(after_ns, keep_every_ns)`, by age.
    pub thin: Vec<(i64, i64)>,
}

fn days_ns(days: f64) -> i64 {
    // Validated finite and ≥ 0; beyond ~292 years saturates.
    (days * DAY_NS).min(i64::MAX as f64) as i64
}

impl RetentionConfig {
    /// The rules for `vessel`: its overrides over the fleet's.
    pub fn policy(&self, vessel: &str) -> Policy {
        let o = self.vessels.get(vessel);
        let max_age = o.and_then(|o| o.max_age_days).unwrap_or(self.max_age_days);
        let thin = o.and_then(|o| o.thin.as_ref()).unwrap_or(&self.thin);
        Policy {
            max_age_ns: (max_age > 0.0).then(|| days_ns(max_age)),
            max_bytes: o.and_then(|o| o.max_bytes),
            thin: thin
                .iter()
                .map(|s| {
                    let every = i64::try_from(s.keep_every_s)
                        .unwrap_or(i64::MAX)
                        .saturating_mul(1_000_000_000);
                    (days_ns(s.after_days), every)
                })
                .collect(),
        }
    }

    /// Every problem of `[retention]`.
    pub fn validate(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut bad = |key, message: String| problems.push(Problem { key, message });
        let age_ok = |d: f64| d.is_finite() && d >= 0.0;
        if !age_ok(self.max_age_days) {
            bad(
                "retention.max_age_days",
                "must be a number ≥ 0 (0: never by age)".into(),
            );
        }
        if !(0.0..=90.0).contains(&self.min_free_percent) {
            bad(
                "retention.min_free_percent",
                "must be from 0 (off) to 90".into(),
            );
        }
        if self.interval_s == 0 || self.interval_s > 86_400 {
            bad("retention.interval_s", "must be from 1 to 86400".into());
        }
        if self.max_bytes == Some(0) {
            bad(
                "retention.max_bytes",
                "must be > 0 (omit it for no cap)".into(),
            );
        }
        if let Err(m) = check_thin(&self.thin) {
            bad("retention.thin", m);
        }
        for (name, o) in &self.vessels {
            let whose = |m: &str| format!("[retention.vessels.{name}] {m}");
            if let Err(e) = seaframe_wire::VesselName::parse(name) {
                bad(
                    "retention.vessels",
                    whose(&format!("is not a vessel name: {e}")),
                );
            }
            if o.max_age_days.is_some_and(|d| !age_ok(d)) {
                bad(
                    "retention.vessels",
                    whose("max_age_days must be a number ≥ 0"),
                );
            }
            if o.max_bytes == Some(0) {
                bad("retention.vessels", whose("max_bytes must be > 0"));
            }
            if let Some(Err(m)) = o.thin.as_deref().map(check_thin) {
                bad("retention.vessels", whose(&format!("thin: {m}")));
            }
        }
        problems
    }
}

/// Steps by strictly increasing age, each keeping fewer (a longer or equal
/// slot). A step at or past the deletion age is allowed and moot.
fn check_thin(steps: &[ThinStep]) -> Result<(), String> {
    let mut last: Option<ThinStep> = None;
    for s in steps {
        if !(s.after_days.is_finite() && s.after_days > 0.0) || s.keep_every_s == 0 {
            return Err("after_days must be > 0 and keep_every_s ≥ 1".into());
        }
        if let Some(l) = last
            && (s.after_days <= l.after_days || s.keep_every_s < l.keep_every_s)
        {
            return Err("steps go by increasing after_days, keep_every_s never shorter".into());
        }
        last = Some(*s);
    }
    Ok(())
}

mod defaults {
    use super::ThinStep;

    pub fn max_age_days() -> f64 {
        365.0
    }
    pub fn min_free_percent() -> f64 {
        10.0
    }
    pub fn interval_s() -> u64 {
        300
    }
    pub fn thin() -> Vec<ThinStep> {
        vec![
            ThinStep {
                after_days: 7.0,
                keep_every_s: 60,
            },
            ThinStep {
                after_days: 30.0,
                keep_every_s: 600,
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_lay_over_the_fleet() {
        let c: RetentionConfig = toml::from_str(
            "max_bytes = 1000\n[vessels.aurora]\nmax_age_days = 30\nmax_bytes = 10\n",
        )
        .unwrap();
        assert!(c.validate().is_empty(), "{:?}", c.validate());
        let day = 86_400_000_000_000;
        let fleet = c.policy("boreas");
        assert_eq!(fleet.max_age_ns, Some(365 * day));
        assert_eq!(fleet.max_bytes, None);
        assert_eq!(
            fleet.thin,
            [(7 * day, 60_000_000_000), (30 * day, 600_000_000_000)]
        );
        let a = c.policy("aurora");
        assert_eq!((a.max_age_ns, a.max_bytes), (Some(30 * day), Some(10)));
        assert_eq!(a.thin, fleet.thin);
    }

    #[test]
    fn every_problem_is_named() {
        let c: RetentionConfig = toml::from_str(
            "max_age_days = -1\nmin_free_percent = 95\ninterval_s = 0\nmax_bytes = 0\n\
             thin = [{after_days = 2, keep_every_s = 60}, {after_days = 1, keep_every_s = 600}]\n\
             [vessels.Bad_Name]\n[vessels.aurora]\nmax_bytes = 0\n\
             thin = [{after_days = 1, keep_every_s = 600}, {after_days = 2, keep_every_s = 60}]\n",
        )
        .unwrap();
        let p = c.validate();
        let keys: Vec<_> = p.iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
            [
                "retention.max_age_days",
                "retention.min_free_percent",
                "retention.interval_s",
                "retention.max_bytes",
                "retention.thin",
                "retention.vessels",
                "retention.vessels",
                "retention.vessels",
            ]
        );
        assert!(p[5].message.contains("Bad_Name"), "{p:?}");
        assert!(p[6].message.contains("aurora") && p[6].message.contains("max_bytes"));
        assert!(p[7].message.contains("aurora") && p[7].message.contains("thin"));
    }
}
