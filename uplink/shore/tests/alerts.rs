//! Fleet health and alerts end to end: a vessel publishes statuses (the
//! wire crate's `Status`, as the agent sends them) through a real
//! mosquitto to a real shore, on SQLite and PostgreSQL. Each alert kind is
//! raised and cleared — `camera_down`, `disk_low`, `clock_off`,
//! `backlog_growing`, and `stale` by driving the shore's injected clock —
//! and shows in `GET /api/v1/alerts`, the vessel's health, the vessel list,
//! the live feed (`alert` events) and `/metrics` with its labels. A second
//! test runs two shores on one index and checks they agree.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use common::{PgDb, Publisher, config, get_json, index_urls, until};
use futures_util::StreamExt;
use seaframe_shore::adapters::config::Config;
use seaframe_shore::app::Shore;
use seaframe_shore::base::alerts::AlertsConfig;
use seaframe_testkit::MosquittoServer;
use seaframe_wire::CameraId;
use seaframe_wire::message::{CameraHealth, Health, LinkState, Status};
use serde_json::Value;

const NS_PER_S: i64 = 1_000_000_000;

/// Thresholds small enough to test quickly; evaluated every second.
fn thresholds() -> AlertsConfig {
    AlertsConfig {
        evaluate_every_s: 1,
        stale_after_s: 60,
        camera_down_after_s: 0,
        disk_low_free_bytes: 1_000_000_000,
        disk_low_free_percent: 5.0,
        clock_off_ms: 2_000,
        backlog_window_s: 600,
        backlog_growth: 100,
    }
}

/// The shore's clock: the wall clock plus an offset the test moves.
fn clock(offset_ns: &Arc<AtomicI64>) -> seaframe_shore::base::alerts::Clock {
    let offset = offset_ns.clone();
    Arc::new(move || seaframe_shore::base::when::now_ns() + offset.load(Ordering::SeqCst))
}

async fn start_at(cfg: Config, offset_ns: &Arc<AtomicI64>) -> Shore {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shore = Shore::start_with_clock(cfg, listener, clock(offset_ns))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(20), shore.subscribed())
        .await
        .expect("the shore subscribes");
    common::admit(&shore).await;
    shore
}

/// What a vessel reports; [`Vessel::send`] turns it into a `Status`.
#[derive(Clone)]
struct Report {
    mast: &'static str,
    disk_free_bytes: u64,
    clock_offset_ms: i64,
    backlog: u64,
}

const HEALTHY: Report = Report {
    mast: "ok",
    disk_free_bytes: 40_000_000_000,
    clock_offset_ms: 12,
    backlog: 0,
};

/// A vessel publishing statuses, its clock a minute further at each.
struct Vessel {
    mqtt: Publisher,
    sent_at_ms: i64,
    sent: u64,
}

impl Vessel {
    async fn connect(port: u16, client_id: &str) -> Self {
        Self {
            mqtt: Publisher::connect(port, client_id, None).await,
            sent_at_ms: 1_764_460_800_000,
            sent: 0,
        }
    }

    async fn send(&mut self, r: &Report) {
        self.sent_at_ms += 60_000;
        let camera = |id: &str, state: &str| CameraHealth {
            id: CameraId::parse(id).unwrap(),
            state: state.into(),
            fps: 1.0,
            last_frame_ms: Some(self.sent_at_ms),
        };
        let status = Status {
            state: LinkState::Online,
            health: Some(Health {
                version: "1.4.2".into(),
                uptime_s: 3600,
                sent_at_ms: self.sent_at_ms,
                cameras: vec![camera("bow", "ok"), camera("mast", r.mast)],
                fix: None,
                clock: "gps".into(),
                clock_offset_ms: r.clock_offset_ms,
                disk_used_bytes: 7_000_000_000,
                disk_free_bytes: r.disk_free_bytes,
                disk_total_bytes: Some(64_000_000_000),
                outbox_backlog: r.backlog,
                outbox_bytes: r.backlog * 9_000,
                config_version: 0,
            }),
        };
        self.mqtt
            .publish(
                "seaframe/v1/aurora/status",
                serde_json::to_vec(&status).unwrap(),
            )
            .await;
        self.sent += 1;
    }
}

/// Waits for the shore to have applied `n` statuses.
async fn applied(shore: &Shore, n: u64) {
    let m = shore.metrics.clone();
    until(10, &format!("{n} statuses applied"), || {
        let m = m.clone();
        async move { m.status_messages.load(Ordering::SeqCst) >= n }
    })
    .await;
}

/// The alerts listed, as `kind/camera` strings.
async fn alert_names(shore: &Shore) -> Vec<String> {
    let (code, body) = get_json(shore.addr, "/api/v1/alerts").await;
    assert_eq!(code, 200, "{body}");
    body["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{}/{}",
                a["kind"].as_str().unwrap(),
                a["camera"].as_str().unwrap_or("")
            )
        })
        .collect()
}

async fn until_alerts(shore: &Shore, want: &[&str], what: &str) {
    until(10, what, || async { alert_names(shore).await == want }).await;
}

async fn metrics(shore: &Shore) -> String {
    common::get(&format!("http://{}/metrics", shore.addr))
        .await
        .text()
        .await
        .unwrap()
}

/// The alert events of an open `/api/v1/events` stream, as `state kind/camera`.
struct AlertEvents {
    body: futures_util::stream::BoxStream<'static, reqwest::Result<axum::body::Bytes>>,
    buf: String,
}

impl AlertEvents {
    async fn open(shore: &Shore) -> Self {
        let r = common::get(&format!("http://{}/api/v1/events", shore.addr)).await;
        let mut me = Self {
            body: r.bytes_stream().boxed(),
            buf: String::new(),
        };
        while !me.buf.contains("event: ready") {
            me.read().await;
        }
        me
    }

    async fn read(&mut self) {
        let chunk = tokio::time::timeout(Duration::from_secs(10), self.body.next())
            .await
            .expect("an event in time")
            .expect("the stream goes on")
            .unwrap();
        self.buf.push_str(std::str::from_utf8(&chunk).unwrap());
    }

    /// The next `alert` event.
    async fn next(&mut self) -> Value {
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                if block.lines().any(|l| l == "event: alert") {
                    let data = block
                        .lines()
                        .find_map(|l| l.strip_prefix("data: "))
                        .unwrap();
                    return serde_json::from_str(data).unwrap();
                }
            }
            self.read().await;
        }
    }

    async fn expect(&mut self, state: &str, kind: &str) -> Value {
        let e = self.next().await;
        assert_eq!(
            (e["state"].as_str(), e["kind"].as_str()),
            (Some(state), Some(kind)),
            "{e}"
        );
        assert_eq!(e["vessel"], "aurora", "{e}");
        e
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_alert_is_raised_and_cleared_on_every_backend() {
    let broker = MosquittoServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (url, _db) in index_urls(dir.path(), "alerts").await {
        let data = tempfile::tempdir().unwrap();
        let mut cfg = config(&broker.url(), data.path(), "shore-alerts", Some(&url));
        cfg.alerts = thresholds();
        let offset = Arc::new(AtomicI64::new(0));
        let shore = start_at(cfg, &offset).await;
        let mut events = AlertEvents::open(&shore).await;
        let mut vessel = Vessel::connect(broker.port(), "aurora").await;

        // Healthy: the status is kept and shown, no alert.
        vessel.send(&HEALTHY).await;
        applied(&shore, vessel.sent).await;
        let (code, h) = get_json(shore.addr, "/api/v1/vessels/aurora/health").await;
        assert_eq!(code, 200, "{h}");
        assert_eq!(h["online"], true, "{h}");
        let s = &h["status"];
        assert_eq!(s["version"], "1.4.2", "{h}");
        assert_eq!(s["disk_free_bytes"], 40_000_000_000u64, "{h}");
        assert_eq!(s["disk_total_bytes"], 64_000_000_000u64, "{h}");
        assert_eq!(s["clock_offset_ms"], 12, "{h}");
        assert_eq!(s["cameras"][1]["id"], "mast", "{h}");
        assert_eq!(s["cameras"][1]["up"], true, "{h}");
        assert_eq!(h["alerts"], serde_json::json!([]), "{h}");
        let (code, _) = get_json(shore.addr, "/api/v1/vessels/nobody/health").await;
        assert_eq!(code, 404);
        let text = metrics(&shore).await;
        for line in [
            "seaframe_shore_vessel_online{vessel=\"aurora\"} 1",
            "seaframe_shore_camera_up{vessel=\"aurora\",camera=\"mast\"} 1",
            "seaframe_shore_vessel_disk_free_bytes{vessel=\"aurora\"} 40000000000",
            "seaframe_shore_vessel_disk_total_bytes{vessel=\"aurora\"} 64000000000",
            "seaframe_shore_vessel_backlog{vessel=\"aurora\"} 0",
            "seaframe_shore_vessel_clock_offset_seconds{vessel=\"aurora\"} 0.012",
            "seaframe_shore_vessel_info{vessel=\"aurora\",version=\"1.4.2\"} 1",
            "seaframe_shore_alerts_active{kind=\"camera_down\"} 0",
        ] {
            assert!(text.contains(line), "{line} in:\n{text}");
        }
        assert!(
            text.contains("seaframe_shore_vessel_last_seen_timestamp_seconds{vessel=\"aurora\"} ")
        );

        // The mast camera fails: camera_down, everywhere; its since is
        // kept while it stays down.
        let failed = Report {
            mast: "retrying",
            ..HEALTHY
        };
        vessel.send(&failed).await;
        until_alerts(&shore, &["camera_down/mast"], "camera_down raised").await;
        let e = events.expect("raised", "camera_down").await;
        assert_eq!(e["camera"], "mast");
        assert_eq!(e["detail"], "state \"retrying\"");
        let (_, list) = get_json(shore.addr, "/api/v1/alerts").await;
        let since = list["alerts"][0]["since"].clone();
        let text = metrics(&shore).await;
        assert!(
            text.contains(
                "seaframe_shore_alert{vessel=\"aurora\",camera=\"mast\",kind=\"camera_down\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("seaframe_shore_camera_up{vessel=\"aurora\",camera=\"mast\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("seaframe_shore_alerts_active{kind=\"camera_down\"} 1"),
            "{text}"
        );
        let (_, vessels) = get_json(shore.addr, "/api/v1/vessels").await;
        let v = &vessels["vessels"][0];
        assert_eq!(v["alerts"][0]["kind"], "camera_down", "{v}");
        assert_eq!(v["health"]["cameras"][1]["state"], "retrying", "{v}");
        vessel.send(&failed).await;
        applied(&shore, vessel.sent).await;
        let evaluations = shore.metrics.alert_evaluations.load(Ordering::SeqCst);
        let m = shore.metrics.clone();
        until(10, "another evaluation", || {
            let m = m.clone();
            async move { m.alert_evaluations.load(Ordering::SeqCst) > evaluations + 1 }
        })
        .await;
        let (_, list) = get_json(shore.addr, "/api/v1/alerts").await;
        assert_eq!(list["alerts"][0]["since"], since, "since kept: {list}");

        // It comes back: cleared.
        vessel.send(&HEALTHY).await;
        until_alerts(&shore, &[], "camera_down cleared").await;
        events.expect("cleared", "camera_down").await;
        assert!(!metrics(&shore).await.contains("seaframe_shore_alert{"));

        // Disk low (900 MB free), then room again.
        vessel
            .send(&Report {
                disk_free_bytes: 900_000_000,
                ..HEALTHY
            })
            .await;
        until_alerts(&shore, &["disk_low/"], "disk_low raised").await;
        let e = events.expect("raised", "disk_low").await;
        assert_eq!(e["detail"], "900.0 MB free of 64.0 GB (1.4 %)");
        vessel.send(&HEALTHY).await;
        until_alerts(&shore, &[], "disk_low cleared").await;
        events.expect("cleared", "disk_low").await;

        // The clock 5 s ahead of GPS, then right.
        vessel
            .send(&Report {
                clock_offset_ms: 5_000,
                ..HEALTHY
            })
            .await;
        until_alerts(&shore, &["clock_off/"], "clock_off raised").await;
        let e = events.expect("raised", "clock_off").await;
        assert_eq!(e["detail"], "5.0 s ahead of GPS");
        assert!(
            metrics(&shore)
                .await
                .contains("seaframe_shore_vessel_clock_offset_seconds{vessel=\"aurora\"} 5\n")
        );
        vessel.send(&HEALTHY).await;
        until_alerts(&shore, &[], "clock_off cleared").await;
        events.expect("cleared", "clock_off").await;

        // The backlog grows by 150 within 10 minutes (vessel clock), then drains.
        for backlog in [40, 90] {
            vessel.send(&Report { backlog, ..HEALTHY }).await;
        }
        applied(&shore, vessel.sent).await;
        assert_eq!(
            alert_names(&shore).await,
            Vec::<String>::new(),
            "+90 is below 100"
        );
        vessel
            .send(&Report {
                backlog: 150,
                ..HEALTHY
            })
            .await;
        until_alerts(&shore, &["backlog_growing/"], "backlog_growing raised").await;
        let e = events.expect("raised", "backlog_growing").await;
        assert_eq!(e["detail"], "backlog 150 thumbnails, up 150 within 600 s");
        assert!(
            metrics(&shore)
                .await
                .contains("seaframe_shore_vessel_backlog{vessel=\"aurora\"} 150\n")
        );
        vessel
            .send(&Report {
                backlog: 30,
                ..HEALTHY
            })
            .await;
        until_alerts(&shore, &[], "backlog_growing cleared").await;
        events.expect("cleared", "backlog_growing").await;

        // Nothing heard for over a minute (the shore's clock moved on):
        // stale and offline, with no last will; back when time is right
        // and the vessel speaks again.
        offset.store(61 * NS_PER_S, Ordering::SeqCst);
        until_alerts(&shore, &["stale/"], "stale raised").await;
        events.expect("raised", "stale").await;
        let (_, vessels) = get_json(shore.addr, "/api/v1/vessels").await;
        assert_eq!(vessels["vessels"][0]["online"], false, "{vessels}");
        assert!(
            metrics(&shore)
                .await
                .contains("seaframe_shore_vessel_online{vessel=\"aurora\"} 0")
        );
        assert!(
            metrics(&shore)
                .await
                .contains("seaframe_shore_alert{vessel=\"aurora\",camera=\"\",kind=\"stale\"} 1")
        );
        offset.store(0, Ordering::SeqCst);
        vessel.send(&HEALTHY).await;
        until_alerts(&shore, &[], "stale cleared").await;
        events.expect("cleared", "stale").await;
        let (_, vessels) = get_json(shore.addr, "/api/v1/vessels").await;
        assert_eq!(vessels["vessels"][0]["online"], true, "{vessels}");

        // Every status sent was applied, none dropped.
        applied(&shore, vessel.sent).await;
        assert_eq!(
            shore.metrics.status_messages.load(Ordering::SeqCst),
            vessel.sent
        );
        assert_eq!(shore.metrics.alerts_raised.load(Ordering::SeqCst), 5);
        assert_eq!(shore.metrics.alerts_cleared.load(Ordering::SeqCst), 5);
        drop(vessel);
        shore.stop().await.unwrap();
    }
}

/// Two shores on one index (a shared subscription splits the statuses):
/// both list the same alert with the same `since`, and it clears once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shores_on_one_index_agree() {
    let broker = MosquittoServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let urls: Vec<(String, Option<PgDb>)> = index_urls(dir.path(), "alerts_two").await;
    for (url, _db) in urls {
        let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let offset = Arc::new(AtomicI64::new(0));
        let mut ca = config(&broker.url(), a_dir.path(), "shore-two-a", Some(&url));
        let mut cb = config(&broker.url(), b_dir.path(), "shore-two-b", Some(&url));
        ca.alerts = thresholds();
        cb.alerts = thresholds();
        let a = start_at(ca, &offset).await;
        let b = start_at(cb, &offset).await;
        let mut vessel = Vessel::connect(broker.port(), "aurora").await;
        let failed = Report {
            mast: "stopped",
            ..HEALTHY
        };
        for _ in 0..4 {
            vessel.send(&failed).await;
        }
        let total = || {
            a.metrics.status_messages.load(Ordering::SeqCst)
                + b.metrics.status_messages.load(Ordering::SeqCst)
        };
        until(10, "4 statuses applied between the two", || async {
            total() == 4
        })
        .await;
        until_alerts(&a, &["camera_down/mast"], "camera_down on a").await;
        until_alerts(&b, &["camera_down/mast"], "camera_down on b").await;
        let (_, la) = get_json(a.addr, "/api/v1/alerts").await;
        let (_, lb) = get_json(b.addr, "/api/v1/alerts").await;
        assert_eq!(la, lb, "both instances list the same alert, same since");
        vessel.send(&HEALTHY).await;
        until_alerts(&a, &[], "cleared on a").await;
        until_alerts(&b, &[], "cleared on b").await;
        let raised = a.metrics.alerts_raised.load(Ordering::SeqCst)
            + b.metrics.alerts_raised.load(Ordering::SeqCst);
        let cleared = a.metrics.alerts_cleared.load(Ordering::SeqCst)
            + b.metrics.alerts_cleared.load(Ordering::SeqCst);
        assert_eq!(
            (raised, cleared),
            (1, 1),
            "raised and cleared once across the instances"
        );
        drop(vessel);
        a.stop().await.unwrap();
        b.stop().await.unwrap();
    }
}
