//! Fleet load benchmark: simulated vessels (200 × 4 cameras, ~10 KB
//! JPEG thumbnails, QoS 1, 8 MQTT clients) publish through a real mosquitto to 1
//! or 2 shore instances in one share group, on SQLite + disk (the embedded
//! default) or PostgreSQL + S3 (moto, or s3s-fs); prints the offered rate, thumbnails/s
//! indexed, p50/p99 publish→queryable latency and CPU per thumbnail.
//!
//! ```text
//! cargo run --release -p seaframe-shore --example bench -- \
//!     [--index sqlite|postgres] [--blobs disk|s3] [--s3 moto|s3s-fs] [--instances 1|2]
//!     [--rate N] [--seconds S]
//! ```
//! - `--rate N` paces the fleet at N thumbnails/s for `--seconds`; without
//!   it the fleet publishes as fast as the broker takes it (saturation).
//! - `--index postgres` takes the server from `SEAFRAME_TEST_PG_URL` (e.g.
//!   under `scripts/private-postgres`), creates a fresh database and drops it.
//! - `--blobs s3` starts moto (`scripts/install-moto`) on a free port, or
//!   with `--s3 s3s-fs` the native s3s-fs (`scripts/install-s3s-fs`): moto
//!   costs ~4 CPU-ms an object and caps the run near 250/s.
//!
//! Latency is sampled: a probe vessel publishes 50 thumbnails/s besides the
//! load, and a poller asks the index (as the API does) every 5 ms for the
//! probes not yet seen; publish→queryable is from just before the publish
//! call to the first poll that returns the row.
//!
//! CPU: each instance runs in this process on a tokio runtime of its own
//! whose threads carry its name, so its CPU is the sum over those threads
//! in `/proc/self/task` (the load generator's threads are not counted);
//! mosquitto, the S3 server and PostgreSQL (the postmaster's children) are read from
//! `/proc/<pid>/stat`. Ends by checking sent = indexed.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod cpu;
mod fleet;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, ValueEnum};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use seaframe_shore::adapters::blobs::BlobsConfig;
use seaframe_shore::adapters::config::{Config, Secret};
use seaframe_shore::adapters::index::{Index, ThumbQuery};
use seaframe_shore::app::Shore;
use seaframe_testkit::{
    MosquittoOptions, MosquittoServer, MotoServer, S3S_ACCESS_KEY, S3S_SECRET_KEY, S3sFsServer,
    thumb, thumb_position,
};
use seaframe_wire::{CameraId, ThumbPosition, VesselName};

const VESSELS: usize = 200;
const CAMERAS: usize = 4;
const PUBLISHERS: usize = 8;
const PROBES_PER_S: u64 = 50;
const PROBE_VESSEL: &str = "probe";
const T0_NS: i64 = 1_764_460_800_000_000_000;
const BUCKET: &str = "seaframe-bench";
/// Clock ticks per second in `/proc/*/stat`: Linux's USER_HZ, 100 on every
/// architecture it exports to user space.
const USER_HZ: f64 = 100.0;

#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
enum IndexKind {
    Sqlite,
    Postgres,
}

#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
enum BlobsKind {
    Disk,
    S3,
}

/// Which S3-compatible server `--blobs s3` runs.
#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
enum S3Kind {
    Moto,
    S3sFs,
}

/// The S3 server of a run.
enum S3Server {
    Moto(MotoServer),
    S3sFs(S3sFsServer),
}

impl S3Server {
    fn start(kind: S3Kind) -> anyhow::Result<Self> {
        let server = match kind {
            S3Kind::Moto => Self::Moto(MotoServer::start()?),
            S3Kind::S3sFs => Self::S3sFs(S3sFsServer::start()?),
        };
        match &server {
            Self::Moto(m) => m.create_bucket(BUCKET)?,
            Self::S3sFs(s) => s.create_bucket(BUCKET)?,
        }
        Ok(server)
    }

    fn endpoint(&self) -> String {
        match self {
            Self::Moto(m) => m.endpoint(),
            Self::S3sFs(s) => s.endpoint(),
        }
    }

    /// Access key and secret it takes.
    fn keys(&self) -> (&'static str, &'static str) {
        match self {
            Self::Moto(_) => ("bench", "bench-secret"),
            Self::S3sFs(_) => (S3S_ACCESS_KEY, S3S_SECRET_KEY),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Self::Moto(_) => "moto",
            Self::S3sFs(_) => "s3s-fs",
        }
    }

    fn pid(&self) -> Option<u32> {
        match self {
            Self::Moto(m) => m.pid(),
            Self::S3sFs(s) => Some(s.pid()),
        }
    }
}

#[derive(Parser, Debug)]
struct Args {
    #[arg(long, value_enum, default_value = "sqlite")]
    index: IndexKind,
    #[arg(long, value_enum, default_value = "disk")]
    blobs: BlobsKind,
    /// The S3 server of `--blobs s3`.
    #[arg(long, value_enum, default_value = "moto")]
    s3: S3Kind,
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
    instances: u8,
    /// Thumbnails/s offered by the fleet (the probes come on top); none:
    /// as fast as the broker takes them.
    #[arg(long)]
    rate: Option<u64>,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

use cpu::Peers;
use fleet::*;

/// One shore instance on a runtime of its own, its threads named `name`.
struct Instance {
    shore: Shore,
    runtime: tokio::runtime::Runtime,
}

async fn start_instance(cfg: Config, name: &str) -> anyhow::Result<Instance> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(name)
        // Blocking threads live the whole run, so that none takes its CPU
        // time away with it before the last sample.
        .thread_keep_alive(Duration::from_secs(3600))
        .enable_all()
        .build()?;
    let shore = runtime
        .spawn(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let shore = Shore::start(cfg, listener).await?;
            tokio::time::timeout(Duration::from_secs(20), shore.subscribed())
                .await
                .context("subscribed within 20 s")?;
            anyhow::Ok(shore)
        })
        .await??;
    Ok(Instance { shore, runtime })
}

async fn fresh_database(server: &str) -> anyhow::Result<(tokio_postgres::Client, String, String)> {
    let name = format!("seaframe_bench_{}", std::process::id());
    let (client, conn) = tokio_postgres::connect(server, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await?;
    let mut u = url::Url::parse(server)?;
    u.set_path(&format!("/{name}"));
    Ok((client, name, u.to_string()))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // The shore's warnings (e.g. a rejected thumbnail), as the service logs them.
    tracing_subscriber::fmt()
        .with_env_filter(seaframe_shore::logging::filter())
        .init();
    let broker = MosquittoServer::start_with(MosquittoOptions {
        persistence: false,
        extra_config:
            "allow_anonymous true\nmax_inflight_messages 1000\nmax_queued_messages 1000000\n".into(),
    })?;
    let s3 = match args.blobs {
        BlobsKind::S3 => Some(S3Server::start(args.s3)?),
        BlobsKind::Disk => None,
    };
    let mut pg = None;
    let mut postmaster_pid = None;
    let dir = tempfile::tempdir()?;
    let index_url = match args.index {
        IndexKind::Postgres => {
            let server = std::env::var("SEAFRAME_TEST_PG_URL").context(
                "--index postgres needs SEAFRAME_TEST_PG_URL (scripts/private-postgres)",
            )?;
            let (client, name, url) = fresh_database(&server).await?;
            let backend: i32 = client
                .query_one("SELECT pg_backend_pid()", &[])
                .await?
                .get(0);
            postmaster_pid = std::fs::read_to_string(format!("/proc/{backend}/stat"))
                .ok()
                .and_then(|s| {
                    let i = s.rfind(')')?;
                    s[i + 2..].split_whitespace().nth(1)?.parse().ok()
                });
            pg = Some((client, name));
            url
        }
        IndexKind::Sqlite => format!("sqlite:{}", dir.path().join("index.db").display()),
    };
    anyhow::ensure!(
        args.instances == 1 || args.index == IndexKind::Postgres,
        "two instances share one PostgreSQL: --index postgres"
    );

    let mut instances = Vec::new();
    let mut names = Vec::new();
    for i in 0..args.instances {
        let name = format!("shore-{}", (b'a' + i) as char);
        let mut cfg = Config::from_toml(
            &format!(
                "[mqtt]\nurl = \"{}\"\nclient_id = \"{name}\"\n",
                broker.url()
            ),
            "bench",
        )?;
        cfg.data_dir = dir.path().join(&name);
        std::fs::create_dir_all(&cfg.data_dir)?;
        cfg.index.url = Some(Secret::new(index_url.clone()));
        if let Some(s3) = &s3 {
            let (key, secret) = s3.keys();
            cfg.blobs = BlobsConfig {
                url: Some(format!("s3://{BUCKET}/shore")),
                endpoint: Some(s3.endpoint()),
                region: Some("us-east-1".into()),
                access_key_id: Some(key.into()),
                secret_access_key: Some(Secret::new(secret)),
                allow_http: true,
            };
        }
        instances.push(start_instance(cfg, &name).await?);
        names.push(name);
    }
    let peers = Peers {
        broker_pid: broker.pid(),
        s3_pid: s3.as_ref().and_then(S3Server::pid),
        s3_name: s3.as_ref().map_or("", S3Server::name),
        postmaster_pid,
        instance_names: names,
    };

    let jpeg = Arc::new(thumbnail_jpeg()?);
    let end = Duration::from_secs(args.seconds);
    let offered = args.rate.map_or(
        "saturation (as fast as the broker takes them)".into(),
        |r| format!("{r}/s"),
    );
    println!(
        "fleet {VESSELS} vessels × {CAMERAS} cameras, {} B thumbnails, {PUBLISHERS} clients, \
         offered {offered} for {} s + {PROBES_PER_S}/s probes; index {:?}, blobs {:?}, {} instance(s)",
        jpeg.len(),
        args.seconds,
        args.index,
        args.blobs,
        args.instances
    );

    let cpu0 = peers.sample();
    let t0 = Instant::now();
    let per_pub = args.rate.map(|r| r as f64 / PUBLISHERS as f64);
    let pubs: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            tokio::spawn(publish_share(
                p,
                broker.port(),
                jpeg.clone(),
                per_pub,
                end,
                t0,
            ))
        })
        .collect();
    let sent_at = Arc::new(Mutex::new(BTreeMap::new()));
    let probes_done = Arc::new(AtomicU64::new(0));
    let prober = tokio::spawn(probe(broker.port(), jpeg.clone(), end, t0, sent_at.clone()));
    let poller = tokio::spawn(poll_probes(
        instances[0].shore.index.clone(),
        sent_at,
        probes_done.clone(),
    ));
    let mut sent = 0;
    for p in pubs {
        sent += p.await??;
    }
    let t_pub = t0.elapsed();
    let probes = prober.await??;
    let total = sent + probes;

    let indexed = || -> u64 {
        instances
            .iter()
            .map(|i| i.shore.metrics.thumbs_indexed.load(Ordering::Relaxed))
            .sum()
    };
    let mut last_report = Instant::now();
    while indexed() < total {
        tokio::time::sleep(Duration::from_millis(10)).await;
        if last_report.elapsed() > Duration::from_secs(5) {
            let m = &instances[0].shore.metrics;
            println!(
                "  … {} of {total} indexed ({} received, {} connects at the first instance)",
                indexed(),
                m.mqtt_publishes_received.load(Ordering::Relaxed),
                m.mqtt_connects.load(Ordering::Relaxed)
            );
            last_report = Instant::now();
        }
        anyhow::ensure!(t0.elapsed() < end + Duration::from_secs(600), "timed out");
    }
    let t_all = t0.elapsed();
    let cpu1 = peers.sample();
    probes_done.store(u64::MAX, Ordering::Relaxed);
    let mut lat = poller.await??;
    lat.sort();

    let per_thumb_ms = |s0: f64, s1: f64| (s1 - s0) * 1000.0 / total as f64;
    println!(
        "sent {total} ({sent} fleet + {probes} probes), PUBACKed within {:.2} s = {:.0}/s; \
         all indexed after {:.2} s = {:.0} thumbnails/s indexed ({:.1} MB/s)",
        t_pub.as_secs_f64(),
        total as f64 / t_pub.as_secs_f64(),
        t_all.as_secs_f64(),
        total as f64 / t_all.as_secs_f64(),
        total as f64 * jpeg.len() as f64 / t_all.as_secs_f64() / 1e6,
    );
    println!(
        "publish→queryable ({} probes): p50 {} ms, p99 {} ms, max {} ms",
        lat.len(),
        percentile(&lat, 0.5).as_millis(),
        percentile(&lat, 0.99).as_millis(),
        lat.last().copied().unwrap_or_default().as_millis(),
    );
    let mut line = String::from("CPU-ms per thumbnail:");
    for (i, (a, b)) in cpu0.instances.iter().zip(&cpu1.instances).enumerate() {
        let share = instances[i]
            .shore
            .metrics
            .thumbs_indexed
            .load(Ordering::Relaxed);
        line += &format!(
            " {} {:.3} ({share} indexed there);",
            peers.instance_names[i],
            per_thumb_ms(*a, *b)
        );
    }
    let shores: f64 = cpu1.instances.iter().sum::<f64>() - cpu0.instances.iter().sum::<f64>();
    line += &format!(
        " all shores {:.3}; mosquitto {:.3}",
        shores * 1000.0 / total as f64,
        per_thumb_ms(cpu0.broker, cpu1.broker)
    );
    if let (Some(a), Some(b)) = (cpu0.s3, cpu1.s3) {
        line += &format!("; {} {:.3}", peers.s3_name, per_thumb_ms(a, b));
    }
    if let (Some(a), Some(b)) = (cpu0.postgres, cpu1.postgres) {
        line += &format!("; postgres {:.3}", per_thumb_ms(a, b));
    }
    println!("{line}");

    let rows = instances[0].shore.index.count_thumbs().await?;
    anyhow::ensure!(rows == total, "sent {total} but {rows} indexed");
    println!("sent = indexed = {rows}");
    for (i, name) in peers.instance_names.iter().enumerate() {
        let m = &instances[i].shore.metrics;
        println!(
            "{name}: {} connection(s), {} duplicates ignored, at most {} unacked at the broker",
            m.mqtt_connects.load(Ordering::Relaxed),
            m.thumbs_duplicate.load(Ordering::Relaxed),
            m.mqtt_unacked_peak.load(Ordering::Relaxed),
        );
    }
    for Instance { shore, runtime } in instances {
        runtime.spawn(shore.stop()).await??;
        runtime.shutdown_background();
    }
    if let Some((client, name)) = pg {
        client
            .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .await?;
    }
    Ok(())
}
