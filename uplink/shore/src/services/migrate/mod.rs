//! `seaframe-shore migrate --from <old shore.toml> --to <new shore.toml>`:
//! copies a shore's blobs and index to another shore's stores, whichever
//! back ends each side has (disk or S3, SQLite or PostgreSQL) — the step
//! that moves an embedded shore onto PostgreSQL + S3.
//!
//! Order and invariants:
//! - thumbnails first ([`thumbs`]): a page of rows by id, the blobs the
//!   target lacks, then those rows — never a row without its blob on the
//!   target. Ids are kept (and PostgreSQL's sequence moved past them), so
//!   every image URL and every `latest_id` stays valid;
//! - then every other table ([`crate::adapters::index::bulk::TABLES`]), rows as they
//!   are, `accounts` before its tokens and sessions;
//! - everything is written with "ignore what is there": a second run
//!   copies nothing, an interrupted one picks up where it stopped, and
//!   memory holds one page ([`PAGE_ROWS`]);
//! - at the end the counts are compared ([`verify`]); a difference is an
//!   error naming the table.
//!
//! The source shore should be stopped: rows it indexes during the copy may
//! be missed by a table already copied (the final counts then differ and
//! say so); a second run copies them.

pub mod report;
mod tables;
mod thumbs;
mod verify;

use std::sync::Arc;

use crate::adapters::blobs::{BlobError, Blobs};
use crate::adapters::config::{Config, IndexUrl};
use crate::adapters::index::bulk::{TABLES, THUMBS};
use crate::adapters::index::{Index, IndexError};
pub use report::{Report, Tally};

/// Rows read (and written) at once.
pub const PAGE_ROWS: u32 = 500;

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// Both configs name the same index: nothing to do, and a mistake.
    #[error("the source and the target use the same index ({0}): nothing to migrate")]
    SameIndex(String),
    #[error("{side}: {why}")]
    Config { side: &'static str, why: String },
    #[error("index: {0}")]
    Index(#[from] IndexError),
    #[error("blobs: {0}")]
    Blobs(#[from] BlobError),
}

/// One shore's stores.
#[derive(Debug)]
pub struct Side {
    pub index: Arc<dyn Index>,
    pub blobs: Blobs,
}

impl Side {
    /// Opens (and migrates the schema of) the stores `cfg` names.
    pub async fn open(cfg: &Config, side: &'static str) -> Result<Self, MigrateError> {
        let url = index_url(cfg, side)?;
        let blobs = cfg
            .blobs
            .open(&cfg.data_dir)
            .map_err(|why| MigrateError::Config { side, why })?;
        Ok(Self {
            index: crate::adapters::index::open(&url).await?,
            blobs,
        })
    }
}

fn index_url(cfg: &Config, side: &'static str) -> Result<IndexUrl, MigrateError> {
    cfg.index_url()
        .map_err(|why| MigrateError::Config { side, why })
}

/// Refuses a source and target that name the same index (a SQLite file
/// under two spellings too).
pub fn refuse_same(from: &Config, to: &Config) -> Result<(), MigrateError> {
    let canonical = |url: IndexUrl| match url {
        IndexUrl::Sqlite(path) => IndexUrl::Sqlite(std::fs::canonicalize(&path).unwrap_or(path)),
        pg => pg,
    };
    let a = canonical(index_url(from, "--from")?);
    let b = canonical(index_url(to, "--to")?);
    if a == b {
        let shown = match &a {
            IndexUrl::Sqlite(path) => format!("sqlite:{}", path.display()),
            IndexUrl::Postgres(_) => "the same PostgreSQL URL".to_owned(),
        };
        return Err(MigrateError::SameIndex(shown));
    }
    Ok(())
}

/// Copies everything from `from` to `to` and counts both sides.
/// Idempotent and resumable; the caller decides what a mismatch means
/// ([`Report::mismatches`]).
pub async fn run(from: &Side, to: &Side) -> Result<Report, MigrateError> {
    let copied = thumbs::copy(from, to).await?;
    let mut report = Report {
        blobs: copied.blobs,
        blobs_missing_on_source: copied.missing_on_source,
        tables: vec![copied.rows],
    };
    for table in TABLES {
        tracing::info!(table = table.name, "copying");
        report.tables.push(tables::copy(from, to, table).await?);
    }
    for (table, tally) in std::iter::once(&THUMBS)
        .chain(TABLES)
        .zip(report.tables.iter_mut())
    {
        (tally.source, tally.target) = verify::rows(from, to, table).await?;
    }
    report.blobs.source = report.tables[0].source;
    report.blobs.target = verify::blobs_on_target(to).await?;
    Ok(report)
}
