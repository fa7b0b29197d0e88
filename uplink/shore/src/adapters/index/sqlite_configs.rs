//! [`ConfigStore`] on SQLite: the `configs` table (a vessel's desired
//! overlay, its version and its last ack) and `config_acks` (the history).

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use seaframe_wire::VesselName;
use seaframe_wire::message::ConfigAck;

use crate::adapters::index::{
    ACK_HISTORY_LEN, AckColumns, ConfigChange, ConfigState, Fut, IndexError, ReceivedAck,
    ack_status_str, ack_version_i64, config_state, desired_value, received_ack, version_u64,
    vessel,
};
use crate::base::desired;

use super::SqliteIndex;
use crate::adapters::index::configs::ConfigStore;

impl ConfigStore for SqliteIndex {
    fn store_ack<'a>(
        &'a self,
        vessel: &'a VesselName,
        ack: &'a ConfigAck,
        received_at_ns: i64,
    ) -> Fut<'a, ()> {
        let (vessel, ack) = (vessel.to_string(), ack.clone());
        self.write(move |conn| {
            // Immediate: the write lock first, so that shores sharing the
            // file see each other's newest ack.
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let (version, status) = (ack_version_i64(&ack), ack_status_str(ack.status));
            let newest: Option<(i64, String, Option<String>)> = tx
                .query_row(
                    "SELECT version, status, error FROM config_acks WHERE vessel = ?1 \
                     ORDER BY id DESC LIMIT 1",
                    [&vessel],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            if newest == Some((version, status.to_owned(), ack.error.clone())) {
                return Ok(());
            }
            // An ack for a vessel never configured from here still shows.
            tx.execute(
                "INSERT INTO configs (vessel, version, desired, ack_version, ack_status, ack_error, \
                 ack_received_at_ns) VALUES (?1, 0, '{}', ?2, ?3, ?4, ?5) ON CONFLICT (vessel) \
                 DO UPDATE SET ack_version = excluded.ack_version, ack_status = excluded.ack_status, \
                 ack_error = excluded.ack_error, ack_received_at_ns = excluded.ack_received_at_ns",
                params![vessel, version, status, ack.error, received_at_ns],
            )?;
            tx.execute(
                "INSERT INTO config_acks (vessel, version, status, error, received_at_ns) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![vessel, version, status, ack.error, received_at_ns],
            )?;
            tx.execute(
                "DELETE FROM config_acks WHERE vessel = ?1 AND id NOT IN \
                 (SELECT id FROM config_acks WHERE vessel = ?1 ORDER BY id DESC LIMIT ?2)",
                params![vessel, ACK_HISTORY_LEN as i64],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    fn ack_history<'a>(&'a self, v: &'a VesselName) -> Fut<'a, Vec<ReceivedAck>> {
        let v = v.to_string();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT version, status, error, received_at_ns FROM config_acks \
                 WHERE vessel = ?1 ORDER BY id DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![v, ACK_HISTORY_LEN as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                out.extend(received_ack(row?)?);
            }
            Ok(out)
        })
    }

    fn put_config<'a>(&'a self, v: &'a VesselName, desired: &'a serde_json::Value) -> Fut<'a, u64> {
        let (v, desired) = (v.to_string(), desired.to_string());
        self.write(move |conn| {
            let version: i64 = conn.query_row(
                "INSERT INTO configs (vessel, version, desired) VALUES (?1, 1, ?2) \
                 ON CONFLICT (vessel) DO UPDATE SET version = configs.version + 1, \
                 desired = excluded.desired RETURNING version",
                params![v, desired],
                |r| r.get(0),
            )?;
            u64::try_from(version).map_err(|_| IndexError::Corrupt(format!("version {version}")))
        })
    }

    fn patch_config<'a>(
        &'a self,
        v: &'a VesselName,
        patch: &'a serde_json::Value,
    ) -> Fut<'a, ConfigChange> {
        let (v, patch) = (v.to_string(), patch.clone());
        self.write(move |conn| {
            // Immediate: the write lock before the read, so that no other
            // writer (a shore sharing the file) folds in between.
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT INTO configs (vessel, version, desired) VALUES (?1, 0, '{}') \
                 ON CONFLICT (vessel) DO NOTHING",
                [&v],
            )?;
            let stored: String =
                tx.query_row("SELECT desired FROM configs WHERE vessel = ?1", [&v], |r| {
                    r.get(0)
                })?;
            let desired = desired::fold(&desired_value(&stored)?, &patch)?;
            let version: i64 = tx.query_row(
                "UPDATE configs SET version = version + 1, desired = ?2 WHERE vessel = ?1 \
                 RETURNING version",
                params![v, desired.to_string()],
                |r| r.get(0),
            )?;
            tx.commit()?;
            Ok(ConfigChange {
                version: version_u64(version)?,
                desired,
            })
        })
    }

    fn config<'a>(&'a self, v: &'a VesselName) -> Fut<'a, Option<ConfigState>> {
        let v = v.to_string();
        self.read(move |conn| {
            let row = conn
                .query_row(
                    "SELECT version, desired, ack_version, ack_status, ack_error, \
                     ack_received_at_ns FROM configs WHERE vessel = ?1",
                    [v],
                    |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            ack_columns(r, 2)?,
                        ))
                    },
                )
                .optional()?;
            row.map(|(version, desired, ack)| config_state(version, &desired, ack))
                .transpose()
        })
    }

    fn configs(&self) -> Fut<'_, Vec<(VesselName, ConfigState)>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT vessel, version, desired, ack_version, ack_status, ack_error, \
                 ack_received_at_ns FROM configs ORDER BY vessel",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    ack_columns(r, 3)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (v, version, desired, ack) = row?;
                out.push((vessel(&v)?, config_state(version, &desired, ack)?));
            }
            Ok(out)
        })
    }
}

/// The ack columns `ack_version, ack_status, ack_error, ack_received_at_ns`
/// of a `configs` row, starting at column `at`.
fn ack_columns(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<AckColumns> {
    Ok((r.get(at)?, r.get(at + 1)?, r.get(at + 2)?, r.get(at + 3)?))
}
