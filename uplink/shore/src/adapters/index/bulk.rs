//! Whole-table reads and writes for `seaframe-shore migrate`
//! ([`crate::services::migrate`]): the part of the [`super::Index`] trait that moves
//! rows between back ends as they are, ids included. Both back ends hold
//! the same tables with the same columns ([`TABLES`] names the ones a
//! shore's history lives in); each implements [`BulkRows`] in a child
//! module (`sqlite_bulk.rs`, `postgres_bulk.rs`).
//!
//! Invariants both keep:
//! - [`BulkRows::read_rows`] pages by the table's key, ascending, so a
//!   copy holds one page in memory and can start again after any page;
//! - [`BulkRows::write_rows`] is one transaction that ignores rows whose
//!   key (or any unique column set) is already there: idempotent;
//! - a table whose `id` a sequence assigns (PostgreSQL) has the sequence
//!   moved past the highest id written, so rows inserted later by a shore
//!   never collide with copied ones.

use crate::adapters::index::{Fut, IndexError};

/// One column's value, as both databases can hold it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

/// What a column holds (PostgreSQL types differ: `BOOLEAN`, `INTEGER`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    Real,
    Text,
    /// `BOOLEAN` in PostgreSQL, `0`/`1` in SQLite; a [`Cell::Int`] here.
    Bool,
}

/// A table copied whole: its columns (the first ones its key), in the
/// order rows are read and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [(&'static str, Kind)],
    /// How many leading columns are the primary key (what pages go by).
    pub key_len: usize,
    /// `id` is assigned by a sequence in PostgreSQL (kept as copied).
    pub serial_id: bool,
}

impl Table {
    pub fn key_columns(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.columns[..self.key_len].iter().map(|(c, _)| *c)
    }

    pub fn column_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.columns.iter().map(|(c, _)| *c)
    }
}

use Kind::{Bool, Int, Real, Text};

/// The thumbnails (ids kept: an image's URL names its id).
pub const THUMBS: Table = Table {
    name: "thumbs",
    columns: &[
        ("id", Int),
        ("vessel", Text),
        ("camera", Text),
        ("captured_at_ns", Int),
        ("seq", Int),
        ("lat", Real),
        ("lon", Real),
        ("width_px", Int),
        ("height_px", Int),
        ("bytes", Int),
        ("received_at_ns", Int),
    ],
    key_len: 1,
    serial_id: true,
};

/// Every other table a shore's history and sign-ins live in, in an order
/// that writes a referenced row before the rows referring to it
/// (`accounts` before `api_tokens` and `sessions`). Not copied:
/// `thumb_usage` (rebuilt by the target's triggers as thumbnails arrive),
/// `thumb_garbage` (the source's pending deletions, of blobs never
/// copied) and `retention_state` (when the source last ran retention).
pub const TABLES: &[Table] = &[
    Table {
        name: "cameras",
        columns: &[
            ("vessel", Text),
            ("camera", Text),
            ("latest_id", Int),
            ("latest_ns", Int),
        ],
        key_len: 2,
        serial_id: false,
    },
    Table {
        name: "vessels",
        columns: &[
            ("name", Text),
            ("online", Bool),
            ("last_seen_ns", Int),
            ("cameras", Text),
            ("last_fix", Text),
            ("last_fix_at_ms", Int),
        ],
        key_len: 1,
        serial_id: false,
    },
    Table {
        name: "fixes",
        columns: &[
            ("vessel", Text),
            ("at_ms", Int),
            ("lat", Real),
            ("lon", Real),
            ("fix", Text),
            ("speed_kn", Real),
            ("course_deg", Real),
            ("heading_deg", Real),
        ],
        key_len: 2,
        serial_id: false,
    },
    Table {
        name: "configs",
        columns: &[
            ("vessel", Text),
            ("version", Int),
            ("desired", Text),
            ("ack_version", Int),
            ("ack_status", Text),
            ("ack_error", Text),
            ("ack_received_at_ns", Int),
        ],
        key_len: 1,
        serial_id: false,
    },
    Table {
        name: "config_acks",
        columns: &[
            ("id", Int),
            ("vessel", Text),
            ("version", Int),
            ("status", Text),
            ("error", Text),
            ("received_at_ns", Int),
        ],
        key_len: 1,
        serial_id: true,
    },
    Table {
        name: "vessel_status",
        columns: &[
            ("vessel", Text),
            ("received_at_ns", Int),
            ("sent_at_ms", Int),
            ("status", Text),
        ],
        key_len: 1,
        serial_id: false,
    },
    Table {
        name: "backlog_samples",
        columns: &[("vessel", Text), ("sent_at_ms", Int), ("backlog", Int)],
        key_len: 2,
        serial_id: false,
    },
    Table {
        name: "alerts",
        columns: &[
            ("vessel", Text),
            ("camera", Text),
            ("kind", Text),
            ("since_ns", Int),
            ("detail", Text),
        ],
        key_len: 3,
        serial_id: false,
    },
    Table {
        name: "accounts",
        columns: &[
            ("name", Text),
            ("role", Text),
            ("password_hash", Text),
            ("created_at_ns", Int),
        ],
        key_len: 1,
        serial_id: false,
    },
    Table {
        name: "api_tokens",
        columns: &[("hash", Text), ("account", Text), ("created_at_ns", Int)],
        key_len: 1,
        serial_id: false,
    },
    Table {
        name: "sessions",
        columns: &[("hash", Text), ("account", Text), ("expires_at_ns", Int)],
        key_len: 1,
        serial_id: false,
    },
];

/// Whole-table access (for [`crate::services::migrate`]; the service never calls it).
pub trait BulkRows {
    /// Rows whose key is after `after` (all rows for `None`), by key, at
    /// most `limit`; each row's cells in [`Table::columns`] order.
    fn read_rows<'a>(
        &'a self,
        table: &'a Table,
        after: Option<&'a [Cell]>,
        limit: u32,
    ) -> Fut<'a, Vec<Vec<Cell>>>;
    /// Writes `rows` in one transaction, ignoring those already there;
    /// how many were new. Idempotent.
    fn write_rows<'a>(&'a self, table: &'a Table, rows: &'a [Vec<Cell>]) -> Fut<'a, u64>;
    fn count_rows<'a>(&'a self, table: &'a Table) -> Fut<'a, u64>;
    /// Which of the thumbnail ids `first..=last` are indexed.
    fn thumb_ids(&self, first: i64, last: i64) -> Fut<'_, Vec<i64>>;
}

/// A cell that does not fit its column: the source holds what the schema
/// does not allow.
pub(crate) fn misfit(table: &Table, column: &str, cell: &Cell) -> IndexError {
    IndexError::Corrupt(format!("{}.{column}: {cell:?}", table.name))
}
