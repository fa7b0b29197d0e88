//! The place index of the PostgreSQL thumbnails: a GiST index on
//! `point(lon, lat)`, and the statement a thumbnail query runs so that the
//! planner can use it. Without it a place the fleet rarely visits is found
//! by reading the whole table (~7 s at 100 M rows from the OS cache; with
//! it, under 0.25 s); a busy place over a long range becomes slower (it
//! reads every row the place holds: ~1 s for 340 k rows). Figures and
//! the plan: docs/design.md, "The shore's index at 100 M rows". SQLite
//! keeps the shared statement unchanged.

use tokio_postgres::types::ToSql;

use super::super::{Param, ThumbQuery, thumb_query_sql};

/// Appended to the migrations. `IF NOT EXISTS`: on a large table an
/// operator may build it beforehand without blocking ingest
/// (`CREATE INDEX CONCURRENTLY thumbs_by_place ON thumbs USING gist
/// (point(lon, lat)) WHERE lat IS NOT NULL AND lon IS NOT NULL`); else the
/// migration builds it, holding writes to `thumbs` until it is done.
pub const MIGRATION: &str = r"
CREATE INDEX IF NOT EXISTS thumbs_by_place ON thumbs USING gist (point(lon, lat))
    WHERE lat IS NOT NULL AND lon IS NOT NULL;
";

/// A statement and the values bound into it.
pub type Statement = (String, Vec<Box<dyn ToSql + Sync + Send>>);

/// The SQL [`super::PgIndex`] runs for `query`, with its values. With
/// `place_index: false` it is the statement from before the place index
/// (the one SQLite runs), which the plans example measures as the baseline.
pub fn thumbs_statement(query: &ThumbQuery, place_index: bool) -> Statement {
    let (sql, params) = thumb_query_sql(query, |n| format!("${n}"), place_index);
    let values = params
        .into_iter()
        .map(|p| -> Box<dyn ToSql + Sync + Send> {
            match p {
                Param::Text(s) => Box::new(s),
                Param::Int(i) => Box::new(i),
                Param::Real(f) => Box::new(f),
            }
        })
        .collect();
    (sql, values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::index::Place;

    fn query(place: Place) -> ThumbQuery {
        ThumbQuery {
            vessel: None,
            camera: None,
            from_ns: 0,
            to_ns: 1,
            place: Some(place),
            after: None,
            limit: 10,
        }
    }

    #[test]
    fn a_place_is_tested_with_the_indexed_expression() {
        let boxed = Place::BBox {
            min_lon: 10.0,
            min_lat: 1.0,
            max_lon: 11.0,
            max_lat: 2.0,
        };
        let (sql, _) = thumbs_statement(&query(boxed), true);
        assert!(sql.contains("point(lon, lat) <@ box(point($5, $3), point($6, $4))"));
        assert!(MIGRATION.contains("gist (point(lon, lat))"));
        let (before, _) = thumbs_statement(&query(boxed), false);
        assert!(!before.contains("<@"));
    }

    #[test]
    fn a_box_across_the_antimeridian_is_two_boxes() {
        let across = Place::BBox {
            min_lon: 179.5,
            min_lat: 1.0,
            max_lon: -179.5,
            max_lat: 2.0,
        };
        let (sql, values) = thumbs_statement(&query(across), true);
        assert!(sql.contains(
            "(point(lon, lat) <@ box(point($5, $3), point(180, $4)) \
             OR point(lon, lat) <@ box(point(-180, $3), point($6, $4)))"
        ));
        assert_eq!(values.len(), 6);
    }
}
