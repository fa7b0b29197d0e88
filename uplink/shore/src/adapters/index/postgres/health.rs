//! [`FleetHealth`] on PostgreSQL: `vessel_status`, `backlog_samples` and
//! `alerts` (migration 3). A status is stored under an advisory lock per
//! vessel and the alerts are refreshed under one advisory lock for the
//! fleet, so that shore instances sharing the database queue there and
//! each sees what the one before it wrote.

use seaframe_wire::VesselName;
use seaframe_wire::message::Health;
use tokio_postgres::{GenericClient, Transaction};

use crate::adapters::index::health::{
    AlertsChange, BACKLOG_KEEP_MS, BACKLOG_SAMPLE_EVERY_MS, FleetHealth, alert_row, backlog_i64,
    camera_column, status_from_json, status_to_json,
};
use crate::adapters::index::postgres::PgIndex;
use crate::adapters::index::{Fut, IndexError, vessel};
use crate::base::alerts::kept::KeptStatus;
use crate::base::alerts::rules::{self, FleetState};
use crate::base::alerts::{Alert, AlertsConfig};

/// Arbitrary constants: the advisory locks (statuses by vessel: this and
/// the vessel's hash; alerts: this alone).
const STATUS_LOCK: i32 = 0x5EAF_5747;
const ALERTS_LOCK: i64 = 0x5EAF_A1E7;

/// The kept status of `vessel` (a row that does not read back is logged
/// and replaced: a bad row must not stop ingest).
async fn kept(tx: &Transaction<'_>, vessel: &str) -> Result<Option<KeptStatus>, IndexError> {
    let row = tx
        .query_opt(
            "SELECT status FROM vessel_status WHERE vessel = $1",
            &[&vessel],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    let json: &str = row.try_get(0)?;
    Ok(match status_from_json(vessel, json) {
        Ok(k) => Some(k),
        Err(e) => {
            tracing::warn!(error = %e, "replacing a kept status that does not read back");
            None
        }
    })
}

/// As SQLite's: drop samples from the vessel's future and past the keep,
/// then add this one unless the newest is recent.
async fn sample_backlog(tx: &Transaction<'_>, vessel: &str, h: &Health) -> Result<(), IndexError> {
    let oldest = h.sent_at_ms.saturating_sub(BACKLOG_KEEP_MS);
    tx.execute(
        "DELETE FROM backlog_samples WHERE vessel = $1 AND (sent_at_ms > $2 OR sent_at_ms < $3)",
        &[&vessel, &h.sent_at_ms, &oldest],
    )
    .await?;
    let newest: Option<i64> = tx
        .query_one(
            "SELECT max(sent_at_ms) FROM backlog_samples WHERE vessel = $1",
            &[&vessel],
        )
        .await?
        .try_get(0)?;
    if newest.is_none_or(|n| n <= h.sent_at_ms.saturating_sub(BACKLOG_SAMPLE_EVERY_MS)) {
        tx.execute(
            "INSERT INTO backlog_samples (vessel, sent_at_ms, backlog) VALUES ($1, $2, $3) \
             ON CONFLICT (vessel, sent_at_ms) DO NOTHING",
            &[&vessel, &h.sent_at_ms, &backlog_i64(h.outbox_backlog)],
        )
        .await?;
    }
    Ok(())
}

async fn read_alerts(c: &impl GenericClient) -> Result<Vec<Alert>, IndexError> {
    let rows = c
        .query(
            "SELECT vessel, camera, kind, since_ns, detail FROM alerts \
             ORDER BY vessel, camera, kind",
            &[],
        )
        .await?;
    rows.iter()
        .map(|r| {
            alert_row(
                r.try_get(0)?,
                r.try_get(1)?,
                r.try_get(2)?,
                r.try_get(3)?,
                r.try_get(4)?,
            )
        })
        .collect()
}

async fn read_statuses(
    c: &impl GenericClient,
) -> Result<Vec<(VesselName, KeptStatus)>, IndexError> {
    let rows = c
        .query(
            "SELECT vessel, status FROM vessel_status ORDER BY vessel",
            &[],
        )
        .await?;
    rows.iter()
        .map(|r| {
            let v: &str = r.try_get(0)?;
            Ok((vessel(v)?, status_from_json(v, r.try_get(1)?)?))
        })
        .collect()
}

/// What the rules read, within the caller's transaction.
async fn fleet_state(tx: &Transaction<'_>, cfg: &AlertsConfig) -> Result<FleetState, IndexError> {
    let mut state = FleetState {
        statuses: read_statuses(tx).await?,
        ..FleetState::default()
    };
    for r in tx
        .query("SELECT name, last_seen_ns FROM vessels ORDER BY name", &[])
        .await?
    {
        state.vessels.push((vessel(r.try_get(0)?)?, r.try_get(1)?));
    }
    let window_ms = i64::try_from(cfg.backlog_window_s.saturating_mul(1000)).unwrap_or(i64::MAX);
    for r in tx
        .query(
            "SELECT s.vessel, min(s.backlog) FROM backlog_samples s \
             JOIN vessel_status h ON h.vessel = s.vessel \
             WHERE s.sent_at_ms >= h.sent_at_ms - $1 AND s.sent_at_ms <= h.sent_at_ms \
             GROUP BY s.vessel",
            &[&window_ms],
        )
        .await?
    {
        let floor: i64 = r.try_get(1)?;
        state
            .backlog_floor
            .insert(vessel(r.try_get(0)?)?, u64::try_from(floor).unwrap_or(0));
    }
    Ok(state)
}

impl FleetHealth for PgIndex {
    fn store_status<'a>(
        &'a self,
        v: &'a VesselName,
        health: &'a Health,
        received_at_ns: i64,
    ) -> Fut<'a, ()> {
        Box::pin(async move {
            let v = v.as_str();
            let mut client = self.writer().await?;
            let tx = client.transaction().await?;
            tx.execute(
                "SELECT pg_advisory_xact_lock($1, hashtext($2))",
                &[&STATUS_LOCK, &v],
            )
            .await?;
            let prev = kept(&tx, v).await?;
            if prev
                .as_ref()
                .is_some_and(|p| p.received_at_ns > received_at_ns)
            {
                return Ok(());
            }
            sample_backlog(&tx, v, health).await?;
            let next = KeptStatus::next(prev.as_ref(), health.clone(), received_at_ns);
            tx.execute(
                "INSERT INTO vessel_status (vessel, received_at_ns, sent_at_ms, status) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (vessel) DO UPDATE SET \
                 received_at_ns = excluded.received_at_ns, sent_at_ms = excluded.sent_at_ms, \
                 status = excluded.status",
                &[
                    &v,
                    &received_at_ns,
                    &health.sent_at_ms,
                    &status_to_json(&next),
                ],
            )
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    fn statuses(&self) -> Fut<'_, Vec<(VesselName, KeptStatus)>> {
        Box::pin(async move { read_statuses(&*self.reader().await?).await })
    }

    fn status<'a>(&'a self, v: &'a VesselName) -> Fut<'a, Option<KeptStatus>> {
        Box::pin(async move {
            let row = self
                .reader()
                .await?
                .query_opt(
                    "SELECT status FROM vessel_status WHERE vessel = $1",
                    &[&v.as_str()],
                )
                .await?;
            row.map(|r| status_from_json(v.as_str(), r.try_get(0)?))
                .transpose()
        })
    }

    fn alerts(&self) -> Fut<'_, Vec<Alert>> {
        Box::pin(async move { read_alerts(&*self.reader().await?).await })
    }

    fn refresh_alerts<'a>(&'a self, now_ns: i64, cfg: &'a AlertsConfig) -> Fut<'a, AlertsChange> {
        Box::pin(async move {
            let mut client = self.writer().await?;
            let tx = client.transaction().await?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&ALERTS_LOCK])
                .await?;
            let state = fleet_state(&tx, cfg).await?;
            let stored = read_alerts(&tx).await?;
            let r = rules::reconcile(&stored, rules::evaluate(&state, cfg, now_ns));
            for a in r.insert.iter().chain(&r.update) {
                tx.execute(
                    "INSERT INTO alerts (vessel, camera, kind, since_ns, detail) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (vessel, camera, kind) DO UPDATE \
                     SET since_ns = excluded.since_ns, detail = excluded.detail",
                    &[
                        &a.vessel.as_str(),
                        &camera_column(a),
                        &a.kind.as_str(),
                        &a.since_ns,
                        &a.detail,
                    ],
                )
                .await?;
            }
            for a in &r.delete {
                tx.execute(
                    "DELETE FROM alerts WHERE vessel = $1 AND camera = $2 AND kind = $3",
                    &[&a.vessel.as_str(), &camera_column(a), &a.kind.as_str()],
                )
                .await?;
            }
            let marked = tx
                .execute(
                    "UPDATE vessels SET online = false WHERE online AND last_seen_ns < $1",
                    &[&rules::stale_before_ns(cfg, now_ns)],
                )
                .await?;
            tx.commit().await?;
            Ok(AlertsChange {
                raised: r.insert,
                cleared: r.delete,
                marked_offline: marked,
            })
        })
    }
}
