//! The PostgreSQL place search in two steps (the first rows of the range
//! in time order, then the place index after them) answers exactly what the
//! one plain statement answers, page after page: boxes (one across the
//! antimeridian), circles (one around a pole), time ranges and page sizes,
//! with a first step short enough that the second really runs.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use seaframe_shore::index::postgres::{PgIndex, Statement, scanning_first};
use seaframe_shore::index::{Index, NewThumb, Place, ThumbQuery};
use seaframe_wire::{CameraId, VesselName};
use tokio_postgres::types::ToSql;

const LATS: [f64; 8] = [-89.9, -60.0, -5.0, 0.0, 5.0, 60.0, 85.0, 89.9];
const LONS: [f64; 9] = [
    -180.0, -179.9, -120.0, 0.0, 52.0, 120.0, 179.5, 179.9, 180.0,
];

/// Every grid point 3 times (3 passes), two cameras, and a row without a
/// position every fifth time, 1 s apart.
fn rows() -> Vec<NewThumb> {
    let mut out = Vec::new();
    for _pass in 0..3 {
        for &lat in &LATS {
            for &lon in &LONS {
                for camera in ["bow", "mast"] {
                    let n = out.len() as i64;
                    let fix = n % 5 != 4;
                    out.push(NewThumb {
                        vessel: VesselName::parse("sea").unwrap(),
                        camera: CameraId::parse(camera).unwrap(),
                        captured_at_ns: T0_NS + n * 1_000_000_000,
                        seq: 0,
                        lat: fix.then_some(lat),
                        lon: fix.then_some(lon),
                        width_px: 16,
                        height_px: 8,
                        bytes: 100,
                        received_at_ns: 0,
                    });
                }
            }
        }
    }
    out
}

/// Every page's ids, following the cursor as the shore does.
async fn pages(
    client: &tokio_postgres::Client,
    mut query: ThumbQuery,
    statement: impl Fn(&ThumbQuery) -> Statement,
) -> Vec<Vec<i64>> {
    let mut out = Vec::new();
    loop {
        let (sql, values) = statement(&query);
        let refs: Vec<&(dyn ToSql + Sync)> = values
            .iter()
            .map(|b| b.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let rows = client.query(&sql, &refs).await.unwrap();
        let page: Vec<(i64, i64)> = rows
            .iter()
            .map(|r| (r.get::<_, i64>(3), r.get::<_, i64>(0)))
            .collect();
        out.push(page.iter().map(|&(_, id)| id).collect());
        if page.len() < query.limit as usize {
            return out;
        }
        query.after = page.last().copied();
    }
}

#[tokio::test]
async fn scanning_first_then_the_place_index_answers_what_one_statement_does() {
    let Some(db) = pg_only("place_index").await else {
        return;
    };
    let index = PgIndex::connect(&db.url).await.unwrap();
    let rows = rows();
    for batch in rows.chunks(100) {
        index.insert_thumbs(batch).await.unwrap();
    }
    let (client, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let places = [
        Place::BBox {
            min_lon: -1.0,
            min_lat: -6.0,
            max_lon: 53.0,
            max_lat: 6.0,
        },
        Place::BBox {
            min_lon: 179.0,
            min_lat: -61.0,
            max_lon: -179.95,
            max_lat: 61.0,
        },
        Place::Circle {
            lat: 90.0,
            lon: 0.0,
            radius_m: 600_000.0,
        },
        Place::Circle {
            lat: 0.0,
            lon: 180.0,
            radius_m: 700_000.0,
        },
    ];
    let end = T0_NS + rows.len() as i64 * 1_000_000_000;
    let ranges = [
        (i64::MIN, i64::MAX),
        (T0_NS + 100_000_000_000, end - 50_000_000_000),
    ];
    let mut second_step_used = false;
    for place in places {
        for (from_ns, to_ns) in ranges {
            for limit in [1, 4, 25, 1000] {
                for scan in [1, 7, 40] {
                    let query = ThumbQuery {
                        vessel: None,
                        camera: None,
                        from_ns,
                        to_ns,
                        place: Some(place),
                        after: None,
                        limit,
                    };
                    let plain = pages(&client, query.clone(), |q| scanning_first(q, None)).await;
                    let two =
                        pages(&client, query.clone(), |q| scanning_first(q, Some(scan))).await;
                    assert_eq!(
                        two, plain,
                        "{place:?} {from_ns}..{to_ns} limit {limit} scan {scan}"
                    );
                    assert!(plain.iter().flatten().count() > 0, "{place:?} finds rows");
                    second_step_used |= plain.first().map_or(0, Vec::len) > scan as usize;
                }
            }
        }
    }
    assert!(second_step_used, "no case needed the place index");
}
