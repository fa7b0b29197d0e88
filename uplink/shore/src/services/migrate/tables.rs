//! Copies one table whole, a page at a time by its key: the tables whose
//! rows need nothing else on the target first (everything but `thumbs`,
//! whose blobs go first: [`super::thumbs`]).

use crate::adapters::index::bulk::Table;
use crate::services::migrate::report::Tally;
use crate::services::migrate::{MigrateError, PAGE_ROWS, Side};

/// Copies `table` from `from` to `to`; rows already there are left as they
/// are and counted. Idempotent; an interrupted copy starts over and skips
/// what it wrote.
pub async fn copy(from: &Side, to: &Side, table: &'static Table) -> Result<Tally, MigrateError> {
    let mut tally = Tally {
        name: table.name,
        ..Tally::default()
    };
    let mut after = None;
    loop {
        let rows = from
            .index
            .read_rows(table, after.as_deref(), PAGE_ROWS)
            .await?;
        let Some(last) = rows.last() else { break };
        after = Some(last[..table.key_len].to_vec());
        let new = to.index.write_rows(table, &rows).await?;
        tally.copied += new;
        tally.already += rows.len() as u64 - new;
    }
    Ok(tally)
}
