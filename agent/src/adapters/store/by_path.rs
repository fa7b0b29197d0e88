//! The index seen by path, for repairs of one folder at a time (the disk
//! watch, `fswatch/`): the rows under a folder, the child folders the index
//! knows, the row of one path, and the mark the slow scan keeps. Every
//! query is a range of the unique `rel_path` index: a folder `P/` holds
//! exactly the paths in `[P/, P0)`, as `'0'` follows `'/'` in ASCII.
//!
//! Reads only, apart from the scan mark: dropping and inserting rows is
//! the business of `reconcile.rs`, under the store's lock.

use rusqlite::{OptionalExtension, params};

use crate::adapters::store::StoreError;
use crate::adapters::store::index::Index;

/// A row found by its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRow {
    pub id: i64,
    pub rel_path: String,
    /// Marked for deletion (retention is deleting it, or a crash interrupted that).
    pub garbage: bool,
}

/// Past every path under `prefix`: `"a/b/"` → `"a/b0"`; for the root,
/// past every path (which are ASCII).
fn range_end(prefix: &str) -> String {
    match prefix.strip_suffix('/') {
        Some(folder) => format!("{folder}0"),
        None => char::MAX.to_string(),
    }
}

/// Rows of a range of paths, in path order. Both bounds plain, so that
/// SQLite walks just that range of the unique index (a `?2 IS NULL OR …`
/// would make it scan on to the end of the index).
const ROWS_IN_RANGE: &str = "SELECT id, rel_path, garbage FROM frames \
     WHERE rel_path > ?1 AND rel_path < ?2 ORDER BY rel_path LIMIT ?3";
/// The first path of a range.
const FIRST_IN_RANGE: &str = "SELECT rel_path FROM frames \
     WHERE rel_path > ?1 AND rel_path < ?2 ORDER BY rel_path LIMIT 1";

impl Index {
    /// Up to `limit` rows whose path lies under the folder `prefix` (ending
    /// in `/`, or empty for all) and after `after`, in path order.
    pub fn rows_under(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<PathRow>, StoreError> {
        let conn = self.reader.lock().expect("index reader lock poisoned");
        let mut stmt = conn.prepare_cached(ROWS_IN_RANGE)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let from = after.unwrap_or(prefix); // the folder's own name is no row
        let rows = stmt.query_map(params![from, range_end(prefix), limit], |r| {
            Ok(PathRow {
                id: r.get(0)?,
                rel_path: r.get(1)?,
                garbage: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The names of the child folders under `prefix` (ending in `/`, or
    /// empty for the cameras) that hold at least one row, in the order of
    /// their paths (`a-2/…` before `a/…`). One index seek per child: the
    /// first path past the previous child's range.
    pub fn child_names(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let conn = self.reader.lock().expect("index reader lock poisoned");
        let mut stmt = conn.prepare_cached(FIRST_IN_RANGE)?;
        let end = range_end(prefix);
        let mut names = Vec::new();
        let mut from = prefix.to_owned();
        while let Some(path) = stmt
            .query_row(params![from, end], |r| r.get::<_, String>(0))
            .optional()?
        {
            let rest = path.get(prefix.len()..).unwrap_or_default();
            match rest.split_once('/') {
                Some((name, _)) => {
                    from = format!("{prefix}{name}/{}", char::MAX);
                    names.push(name.to_owned());
                }
                // A file directly in the folder: not the layout; step past it.
                None => from = path,
            }
        }
        Ok(names)
    }

    /// The row of one path, if any (marked for deletion or not).
    pub fn row_by_path(&self, rel_path: &str) -> Result<Option<PathRow>, StoreError> {
        let conn = self.reader.lock().expect("index reader lock poisoned");
        let mut stmt = conn.prepare_cached("SELECT id, garbage FROM frames WHERE rel_path = ?1")?;
        Ok(stmt
            .query_row([rel_path], |r| {
                Ok(PathRow {
                    id: r.get(0)?,
                    rel_path: rel_path.to_owned(),
                    garbage: r.get(1)?,
                })
            })
            .optional()?)
    }

    /// Drops the rows of `rel_paths` that are not marked for deletion (those
    /// are the garbage step's to drop). Returns how many went.
    pub fn delete_live_paths(&self, rel_paths: &[&str]) -> Result<usize, StoreError> {
        let mut conn = self.writer.lock().expect("index writer lock poisoned");
        let tx = conn.transaction()?;
        let mut n = 0;
        {
            let mut del =
                tx.prepare_cached("DELETE FROM frames WHERE rel_path = ?1 AND garbage = 0")?;
            for rel in rel_paths {
                n += del.execute([rel])?;
            }
        }
        tx.commit()?;
        Ok(n)
    }

    /// A named instant kept in the index (the slow scan's), Unix ns.
    pub fn scan_mark(&self, name: &str) -> Result<Option<i64>, StoreError> {
        let conn = self.reader.lock().expect("index reader lock poisoned");
        Ok(conn
            .query_row(
                "SELECT unix_ns FROM scan_marks WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn set_scan_mark(&self, name: &str, unix_ns: i64) -> Result<(), StoreError> {
        let conn = self.writer.lock().expect("index writer lock poisoned");
        conn.execute(
            "INSERT INTO scan_marks (name, unix_ns) VALUES (?1, ?2) \
             ON CONFLICT (name) DO UPDATE SET unix_ns = excluded.unix_ns",
            params![name, unix_ns],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::clock::ClockSource;
    use crate::base::frame::Frame;
    use seaframe_wire::timestamp::Timestamp;

    fn index_with(paths: &[(&str, i64, u64)]) -> (tempfile::TempDir, Index) {
        let dir = tempfile::tempdir().unwrap();
        let index = Index::open(&dir.path().join("index.db")).unwrap();
        let frames: Vec<Frame> = paths
            .iter()
            .map(|(cam, ms, seq)| {
                Frame::new(
                    cam.parse().unwrap(),
                    *seq,
                    Timestamp::from_unix_millis(*ms),
                    ClockSource::System,
                    1,
                    1,
                    bytes::Bytes::new(),
                )
            })
            .collect();
        let batch: Vec<(&Frame, u64)> = frames.iter().map(|f| (f, 1)).collect();
        index.insert_batch(&batch).unwrap();
        (dir, index)
    }

    #[test]
    fn folders_are_ranges_of_the_path_index() {
        // 1970-01-01: 00:00:00.5, 00:01:00, 01:00:00 for "a"; "a-2" and "b" beside it.
        let (_dir, index) = index_with(&[
            ("a", 500, 1),
            ("a", 60_000, 2),
            ("a", 3_600_000, 3),
            ("a-2", 500, 4),
            ("b", 500, 5),
        ]);
        let under = |p: &str| -> Vec<String> {
            index
                .rows_under(p, None, 100)
                .unwrap()
                .into_iter()
                .map(|r| r.rel_path)
                .collect()
        };
        assert_eq!(
            under("a/1970/01/01/00/"),
            [
                "a/1970/01/01/00/00/00.500-1.jpg",
                "a/1970/01/01/00/01/00.000-2.jpg"
            ]
        );
        assert_eq!(under("a/").len(), 3, "a-2 is not under a/");
        assert_eq!(under("").len(), 5);
        let page = index
            .rows_under("a/", Some("a/1970/01/01/00/00/00.500-1.jpg"), 1)
            .unwrap();
        assert_eq!(page[0].rel_path, "a/1970/01/01/00/01/00.000-2.jpg");
        assert_eq!(page.len(), 1);
        // In path order: "a-2/…" sorts before "a/…".
        assert_eq!(index.child_names("").unwrap(), ["a-2", "a", "b"]);
        assert_eq!(index.child_names("a/1970/01/01/").unwrap(), ["00", "01"]);
        assert_eq!(index.child_names("a/1970/01/01/00/").unwrap(), ["00", "01"]);
        assert!(index.child_names("c/").unwrap().is_empty());
        let row = index
            .row_by_path("b/1970/01/01/00/00/00.500-5.jpg")
            .unwrap()
            .unwrap();
        assert!(!row.garbage);
        assert_eq!(index.row_by_path("b/nothing.jpg").unwrap(), None);
        let gone = index
            .delete_live_paths(&["b/1970/01/01/00/00/00.500-5.jpg", "b/nothing.jpg"])
            .unwrap();
        assert_eq!(gone, 1);
        assert_eq!(index.child_names("").unwrap(), ["a-2", "a"]);
    }

    #[test]
    fn folder_queries_walk_a_range_of_the_path_index() {
        let (_dir, index) = index_with(&[]);
        let conn = index.reader.lock().unwrap();
        for (sql, limit) in [(ROWS_IN_RANGE, "LIMIT ?3"), (FIRST_IN_RANGE, "LIMIT 1")] {
            let sql = sql.replace(limit, "LIMIT 10");
            let plan: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap()
                .query_map(["a/", "a0"], |r| r.get::<_, String>(3))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let plan = plan.join("; ");
            assert!(
                plan.contains("frames_by_path (rel_path>? AND rel_path<?)"),
                "{plan}"
            );
            assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        }
    }

    #[test]
    fn scan_marks_are_kept() {
        let (_dir, index) = index_with(&[]);
        assert_eq!(index.scan_mark("cycle").unwrap(), None);
        index.set_scan_mark("cycle", 7).unwrap();
        index.set_scan_mark("cycle", 9).unwrap();
        assert_eq!(index.scan_mark("cycle").unwrap(), Some(9));
    }
}
