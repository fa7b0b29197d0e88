//! The alert stage: every `evaluate_every_s` it has the index evaluate
//! the alerts at the clock's instant ([`FleetHealth::refresh_alerts`]),
//! logs what was raised and cleared, and wakes the live feed when
//! something changed. Every instance runs one; the index serialises them
//! and they agree, since they read the same rows (an instance whose clock
//! is ahead sees a vessel stale a little earlier: the alert's `since` is
//! the same).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio::sync::Notify;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::adapters::index::Index;
use crate::adapters::index::health::AlertsChange;
use crate::base::alerts::{AlertsConfig, Clock};
use crate::services::metrics::{Metrics, add};

#[derive(Clone)]
pub struct Evaluator {
    pub index: Arc<dyn Index>,
    pub cfg: AlertsConfig,
    pub clock: Clock,
    pub metrics: Arc<Metrics>,
    /// The live feed's wake-up: notified when alerts or online states changed.
    pub changed: Arc<Notify>,
}

impl std::fmt::Debug for Evaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluator")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

impl Evaluator {
    pub async fn run(self, shutdown: CancellationToken) -> Result<()> {
        let mut tick = tokio::time::interval(Duration::from_secs(self.cfg.evaluate_every_s));
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            // An index failure is retried at the next tick (the alerts
            // stay as they were meanwhile).
            if let Err(e) = self.once().await {
                add(&self.metrics.alert_evaluation_errors, 1);
                tracing::warn!(error = %e, "evaluating the alerts failed; next tick retries");
            }
        }
        Ok(())
    }

    /// One evaluation at the clock's instant.
    pub async fn once(&self) -> Result<AlertsChange, crate::adapters::index::IndexError> {
        let now_ns = (self.clock)();
        let change = self.index.refresh_alerts(now_ns, &self.cfg).await?;
        add(&self.metrics.alert_evaluations, 1);
        add(&self.metrics.alerts_raised, change.raised.len() as u64);
        add(&self.metrics.alerts_cleared, change.cleared.len() as u64);
        for a in &change.raised {
            tracing::warn!(vessel = %a.vessel, camera = ?a.camera.as_ref().map(|c| c.as_str()), kind = a.kind.as_str(), detail = %a.detail, "alert raised");
        }
        for a in &change.cleared {
            tracing::info!(vessel = %a.vessel, camera = ?a.camera.as_ref().map(|c| c.as_str()), kind = a.kind.as_str(), "alert cleared");
        }
        if change.marked_offline > 0 {
            tracing::info!(
                vessels = change.marked_offline,
                "marked offline: quiet for longer than stale_after_s"
            );
        }
        if !change.raised.is_empty() || !change.cleared.is_empty() || change.marked_offline > 0 {
            self.changed.notify_one();
        }
        Ok(change)
    }
}
