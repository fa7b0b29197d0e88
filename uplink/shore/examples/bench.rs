//! Ingest benchmark: a load generator publishing as a fleet (default 200
//! vessels × 4 cameras, 10 KB thumbnails, QoS 1) to a real mosquitto, and an
//! in-process shore indexing them; prints thumbnails/s indexed.
//!
//! ```text
//! cargo run -p seaframe-shore --profile bench-fast --example bench -- [sqlite | postgres://…] [per_camera]
//! ```
//! With a `postgres://` URL a fresh database is created in it and dropped.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use seaframe_shore::app::Shore;
use seaframe_shore::config::{Config, Secret};
use seaframe_testkit::{MosquittoOptions, MosquittoServer, thumb, thumb_position};
use seaframe_wire::ThumbPosition;

const VESSELS: usize = 200;
const CAMERAS: usize = 4;
const THUMB_BYTES: usize = 10_000;
const PUBLISHERS: usize = 8;

fn payload(vessel: &str, camera: &str, ns: i64, jpeg: &[u8]) -> Vec<u8> {
    let position = ThumbPosition {
        speed_kn: Some(10.0),
        ..thumb_position(59.0 + (ns % 1000) as f64 / 1000.0, 10.0)
    };
    thumb(vessel, camera, ns, (320, 180), position, jpeg.to_vec())
        .encode()
        .unwrap()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let index_arg = args.first().cloned().unwrap_or_else(|| "sqlite".into());
    let per_camera: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(25);
    let total = (VESSELS * CAMERAS * per_camera) as u64;

    let broker = MosquittoServer::start_with(MosquittoOptions {
        persistence: false,
        extra_config:
            "allow_anonymous true\nmax_inflight_messages 1000\nmax_queued_messages 1000000\n".into(),
    })?;
    let dir = tempfile::tempdir()?;
    let mut pg_db = None;
    let index_url = if index_arg.starts_with("postgres") {
        let name = format!("seaframe_bench_{}", std::process::id());
        let (client, conn) = tokio_postgres::connect(&index_arg, tokio_postgres::NoTls).await?;
        tokio::spawn(conn);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await?;
        let mut u = url::Url::parse(&index_arg)?;
        u.set_path(&format!("/{name}"));
        pg_db = Some((client, name));
        u.to_string()
    } else {
        format!("sqlite:{}", dir.path().join("index.db").display())
    };
    let mut cfg = Config::from_toml(
        &format!(
            "[mqtt]\nurl = \"{}\"\nclient_id = \"bench-shore\"\n",
            broker.url()
        ),
        "bench",
    )?;
    cfg.data_dir = dir.path().to_owned();
    cfg.index.url = Some(Secret::new(index_url.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let shore = Shore::start(cfg, listener).await?;
    tokio::time::timeout(Duration::from_secs(20), shore.subscribed()).await?;

    let mut jpeg = vec![0xFF, 0xD8];
    jpeg.extend((0..THUMB_BYTES - 4).map(|i| (i * 7 % 251) as u8));
    jpeg.extend([0xFF, 0xD9]);
    let jpeg = Arc::new(jpeg);

    println!(
        "publishing {total} thumbnails ({VESSELS} vessels × {CAMERAS} cameras × {per_camera}, {THUMB_BYTES} B) \
         from {PUBLISHERS} clients; index {}",
        if pg_db.is_some() {
            "postgresql"
        } else {
            "sqlite"
        }
    );
    let t0 = Instant::now();
    let published = Arc::new(AtomicU64::new(0));
    let mut pubs = Vec::new();
    for p in 0..PUBLISHERS {
        let (port, jpeg, published) = (broker.port(), jpeg.clone(), published.clone());
        pubs.push(tokio::spawn(async move {
            let mut opts = MqttOptions::new(format!("bench-pub-{p}"), "127.0.0.1", port);
            opts.set_max_packet_size(1 << 20, 1 << 20)
                .set_inflight(200)
                .set_request_channel_capacity(256);
            let (client, mut eventloop) = AsyncClient::new(opts, 256);
            let acked = Arc::new(AtomicU64::new(0));
            let counter = acked.clone();
            let poller = tokio::spawn(async move {
                while let Ok(ev) = eventloop.poll().await {
                    if let Event::Incoming(Packet::PubAck(_)) = ev {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
            let mut sent = 0u64;
            for i in 0..per_camera {
                for v in (p..VESSELS).step_by(PUBLISHERS) {
                    let vessel = format!("vessel-{v}");
                    for c in 0..CAMERAS {
                        let camera = format!("cam-{c}");
                        let ns = 1_764_460_800_000_000_000 + (i as i64) * 1_000_000_000;
                        let topic = format!("seaframe/v1/{vessel}/thumb/{camera}");
                        client
                            .publish(
                                topic,
                                QoS::AtLeastOnce,
                                false,
                                payload(&vessel, &camera, ns, &jpeg),
                            )
                            .await
                            .unwrap();
                        sent += 1;
                    }
                }
            }
            while acked.load(Ordering::Relaxed) < sent {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            published.fetch_add(sent, Ordering::Relaxed);
            poller.abort();
        }));
    }
    for p in pubs {
        p.await?;
    }
    let t_pub = t0.elapsed();
    let m = shore.metrics.clone();
    let mut last_report = Instant::now();
    while m.thumbs_indexed.load(Ordering::Relaxed) < total {
        tokio::time::sleep(Duration::from_millis(10)).await;
        if last_report.elapsed() > Duration::from_secs(5) {
            println!(
                "  … {} indexed, {} received, {} duplicates, {} connects",
                m.thumbs_indexed.load(Ordering::Relaxed),
                m.mqtt_publishes_received.load(Ordering::Relaxed),
                m.thumbs_duplicate.load(Ordering::Relaxed),
                m.mqtt_connects.load(Ordering::Relaxed),
            );
            last_report = Instant::now();
        }
        anyhow::ensure!(t0.elapsed() < Duration::from_secs(600), "timed out");
    }
    let t_all = t0.elapsed();
    println!(
        "published (PUBACKed) in {:.2} s = {:.0}/s; all {total} indexed in {:.2} s = {:.0} thumbnails/s ({:.1} MB/s)",
        t_pub.as_secs_f64(),
        total as f64 / t_pub.as_secs_f64(),
        t_all.as_secs_f64(),
        total as f64 / t_all.as_secs_f64(),
        (total as f64 * THUMB_BYTES as f64) / t_all.as_secs_f64() / 1e6,
    );
    assert_eq!(shore.index.count_thumbs().await?, total);
    shore.stop().await?;
    if let Some((client, name)) = pg_db {
        client
            .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .await?;
    }
    Ok(())
}
