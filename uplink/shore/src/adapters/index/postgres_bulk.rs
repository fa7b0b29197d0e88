//! [`BulkRows`] on PostgreSQL: keyset pages with row values, one
//! multi-row `INSERT … ON CONFLICT DO NOTHING` per page in a transaction
//! that also moves the table's id sequence past the highest id, so that
//! a shore started on the copy assigns ids after the copied ones.
//! Every value crosses as `BIGINT`, `DOUBLE PRECISION` or `TEXT` and is
//! cast in SQL to the column's type (`INTEGER`, `BOOLEAN`).

use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::PgIndex;
use crate::adapters::index::bulk::{BulkRows, Cell, Kind, Table, misfit};
use crate::adapters::index::{Fut, IndexError};

type Param = Box<dyn ToSql + Sync + Send>;

/// The placeholder `$n` cast to what `kind` crosses as, then to the column.
fn placeholder(kind: Kind, n: usize) -> String {
    match kind {
        Kind::Int => format!("${n}::BIGINT"),
        Kind::Real => format!("${n}::DOUBLE PRECISION"),
        Kind::Text => format!("${n}::TEXT"),
        Kind::Bool => format!("(${n}::BIGINT <> 0)"),
    }
}

/// The column as it is read: one of the three types [`param`] binds.
fn select_expr(column: &str, kind: Kind) -> String {
    match kind {
        Kind::Int => format!("{column}::BIGINT"),
        Kind::Real => format!("{column}::DOUBLE PRECISION"),
        Kind::Text => column.to_owned(),
        Kind::Bool => format!("{column}::INT::BIGINT"),
    }
}

fn param(table: &Table, (column, kind): (&str, Kind), cell: &Cell) -> Result<Param, IndexError> {
    Ok(match (kind, cell) {
        (Kind::Int | Kind::Bool, Cell::Null) => Box::new(None::<i64>),
        (Kind::Int | Kind::Bool, Cell::Int(i)) => Box::new(Some(*i)),
        (Kind::Real, Cell::Null) => Box::new(None::<f64>),
        (Kind::Real, Cell::Real(r)) => Box::new(Some(*r)),
        // An integral value SQLite kept in a REAL column.
        #[allow(clippy::cast_precision_loss)]
        (Kind::Real, Cell::Int(i)) => Box::new(Some(*i as f64)),
        (Kind::Text, Cell::Null) => Box::new(None::<String>),
        (Kind::Text, Cell::Text(t)) => Box::new(Some(t.clone())),
        _ => return Err(misfit(table, column, cell)),
    })
}

fn cells(table: &Table, row: &Row) -> Result<Vec<Cell>, IndexError> {
    table
        .columns
        .iter()
        .enumerate()
        .map(|(i, (_, kind))| {
            Ok(match kind {
                Kind::Int | Kind::Bool => row.try_get::<_, Option<i64>>(i)?.map(Cell::Int),
                Kind::Real => row.try_get::<_, Option<f64>>(i)?.map(Cell::Real),
                Kind::Text => row.try_get::<_, Option<String>>(i)?.map(Cell::Text),
            }
            .unwrap_or(Cell::Null))
        })
        .collect()
}

fn refs(params: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

impl BulkRows for PgIndex {
    fn read_rows<'a>(
        &'a self,
        table: &'a Table,
        after: Option<&'a [Cell]>,
        limit: u32,
    ) -> Fut<'a, Vec<Vec<Cell>>> {
        Box::pin(async move {
            let key = table.key_columns().collect::<Vec<_>>().join(", ");
            let mut params: Vec<Param> = Vec::new();
            let cond = match after {
                Some(k) => {
                    let mut marks = Vec::new();
                    for (i, (col, cell)) in table.columns.iter().zip(k).enumerate() {
                        params.push(param(table, *col, cell)?);
                        marks.push(placeholder(col.1, i + 1));
                    }
                    format!("WHERE ({key}) > ({})", marks.join(", "))
                }
                None => String::new(),
            };
            let columns: Vec<String> = table
                .columns
                .iter()
                .map(|(c, k)| select_expr(c, *k))
                .collect();
            let sql = format!(
                "SELECT {} FROM {} {cond} ORDER BY {key} LIMIT {limit}",
                columns.join(", "),
                table.name
            );
            let rows = self.reader().await?.query(&sql, &refs(&params)).await?;
            rows.iter().map(|r| cells(table, r)).collect()
        })
    }

    fn write_rows<'a>(&'a self, table: &'a Table, rows: &'a [Vec<Cell>]) -> Fut<'a, u64> {
        Box::pin(async move {
            if rows.is_empty() {
                return Ok(0);
            }
            let mut params: Vec<Param> = Vec::new();
            let mut values = Vec::with_capacity(rows.len());
            for row in rows {
                let mut marks = Vec::with_capacity(table.columns.len());
                for (col, cell) in table.columns.iter().zip(row) {
                    params.push(param(table, *col, cell)?);
                    marks.push(placeholder(col.1, params.len()));
                }
                values.push(format!("({})", marks.join(", ")));
            }
            let sql = format!(
                "INSERT INTO {} ({}) VALUES {} ON CONFLICT DO NOTHING",
                table.name,
                table.column_names().collect::<Vec<_>>().join(", "),
                values.join(", ")
            );
            let mut client = self.writer().await?;
            let tx = client.transaction().await?;
            let new = tx.execute(&sql, &refs(&params)).await?;
            if table.serial_id {
                tx.execute(
                    &format!(
                        "SELECT setval(pg_get_serial_sequence('{0}', 'id'), \
                         (SELECT max(id) FROM {0}))",
                        table.name
                    ),
                    &[],
                )
                .await?;
            }
            tx.commit().await?;
            Ok(new)
        })
    }

    fn count_rows<'a>(&'a self, table: &'a Table) -> Fut<'a, u64> {
        Box::pin(async move {
            let n: i64 = self
                .reader()
                .await?
                .query_one(&format!("SELECT count(*) FROM {}", table.name), &[])
                .await?
                .try_get(0)?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    fn thumb_ids(&self, first: i64, last: i64) -> Fut<'_, Vec<i64>> {
        Box::pin(async move {
            let rows = self
                .reader()
                .await?
                .query(
                    "SELECT id FROM thumbs WHERE id BETWEEN $1 AND $2",
                    &[&first, &last],
                )
                .await?;
            rows.iter()
                .map(|r| r.try_get(0).map_err(IndexError::from))
                .collect()
        })
    }
}
