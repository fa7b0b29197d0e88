//! The shore instances that share one PostgreSQL index and one share group
//! (migration 8): each has a row in `shore_instances` and, while it runs,
//! holds a session advisory lock named after its MQTT client id on a
//! connection of its own — its lease. A lease that another instance can
//! take belongs to an instance that is gone: PostgreSQL released it when
//! the dead process's connection closed. Used by [`crate::services::peers`].

use tokio_postgres::{Client, NoTls};

use crate::adapters::index::IndexError;
use crate::base::when::now_ns;

pub(super) const MIGRATION: &str = r"
CREATE TABLE shore_instances (
    client_id TEXT PRIMARY KEY,
    share_group TEXT NOT NULL,
    registered_at_ns BIGINT NOT NULL
);
";

/// An arbitrary constant: the class of the instances' leases (the key
/// within it is `hashtext(client_id)`).
const LEASES: i32 = 0x05EA_F1E5;

/// A connection of its own: the session its locks live in.
#[derive(Debug)]
pub struct Instances {
    client: Client,
    /// The connection's IO; it ends when `client` is dropped (which
    /// releases every lock taken on it).
    connection: tokio::task::JoinHandle<()>,
}

impl Drop for Instances {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

impl Instances {
    pub async fn connect(url: &str) -> Result<Self, IndexError> {
        let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
        let connection = tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "the instances' PostgreSQL connection closed");
            }
        });
        Ok(Self { client, connection })
    }

    /// `false` once the connection is lost, and every lease on it with it.
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// Takes the lease of `client_id` on this connection if nobody holds it.
    pub async fn try_lease(&self, client_id: &str) -> Result<bool, IndexError> {
        Ok(self
            .client
            .query_one(
                "SELECT pg_try_advisory_lock($1, hashtext($2))",
                &[&LEASES, &client_id],
            )
            .await?
            .try_get(0)?)
    }

    /// Gives back a lease taken with [`Instances::try_lease`].
    pub async fn release(&self, client_id: &str) -> Result<(), IndexError> {
        self.client
            .execute(
                "SELECT pg_advisory_unlock($1, hashtext($2))",
                &[&LEASES, &client_id],
            )
            .await?;
        Ok(())
    }

    /// Says that `client_id` is a member of `share_group`.
    pub async fn register(&self, client_id: &str, share_group: &str) -> Result<(), IndexError> {
        self.client
            .execute(
                "INSERT INTO shore_instances (client_id, share_group, registered_at_ns) \
                 VALUES ($1, $2, $3) ON CONFLICT (client_id) DO UPDATE \
                 SET share_group = excluded.share_group, registered_at_ns = excluded.registered_at_ns",
                &[&client_id, &share_group, &now_ns()],
            )
            .await?;
        Ok(())
    }

    /// The other members of `share_group`, alive or not.
    pub async fn peers(
        &self,
        client_id: &str,
        share_group: &str,
    ) -> Result<Vec<String>, IndexError> {
        let rows = self
            .client
            .query(
                "SELECT client_id FROM shore_instances \
                 WHERE share_group = $1 AND client_id <> $2 ORDER BY client_id",
                &[&share_group, &client_id],
            )
            .await?;
        rows.iter()
            .map(|r| r.try_get(0).map_err(IndexError::from))
            .collect()
    }

    /// Removes a member whose session has been drained.
    pub async fn forget(&self, client_id: &str) -> Result<(), IndexError> {
        self.client
            .execute(
                "DELETE FROM shore_instances WHERE client_id = $1",
                &[&client_id],
            )
            .await?;
        Ok(())
    }
}
