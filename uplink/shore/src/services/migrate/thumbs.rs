//! Copies the thumbnails: per page of rows (by id), the blobs of the rows
//! the target lacks are read from the source and stored on the target,
//! and only then are those rows written, ids as they were — so the target
//! never holds a row without its blob, and an image's URL (`/thumbs/<id>`)
//! stays valid. A row already on the target has its blob there (the same
//! invariant held when it was written), so a second run reads no blob.

use std::collections::HashSet;

use futures_util::{StreamExt, TryStreamExt, stream};

use crate::adapters::blobs::{BlobError, BlobName, NewBlob};
use crate::adapters::index::bulk::{Cell, THUMBS};
use crate::adapters::index::{IndexError, camera, vessel};
use crate::services::migrate::report::Tally;
use crate::services::migrate::{MigrateError, PAGE_ROWS, Side};

/// Source blobs read at once (an object store answers each in a round trip).
const READ_CONCURRENCY: usize = 16;

/// The thumbnails' and their blobs' tallies.
#[derive(Debug, Default)]
pub struct Copied {
    pub rows: Tally,
    pub blobs: Tally,
    pub missing_on_source: u64,
}

/// A `thumbs` row's id and where its blob is (columns: id, vessel,
/// camera, captured_at_ns, …).
pub(super) fn blob_of(row: &[Cell]) -> Result<(i64, BlobName), IndexError> {
    match row {
        [
            Cell::Int(id),
            Cell::Text(v),
            Cell::Text(c),
            Cell::Int(ns),
            ..,
        ] => Ok((
            *id,
            BlobName {
                vessel: vessel(v)?,
                camera: camera(c)?,
                captured_at_ns: *ns,
            },
        )),
        _ => Err(IndexError::Corrupt(format!("thumbs row {row:?}"))),
    }
}

/// The source has no blob under this name (as opposed to failing to say).
fn is_missing(e: &BlobError) -> bool {
    match e {
        BlobError::Read { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
        BlobError::Store { source, .. } => matches!(source, object_store::Error::NotFound { .. }),
        _ => false,
    }
}

/// Copies every thumbnail row with its blob. Idempotent.
pub async fn copy(from: &Side, to: &Side) -> Result<Copied, MigrateError> {
    let mut out = Copied {
        rows: Tally {
            name: THUMBS.name,
            ..Tally::default()
        },
        blobs: Tally {
            name: "blobs",
            ..Tally::default()
        },
        missing_on_source: 0,
    };
    let mut after: Option<Vec<Cell>> = None;
    loop {
        let rows = from
            .index
            .read_rows(&THUMBS, after.as_deref(), PAGE_ROWS)
            .await?;
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
            break;
        };
        let (first_id, _) = blob_of(first)?;
        let (last_id, _) = blob_of(last)?;
        after = Some(last[..THUMBS.key_len].to_vec());
        let present: HashSet<i64> = to
            .index
            .thumb_ids(first_id, last_id)
            .await?
            .into_iter()
            .collect();
        let mut todo = Vec::new();
        for row in rows {
            let (id, name) = blob_of(&row)?;
            if present.contains(&id) {
                out.rows.already += 1;
                out.blobs.already += 1;
            } else {
                todo.push((row, name));
            }
        }
        let read: Vec<Option<(Vec<Cell>, NewBlob)>> = stream::iter(todo)
            .map(|(row, name)| async move {
                match from.blobs.read(&name).await {
                    Ok(jpeg) => Ok(Some((row, NewBlob { name, jpeg }))),
                    Err(e) if is_missing(&e) => {
                        tracing::warn!(name = ?name, "no blob on the source: row not copied");
                        Ok(None)
                    }
                    Err(e) => Err(e),
                }
            })
            .buffered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        out.missing_on_source += read.iter().filter(|r| r.is_none()).count() as u64;
        let (rows, blobs): (Vec<_>, Vec<_>) = read.into_iter().flatten().unzip();
        to.blobs.write_batch(&blobs).await?;
        out.blobs.copied += blobs.len() as u64;
        let new = to.index.write_rows(&THUMBS, &rows).await?;
        out.rows.copied += new;
        out.rows.already += rows.len() as u64 - new;
    }
    Ok(out)
}
