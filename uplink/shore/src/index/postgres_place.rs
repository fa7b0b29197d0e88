//! The place index of the PostgreSQL thumbnails: a GiST index on
//! `point(lon, lat)`, and the statement a thumbnail query runs so that it
//! is used when it pays. Without it a place search walks the time index and
//! filters every row of the range: at 100 M rows a month is seconds and a
//! place the fleet never visits is minutes (docs/design.md, "The shore's
//! index at 100 M rows"). SQLite keeps the shared statement unchanged.

use tokio_postgres::types::ToSql;

use super::super::{Param, THUMB_COLUMNS, ThumbConds, ThumbQuery, thumb_conds, thumb_query_sql};

/// Appended to the migrations. `IF NOT EXISTS`: on a large table an
/// operator may build it beforehand without blocking ingest
/// (`CREATE INDEX CONCURRENTLY thumbs_by_place ON thumbs USING gist
/// (point(lon, lat)) WHERE lat IS NOT NULL AND lon IS NOT NULL`); else the
/// migration builds it, holding writes to `thumbs` until it is done.
pub const MIGRATION: &str = r"
CREATE INDEX IF NOT EXISTS thumbs_by_place ON thumbs USING gist (point(lon, lat))
    WHERE lat IS NOT NULL AND lon IS NOT NULL;
";

/// How many rows, in time order, a place search reads before it turns to
/// the place index: a place the fleet often visits (≥ 1 row in 1,000 of the
/// range) fills a page within them; a rarer one is then found through the
/// index, which reads no more rows than the place holds.
pub const SCAN_FIRST_ROWS: u32 = 100_000;

/// A statement and the values bound into it.
pub type Statement = (String, Vec<Box<dyn ToSql + Sync + Send>>);

/// The SQL [`super::PgIndex`] runs for `query`, with its values. Without a
/// place: the shared statement. With one: the first [`SCAN_FIRST_ROWS`]
/// rows of the range in time order are filtered for the place (`scanned`,
/// `hits`); only when they hold less than a page and the range goes on
/// does the second branch run (its gate is a one-time filter), asking the
/// place index for the rest after the last row scanned. The planner alone
/// cannot choose between the two: it prices `<@` at a fixed 0.1 % and so
/// always takes the index, which reads every row a busy place ever had.
///
/// `place_index: false` gives the statement from before the place index
/// (the one SQLite runs), which the plans example measures as the baseline.
pub fn thumbs_statement(query: &ThumbQuery, place_index: bool) -> Statement {
    scanning_first(query, place_index.then_some(SCAN_FIRST_ROWS))
}

/// [`thumbs_statement`] reading `scan_first_rows` in time order before the
/// place index (`None`: the statement from before the place index). Public
/// so that a test can reach the second branch on a small table.
pub fn scanning_first(query: &ThumbQuery, scan_first_rows: Option<u32>) -> Statement {
    let ph = |n| format!("${n}");
    let (sql, params) = if let (Some(scan), Some(_)) = (scan_first_rows, &query.place) {
        let ThumbConds {
            base,
            place,
            params,
        } = thumb_conds(query, ph, true);
        let (base, place, limit) = (base.join(" AND "), place.join(" AND "), query.limit);
        let sql = format!(
            "WITH scanned AS MATERIALIZED (SELECT {THUMB_COLUMNS} FROM thumbs WHERE {base} \
               ORDER BY captured_at_ns, id LIMIT {scan}), \
             hits AS (SELECT * FROM scanned WHERE {place}) \
             SELECT * FROM hits \
             UNION ALL \
             (SELECT {THUMB_COLUMNS} FROM thumbs WHERE {base} AND {place} \
               AND (captured_at_ns, id) > (SELECT captured_at_ns, id FROM scanned \
                 ORDER BY captured_at_ns DESC, id DESC LIMIT 1) \
               AND (SELECT count(*) FROM hits) < {limit} \
               AND (SELECT count(*) FROM scanned) = {scan} \
               ORDER BY captured_at_ns, id LIMIT {limit}) \
             ORDER BY captured_at_ns, id LIMIT {limit}"
        );
        (sql, params)
    } else {
        thumb_query_sql(query, ph)
    };
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
    use crate::index::Place;

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
        assert!(sql.contains(&format!("LIMIT {SCAN_FIRST_ROWS}")));
        let (no_place, _) = thumbs_statement(
            &ThumbQuery {
                place: None,
                ..query(boxed)
            },
            true,
        );
        assert!(!no_place.contains("WITH"));
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
