//! [`ConfigStore`] on PostgreSQL: the `configs` table (a vessel's desired
//! overlay, its version and its last ack) and `config_acks` (the history).

use seaframe_wire::VesselName;
use seaframe_wire::message::ConfigAck;
use tokio_postgres::Row;

use crate::adapters::index::{
    ACK_HISTORY_LEN, AckColumns, ConfigChange, ConfigState, Fut, IndexError, ReceivedAck,
    ack_status_str, ack_version_i64, config_state, desired_value, received_ack, version_u64,
    vessel,
};
use crate::base::desired;

use super::PgIndex;
use crate::adapters::index::configs::ConfigStore;

impl ConfigStore for PgIndex {
    fn store_ack<'a>(
        &'a self,
        v: &'a VesselName,
        ack: &'a ConfigAck,
        received_at_ns: i64,
    ) -> Fut<'a, ()> {
        Box::pin(async move {
            let (v, version, status) =
                (v.as_str(), ack_version_i64(ack), ack_status_str(ack.status));
            let mut client = self.writer().await?;
            let tx = client.transaction().await?;
            // The vessel's row, locked: acks of one vessel stored by two
            // shores at once queue here (and see each other's newest).
            lock_config_row(&tx, v).await?;
            let newest = tx
                .query_opt(
                    "SELECT version, status, error FROM config_acks WHERE vessel = $1 \
                     ORDER BY id DESC LIMIT 1",
                    &[&v],
                )
                .await?;
            if let Some(r) = newest {
                let (nv, ns, ne): (i64, &str, Option<&str>) =
                    (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
                if (nv, ns, ne) == (version, status, ack.error.as_deref()) {
                    return Ok(());
                }
            }
            tx.execute(
                "UPDATE configs SET ack_version = $2, ack_status = $3, ack_error = $4, \
                 ack_received_at_ns = $5 WHERE vessel = $1",
                &[&v, &version, &status, &ack.error, &received_at_ns],
            )
            .await?;
            tx.execute(
                "INSERT INTO config_acks (vessel, version, status, error, received_at_ns) \
                 VALUES ($1, $2, $3, $4, $5)",
                &[&v, &version, &status, &ack.error, &received_at_ns],
            )
            .await?;
            tx.execute(
                "DELETE FROM config_acks WHERE vessel = $1 AND id NOT IN \
                 (SELECT id FROM config_acks WHERE vessel = $1 ORDER BY id DESC LIMIT $2)",
                &[&v, &(ACK_HISTORY_LEN as i64)],
            )
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    fn ack_history<'a>(&'a self, v: &'a VesselName) -> Fut<'a, Vec<ReceivedAck>> {
        Box::pin(async move {
            let rows = self
                .reader()
                .await?
                .query(
                    "SELECT version, status, error, received_at_ns FROM config_acks \
                     WHERE vessel = $1 ORDER BY id DESC LIMIT $2",
                    &[&v.as_str(), &(ACK_HISTORY_LEN as i64)],
                )
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                out.extend(received_ack(ack_columns(r, 0)?)?);
            }
            Ok(out)
        })
    }

    fn put_config<'a>(&'a self, v: &'a VesselName, desired: &'a serde_json::Value) -> Fut<'a, u64> {
        Box::pin(async move {
            let row = self
                .writer()
                .await?
                .query_one(
                    "INSERT INTO configs (vessel, version, desired) VALUES ($1, 1, $2) \
                     ON CONFLICT (vessel) DO UPDATE SET version = configs.version + 1, \
                     desired = excluded.desired RETURNING version",
                    &[&v.as_str(), &desired.to_string()],
                )
                .await?;
            let version: i64 = row.try_get(0)?;
            u64::try_from(version).map_err(|_| IndexError::Corrupt(format!("version {version}")))
        })
    }

    fn patch_config<'a>(
        &'a self,
        v: &'a VesselName,
        patch: &'a serde_json::Value,
    ) -> Fut<'a, ConfigChange> {
        Box::pin(async move {
            let v = v.as_str();
            let mut client = self.writer().await?;
            let tx = client.transaction().await?;
            // Held until commit: a PATCH from another shore waits here and
            // then folds into what this one wrote.
            let stored = lock_config_row(&tx, v).await?;
            let desired = desired::fold(&desired_value(&stored)?, patch)?;
            let version: i64 = tx
                .query_one(
                    "UPDATE configs SET version = version + 1, desired = $2 WHERE vessel = $1 \
                     RETURNING version",
                    &[&v, &desired.to_string()],
                )
                .await?
                .try_get(0)?;
            tx.commit().await?;
            Ok(ConfigChange {
                version: version_u64(version)?,
                desired,
            })
        })
    }

    fn config<'a>(&'a self, v: &'a VesselName) -> Fut<'a, Option<ConfigState>> {
        Box::pin(async move {
            let row = self
                .reader()
                .await?
                .query_opt(
                    "SELECT version, desired, ack_version, ack_status, ack_error, \
                     ack_received_at_ns FROM configs WHERE vessel = $1",
                    &[&v.as_str()],
                )
                .await?;
            match row {
                None => Ok(None),
                Some(r) => Ok(Some(config_state(
                    r.try_get(0)?,
                    r.try_get(1)?,
                    ack_columns(&r, 2)?,
                )?)),
            }
        })
    }

    fn configs(&self) -> Fut<'_, Vec<(VesselName, ConfigState)>> {
        Box::pin(async move {
            let rows = self
                .reader()
                .await?
                .query(
                    "SELECT vessel, version, desired, ack_version, ack_status, ack_error, \
                     ack_received_at_ns FROM configs ORDER BY vessel",
                    &[],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    Ok((
                        vessel(r.try_get(0)?)?,
                        config_state(r.try_get(1)?, r.try_get(2)?, ack_columns(r, 3)?)?,
                    ))
                })
                .collect()
        })
    }
}

/// The ack columns `version, status, error, received_at_ns` of a row,
/// starting at column `at`.
fn ack_columns(r: &Row, at: usize) -> Result<AckColumns, IndexError> {
    Ok((
        r.try_get(at)?,
        r.try_get(at + 1)?,
        r.try_get(at + 2)?,
        r.try_get(at + 3)?,
    ))
}

/// Makes sure the vessel has a `configs` row (version 0, empty overlay),
/// locks it until `tx` ends and returns its overlay.
async fn lock_config_row(
    tx: &tokio_postgres::Transaction<'_>,
    vessel: &str,
) -> Result<String, IndexError> {
    tx.execute(
        "INSERT INTO configs (vessel, version, desired) VALUES ($1, 0, '{}') \
         ON CONFLICT (vessel) DO NOTHING",
        &[&vessel],
    )
    .await?;
    Ok(tx
        .query_one(
            "SELECT desired FROM configs WHERE vessel = $1 FOR UPDATE",
            &[&vessel],
        )
        .await?
        .try_get(0)?)
}
