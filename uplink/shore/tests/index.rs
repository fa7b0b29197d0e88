//! One story for the index trait, run on SQLite always and on PostgreSQL
//! when `SEAFRAME_TEST_PG_URL` is set (a fresh database per test).
#![allow(clippy::unwrap_used)]

mod common;

use common::{index_urls, until};
use seaframe_shore::adapters::config::IndexUrl;
use seaframe_shore::adapters::index::{
    self, Index, NewThumb, Place, ReceivedAck, StatusUpdate, ThumbQuery,
};
use seaframe_wire::message::{AckStatus, ConfigAck, Fix};
use seaframe_wire::{CameraId, VesselName};

fn new(vessel: &str, camera: &str, ns: i64, lat: Option<f64>) -> NewThumb {
    NewThumb {
        vessel: VesselName::parse(vessel).unwrap(),
        camera: CameraId::parse(camera).unwrap(),
        captured_at_ns: ns,
        seq: u64::MAX - 1,
        lat,
        lon: lat.map(|_| 10.0),
        width_px: 320,
        height_px: 180,
        bytes: 1000,
        received_at_ns: 0,
    }
}

fn all(limit: u32) -> ThumbQuery {
    ThumbQuery {
        vessel: None,
        camera: None,
        from_ns: i64::MIN,
        to_ns: i64::MAX,
        place: None,
        after: None,
        limit,
    }
}

fn fix(at_ms: i64, lat: f64) -> Fix {
    Fix {
        at_ms,
        lat,
        lon: 10.0,
        fix: "3d".into(),
        speed_kn: Some(5.0),
        course_deg: None,
        heading_deg: None,
    }
}

async fn story(ix: &dyn Index) {
    let a = VesselName::parse("aurora").unwrap();
    // Insert-or-ignore, within a batch and across batches.
    let batch = vec![
        new("aurora", "mast", 30, Some(59.0)),
        new("aurora", "mast", 10, Some(59.0)),
        new("aurora", "mast", 30, Some(59.0)),
        new("aurora", "bridge", 20, None),
        new("boreas", "mast", 15, Some(60.0)),
    ];
    assert_eq!(
        ix.insert_thumbs(&batch).await.unwrap(),
        [true, true, false, true, true]
    );
    assert_eq!(ix.insert_thumbs(&batch[..2]).await.unwrap(), [false, false]);
    assert_eq!(ix.count_thumbs().await.unwrap(), 4);

    // Pages: oldest first, the cursor resumes exactly after the last row.
    let p1 = ix.thumbs(&all(2)).await.unwrap();
    let ts: Vec<i64> = p1.rows.iter().map(|r| r.captured_at_ns).collect();
    assert_eq!(ts, [10, 15]);
    let mut q = all(2);
    q.after = p1.next;
    let p2 = ix.thumbs(&q).await.unwrap();
    let ts: Vec<i64> = p2.rows.iter().map(|r| r.captured_at_ns).collect();
    assert_eq!(ts, [20, 30]);
    q.after = p2.next;
    let p3 = ix.thumbs(&q).await.unwrap();
    assert!(p3.rows.is_empty() && p3.next.is_none());

    // Filters: vessel, camera, time, place.
    let mut q = all(10);
    q.vessel = Some(a.clone());
    q.camera = Some(CameraId::parse("mast").unwrap());
    q.from_ns = 11;
    let rows = ix.thumbs(&q).await.unwrap().rows;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].captured_at_ns, rows[0].lat, rows[0].bytes),
        (30, Some(59.0), 1000)
    );
    assert_eq!(ix.thumb(rows[0].id).await.unwrap().unwrap(), rows[0]);
    assert!(ix.thumb(999_999).await.unwrap().is_none());
    let mut q = all(10);
    q.place = Some(Place::Circle {
        lat: 60.0,
        lon: 10.0,
        radius_m: 1000.0,
    });
    let rows = ix.thumbs(&q).await.unwrap().rows;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].vessel.as_str(), "boreas");
    q.place = Some(Place::BBox {
        min_lon: 9.0,
        min_lat: 58.0,
        max_lon: 11.0,
        max_lat: 61.0,
    });
    assert_eq!(ix.thumbs(&q).await.unwrap().rows.len(), 3);

    // Status, fixes, vessels with their newest thumbnail per camera.
    let cams = vec![
        CameraId::parse("mast").unwrap(),
        CameraId::parse("deck").unwrap(),
    ];
    ix.apply_status(
        &a,
        &StatusUpdate {
            online: true,
            seen_ns: Some(500),
            cameras: Some(cams),
            fix: Some(fix(1000, 59.0)),
        },
    )
    .await
    .unwrap();
    ix.append_fixes(&a, &[fix(2000, 59.1), fix(1500, 59.05), fix(2000, 59.1)])
        .await
        .unwrap();
    ix.apply_status(
        &a,
        &StatusUpdate {
            online: false,
            seen_ns: None,
            cameras: None,
            fix: None,
        },
    )
    .await
    .unwrap();
    let vessels = ix.vessels().await.unwrap();
    assert_eq!(vessels.len(), 2);
    let v = &vessels[0];
    assert_eq!(
        (v.name.as_str(), v.online, v.last_seen_ns),
        ("aurora", false, Some(500))
    );
    assert_eq!(v.last_fix.as_ref().unwrap().at_ms, 2000);
    let cams: Vec<(&str, Option<i64>)> = v
        .cameras
        .iter()
        .map(|c| (c.camera.as_str(), c.latest.map(|(_, ns)| ns)))
        .collect();
    assert_eq!(
        cams,
        [("bridge", Some(20)), ("deck", None), ("mast", Some(30))]
    );
    // The status's fix is the last fix, not a point of the track.
    let at_ms = |t: Vec<Fix>| t.iter().map(|f| f.at_ms).collect::<Vec<_>>();
    assert_eq!(
        at_ms(ix.track(&a, 0, 1_999_000_000, 0).await.unwrap()),
        [1500]
    );
    assert_eq!(
        at_ms(ix.track(&a, 0, i64::MAX, 0).await.unwrap()),
        [1500, 2000]
    );
    let span = ix.track_span(&a, 0, i64::MAX).await.unwrap();
    assert_eq!(
        (span.count, span.first_ms, span.last_ms),
        (2, Some(1500), Some(2000))
    );
    // The first fix of each bucket from the range's start.
    assert_eq!(
        at_ms(ix.track(&a, 0, i64::MAX, 1000).await.unwrap()),
        [1500, 2000]
    );
    assert_eq!(
        at_ms(ix.track(&a, 0, i64::MAX, 10_000).await.unwrap()),
        [1500]
    );
    assert_eq!(
        at_ms(ix.track(&a, 1_600_000_000, i64::MAX, 10_000).await.unwrap()),
        [2000]
    );
    assert!(ix.vessel_known(&a).await.unwrap());
    assert!(
        !ix.vessel_known(&VesselName::parse("nobody").unwrap())
            .await
            .unwrap()
    );

    // Configs: versions count up; the last ack is kept.
    assert!(ix.config(&a).await.unwrap().is_none());
    let c1 = serde_json::json!({"uplink": {"thumbs_per_s": 0.5}});
    assert_eq!(ix.put_config(&a, &c1).await.unwrap(), 1);
    let c2 = serde_json::json!({"gps": {"source": "gpsd"}});
    assert_eq!(ix.put_config(&a, &c2).await.unwrap(), 2);
    let ack = ConfigAck {
        version: 2,
        status: AckStatus::Applied,
        error: None,
    };
    ix.store_ack(&a, &ack, 77).await.unwrap();
    let got = ix.config(&a).await.unwrap().unwrap();
    let received = ReceivedAck {
        ack,
        received_at_ns: Some(77),
    };
    assert_eq!(
        (got.version, &got.desired, got.ack.clone()),
        (2, &c2, Some(received))
    );
    let configs = ix.configs().await.unwrap();
    assert_eq!(configs.len(), 1);
    assert_eq!((configs[0].0.as_str(), &configs[0].1), ("aurora", &got));

    // The live feed follows thumbnails by id, whoever indexed them.
    let last = ix.last_thumb_id().await.unwrap();
    let every = ix.thumbs_after(0, 100).await.unwrap();
    assert_eq!(every.len(), 4);
    assert!(every.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(every.last().unwrap().id, last);
    let first_two = ix.thumbs_after(0, 2).await.unwrap();
    assert_eq!(first_two, every[..2]);
    let rest = ix.thumbs_after(first_two[1].id, 100).await.unwrap();
    assert_eq!(rest, every[2..]);
    assert!(ix.thumbs_after(last, 100).await.unwrap().is_empty());
    ix.insert_thumbs(&[new("boreas", "mast", 40, None)])
        .await
        .unwrap();
    let newer = ix.thumbs_after(last, 100).await.unwrap();
    assert_eq!(newer.len(), 1);
    assert_eq!(newer[0].captured_at_ns, 40);
    assert_eq!(ix.last_thumb_id().await.unwrap(), newer[0].id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_story_on_every_backend() {
    let dir = tempfile::tempdir().unwrap();
    for (url, _db) in index_urls(dir.path(), "story").await {
        let ix = index::open(&IndexUrl::parse(&url).unwrap()).await.unwrap();
        story(ix.as_ref()).await;
        // Opening again migrates nothing and keeps the data.
        drop(ix);
        let ix = index::open(&IndexUrl::parse(&url).unwrap()).await.unwrap();
        assert_eq!(
            ix.count_thumbs().await.unwrap(),
            5,
            "{}",
            url.split('@').next_back().unwrap_or("")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_postgres_connections_are_made_again() {
    let dir = tempfile::tempdir().unwrap();
    for (url, db) in index_urls(dir.path(), "reconnect").await {
        // SQLite has no connection to lose.
        let Some(db) = db else { continue };
        let ix = index::open(&IndexUrl::parse(&url).unwrap()).await.unwrap();
        let first = [new("aurora", "mast", 10, Some(59.0))];
        assert_eq!(ix.insert_thumbs(&first).await.unwrap(), vec![true]);
        // As when PostgreSQL restarts: the server ends both connections.
        assert!(db.terminate_backends().await >= 2);
        // A call may meet a dead connection and fail; the next ones connect again.
        until(20, "reads to work again", || async {
            ix.count_thumbs().await.is_ok()
        })
        .await;
        let second = [new("aurora", "mast", 20, Some(59.0))];
        until(20, "writes to work again", || async {
            ix.insert_thumbs(&second).await.is_ok()
        })
        .await;
        assert_eq!(ix.count_thumbs().await.unwrap(), 2);
    }
}
