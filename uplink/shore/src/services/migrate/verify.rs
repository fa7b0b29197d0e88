//! The counts a run ends with: rows per table on both sides, and how many
//! of the target's thumbnails have their blob on the target (one existence
//! check each: a HEAD request on an object store). Counting, not
//! comparing bytes: a blob is stored whole or not at all.

use futures_util::{StreamExt, TryStreamExt, stream};

use crate::adapters::index::bulk::{Cell, THUMBS, Table};
use crate::services::migrate::thumbs::blob_of;
use crate::services::migrate::{MigrateError, PAGE_ROWS, Side};

/// Existence checks at once.
const CHECK_CONCURRENCY: usize = 16;

/// Rows of `table` on the source and on the target.
pub async fn rows(from: &Side, to: &Side, table: &Table) -> Result<(u64, u64), MigrateError> {
    Ok((
        from.index.count_rows(table).await?,
        to.index.count_rows(table).await?,
    ))
}

/// How many of the target's thumbnails have their blob on the target.
pub async fn blobs_on_target(to: &Side) -> Result<u64, MigrateError> {
    let mut held = 0;
    let mut after: Option<Vec<Cell>> = None;
    loop {
        let rows = to
            .index
            .read_rows(&THUMBS, after.as_deref(), PAGE_ROWS)
            .await?;
        let Some(last) = rows.last() else { break };
        after = Some(last[..THUMBS.key_len].to_vec());
        let names = rows
            .iter()
            .map(|r| blob_of(r).map(|(_, name)| name))
            .collect::<Result<Vec<_>, _>>()?;
        let found: Vec<bool> = stream::iter(names)
            .map(|name| async move { to.blobs.exists(&name).await })
            .buffered(CHECK_CONCURRENCY)
            .try_collect()
            .await?;
        held += found.into_iter().filter(|f| *f).count() as u64;
    }
    Ok(held)
}
