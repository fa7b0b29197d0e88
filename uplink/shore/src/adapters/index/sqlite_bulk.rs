//! [`BulkRows`] on SQLite: keyset pages with row values, `INSERT … ON
//! CONFLICT DO NOTHING` in one transaction. An `INTEGER PRIMARY KEY` takes
//! the id given and later inserts continue after the highest: nothing to
//! move.

use rusqlite::types::Value;
use rusqlite::{TransactionBehavior, params_from_iter};

use super::SqliteIndex;
use crate::adapters::index::bulk::{BulkRows, Cell, Table};
use crate::adapters::index::{Fut, IndexError};

fn to_value(cell: &Cell) -> Value {
    match cell {
        Cell::Null => Value::Null,
        Cell::Int(i) => Value::Integer(*i),
        Cell::Real(r) => Value::Real(*r),
        Cell::Text(t) => Value::Text(t.clone()),
    }
}

fn to_cell(table: &Table, column: &str, value: Value) -> Result<Cell, IndexError> {
    Ok(match value {
        Value::Null => Cell::Null,
        Value::Integer(i) => Cell::Int(i),
        Value::Real(r) => Cell::Real(r),
        Value::Text(t) => Cell::Text(t),
        Value::Blob(_) => {
            return Err(IndexError::Corrupt(format!(
                "{}.{column}: a blob",
                table.name
            )));
        }
    })
}

fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl BulkRows for SqliteIndex {
    fn read_rows<'a>(
        &'a self,
        table: &'a Table,
        after: Option<&'a [Cell]>,
        limit: u32,
    ) -> Fut<'a, Vec<Vec<Cell>>> {
        let table = *table;
        let after: Option<Vec<Value>> = after.map(|k| k.iter().map(to_value).collect());
        self.read(move |conn| {
            let key = table.key_columns().collect::<Vec<_>>().join(", ");
            let cond = match &after {
                Some(k) => format!("WHERE ({key}) > ({})", placeholders(1, k.len())),
                None => String::new(),
            };
            let sql = format!(
                "SELECT {} FROM {} {cond} ORDER BY {key} LIMIT {limit}",
                table.column_names().collect::<Vec<_>>().join(", "),
                table.name
            );
            let mut stmt = conn.prepare(&sql)?;
            let mut rows = stmt.query(params_from_iter(after.unwrap_or_default()))?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let mut cells = Vec::with_capacity(table.columns.len());
                for (i, (column, _)) in table.columns.iter().enumerate() {
                    cells.push(to_cell(&table, column, row.get(i)?)?);
                }
                out.push(cells);
            }
            Ok(out)
        })
    }

    fn write_rows<'a>(&'a self, table: &'a Table, rows: &'a [Vec<Cell>]) -> Fut<'a, u64> {
        let table = *table;
        let rows: Vec<Vec<Value>> = rows
            .iter()
            .map(|r| r.iter().map(to_value).collect())
            .collect();
        self.write(move |conn| {
            let sql = format!(
                "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT DO NOTHING",
                table.name,
                table.column_names().collect::<Vec<_>>().join(", "),
                placeholders(1, table.columns.len())
            );
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut new = 0;
            {
                let mut stmt = tx.prepare(&sql)?;
                for row in rows {
                    new += stmt.execute(params_from_iter(row))? as u64;
                }
            }
            tx.commit()?;
            Ok(new)
        })
    }

    fn count_rows<'a>(&'a self, table: &'a Table) -> Fut<'a, u64> {
        let sql = format!("SELECT count(*) FROM {}", table.name);
        self.read(move |conn| {
            let n: i64 = conn.query_row(&sql, [], |r| r.get(0))?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    fn thumb_ids(&self, first: i64, last: i64) -> Fut<'_, Vec<i64>> {
        self.read(move |conn| {
            let mut stmt =
                conn.prepare_cached("SELECT id FROM thumbs WHERE id BETWEEN ?1 AND ?2")?;
            let ids = stmt
                .query_map([first, last], |r| r.get(0))?
                .collect::<Result<Vec<i64>, _>>()?;
            Ok(ids)
        })
    }
}
