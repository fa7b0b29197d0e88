//! [`FleetHealth`] on SQLite: `vessel_status`, `backlog_samples` and
//! `alerts` (migration 3). Writes that read first take the write lock
//! first (`BEGIN IMMEDIATE`), so that shores sharing the file queue.

use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};
use seaframe_wire::VesselName;
use seaframe_wire::message::Health;

use crate::adapters::index::health::{
    AlertsChange, BACKLOG_KEEP_MS, BACKLOG_SAMPLE_EVERY_MS, FleetHealth, alert_row, backlog_i64,
    camera_column, status_from_json, status_to_json,
};
use crate::adapters::index::sqlite::SqliteIndex;
use crate::adapters::index::{Fut, IndexError, vessel};
use crate::base::alerts::kept::KeptStatus;
use crate::base::alerts::rules::{self, FleetState};
use crate::base::alerts::{Alert, AlertsConfig};

/// The kept status of `vessel`, if any (a row that does not read back is
/// logged and replaced: a bad row must not stop ingest).
fn kept(tx: &Transaction<'_>, vessel: &str) -> Result<Option<KeptStatus>, IndexError> {
    let json: Option<String> = tx
        .query_row(
            "SELECT status FROM vessel_status WHERE vessel = ?1",
            [vessel],
            |r| r.get(0),
        )
        .optional()?;
    Ok(json.and_then(|j| match status_from_json(vessel, &j) {
        Ok(k) => Some(k),
        Err(e) => {
            tracing::warn!(error = %e, "replacing a kept status that does not read back");
            None
        }
    }))
}

/// Samples the backlog of the status now kept: drops samples from the
/// vessel's future (its clock went back) and past the keep, then adds
/// this one unless the newest is recent.
fn sample_backlog(tx: &Transaction<'_>, vessel: &str, h: &Health) -> Result<(), IndexError> {
    tx.execute(
        "DELETE FROM backlog_samples WHERE vessel = ?1 AND (sent_at_ms > ?2 OR sent_at_ms < ?3)",
        params![
            vessel,
            h.sent_at_ms,
            h.sent_at_ms.saturating_sub(BACKLOG_KEEP_MS)
        ],
    )?;
    let newest: Option<i64> = tx.query_row(
        "SELECT max(sent_at_ms) FROM backlog_samples WHERE vessel = ?1",
        [vessel],
        |r| r.get(0),
    )?;
    if newest.is_none_or(|n| n <= h.sent_at_ms.saturating_sub(BACKLOG_SAMPLE_EVERY_MS)) {
        tx.execute(
            "INSERT INTO backlog_samples (vessel, sent_at_ms, backlog) VALUES (?1, ?2, ?3) \
             ON CONFLICT (vessel, sent_at_ms) DO NOTHING",
            params![vessel, h.sent_at_ms, backlog_i64(h.outbox_backlog)],
        )?;
    }
    Ok(())
}

fn read_alerts(conn: &rusqlite::Connection) -> Result<Vec<Alert>, IndexError> {
    let mut stmt = conn.prepare_cached(
        "SELECT vessel, camera, kind, since_ns, detail FROM alerts ORDER BY vessel, camera, kind",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, String>(4)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (v, c, k, since, detail) = row?;
        out.push(alert_row(&v, &c, &k, since, detail)?);
    }
    Ok(out)
}

fn read_statuses(conn: &rusqlite::Connection) -> Result<Vec<(VesselName, KeptStatus)>, IndexError> {
    let mut stmt =
        conn.prepare_cached("SELECT vessel, status FROM vessel_status ORDER BY vessel")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (v, json) = row?;
        out.push((vessel(&v)?, status_from_json(&v, &json)?));
    }
    Ok(out)
}

/// What the rules read, within the caller's transaction.
fn fleet_state(tx: &Transaction<'_>, cfg: &AlertsConfig) -> Result<FleetState, IndexError> {
    let mut state = FleetState {
        statuses: read_statuses(tx)?,
        ..FleetState::default()
    };
    let mut stmt = tx.prepare_cached("SELECT name, last_seen_ns FROM vessels ORDER BY name")?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?))
    })?;
    for row in rows {
        let (v, seen) = row?;
        state.vessels.push((vessel(&v)?, seen));
    }
    let window_ms = i64::try_from(cfg.backlog_window_s.saturating_mul(1000)).unwrap_or(i64::MAX);
    let mut stmt = tx.prepare_cached(
        "SELECT s.vessel, min(s.backlog) FROM backlog_samples s \
         JOIN vessel_status h ON h.vessel = s.vessel \
         WHERE s.sent_at_ms >= h.sent_at_ms - ?1 AND s.sent_at_ms <= h.sent_at_ms \
         GROUP BY s.vessel",
    )?;
    let rows = stmt.query_map([window_ms], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
    })?;
    for row in rows {
        let (v, floor) = row?;
        state
            .backlog_floor
            .insert(vessel(&v)?, u64::try_from(floor).unwrap_or(0));
    }
    Ok(state)
}

impl FleetHealth for SqliteIndex {
    fn store_status<'a>(
        &'a self,
        v: &'a VesselName,
        health: &'a Health,
        received_at_ns: i64,
    ) -> Fut<'a, ()> {
        let (v, health) = (v.to_string(), health.clone());
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let prev = kept(&tx, &v)?;
            if prev
                .as_ref()
                .is_some_and(|p| p.received_at_ns > received_at_ns)
            {
                return Ok(());
            }
            sample_backlog(&tx, &v, &health)?;
            let sent_at_ms = health.sent_at_ms;
            let next = KeptStatus::next(prev.as_ref(), health, received_at_ns);
            tx.execute(
                "INSERT INTO vessel_status (vessel, received_at_ns, sent_at_ms, status) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (vessel) DO UPDATE SET \
                 received_at_ns = excluded.received_at_ns, sent_at_ms = excluded.sent_at_ms, \
                 status = excluded.status",
                params![v, received_at_ns, sent_at_ms, status_to_json(&next)],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    fn statuses(&self) -> Fut<'_, Vec<(VesselName, KeptStatus)>> {
        self.read(|conn| read_statuses(conn))
    }

    fn status<'a>(&'a self, v: &'a VesselName) -> Fut<'a, Option<KeptStatus>> {
        let v = v.to_string();
        self.read(move |conn| {
            let json: Option<String> = conn
                .query_row(
                    "SELECT status FROM vessel_status WHERE vessel = ?1",
                    [&v],
                    |r| r.get(0),
                )
                .optional()?;
            json.map(|j| status_from_json(&v, &j)).transpose()
        })
    }

    fn alerts(&self) -> Fut<'_, Vec<Alert>> {
        self.read(|conn| read_alerts(conn))
    }

    fn refresh_alerts<'a>(&'a self, now_ns: i64, cfg: &'a AlertsConfig) -> Fut<'a, AlertsChange> {
        let cfg = cfg.clone();
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let state = fleet_state(&tx, &cfg)?;
            let stored = read_alerts(&tx)?;
            let r = rules::reconcile(&stored, rules::evaluate(&state, &cfg, now_ns));
            {
                let mut upsert = tx.prepare_cached(
                    "INSERT INTO alerts (vessel, camera, kind, since_ns, detail) \
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (vessel, camera, kind) DO UPDATE \
                     SET since_ns = excluded.since_ns, detail = excluded.detail",
                )?;
                for a in r.insert.iter().chain(&r.update) {
                    upsert.execute(params![
                        a.vessel.as_str(),
                        camera_column(a),
                        a.kind.as_str(),
                        a.since_ns,
                        a.detail
                    ])?;
                }
                let mut delete = tx.prepare_cached(
                    "DELETE FROM alerts WHERE vessel = ?1 AND camera = ?2 AND kind = ?3",
                )?;
                for a in &r.delete {
                    delete.execute(params![
                        a.vessel.as_str(),
                        camera_column(a),
                        a.kind.as_str()
                    ])?;
                }
            }
            let marked = tx.execute(
                "UPDATE vessels SET online = 0 WHERE online = 1 AND last_seen_ns < ?1",
                [rules::stale_before_ns(&cfg, now_ns)],
            )?;
            tx.commit()?;
            Ok(AlertsChange {
                raised: r.insert,
                cleared: r.delete,
                marked_offline: marked as u64,
            })
        })
    }
}
