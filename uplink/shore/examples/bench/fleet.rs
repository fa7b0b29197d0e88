//! The simulated fleet: thumbnails, the MQTT clients that publish them at
//! the asked rate, and the latency probes with their poller.

use super::*;

/// A real 320×180 JPEG (the shore checks that a thumbnail is one), noisy
/// enough to weigh about what a camera's does (~10 KB).
pub fn thumbnail_jpeg() -> anyhow::Result<Vec<u8>> {
    let (w, h) = (320u16, 180u16);
    let pixels: Vec<u8> = (0..usize::from(w) * usize::from(h) * 3)
        .map(|i| ((i * 7 + i / 961 * 13) % 251) as u8)
        .collect();
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 25).encode(&pixels, w, h, jpeg_encoder::ColorType::Rgb)?;
    Ok(out)
}

pub fn payload(vessel: &str, camera: &str, ns: i64, jpeg: &[u8]) -> Vec<u8> {
    let position = ThumbPosition {
        speed_kn: Some(10.0),
        ..thumb_position(59.0 + (ns / 1_000_000 % 1000) as f64 / 1000.0, 10.0)
    };
    thumb(vessel, camera, ns, (320, 180), position, jpeg.to_vec())
        .encode()
        .expect("a thumbnail the benchmark made encodes")
}

/// An MQTT client whose PUBACKs are counted.
pub fn client(port: u16, id: &str) -> (AsyncClient, Arc<AtomicU64>, tokio::task::JoinHandle<()>) {
    let mut opts = MqttOptions::new(id, "127.0.0.1", port);
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
    (client, acked, poller)
}

/// How many messages are due `elapsed` into the run at `per_s` (all of them
/// when unpaced, until the time is up).
pub fn due(elapsed: Duration, per_s: Option<f64>, end: Duration) -> u64 {
    let t = elapsed.min(end);
    match per_s {
        Some(r) => (t.as_secs_f64() * r) as u64,
        None if elapsed < end => u64::MAX,
        None => 0,
    }
}

/// One publisher of the fleet: its share of the vessels, round-robin over
/// their cameras, paced at `per_s`, until `end`; returns how many it sent
/// once all are PUBACKed.
pub async fn publish_share(
    p: usize,
    port: u16,
    jpeg: Arc<Vec<u8>>,
    per_s: Option<f64>,
    end: Duration,
    t0: Instant,
) -> anyhow::Result<u64> {
    let (client, acked, poller) = client(port, &format!("bench-pub-{p}"));
    let slots: Vec<(String, String)> = (p..VESSELS)
        .step_by(PUBLISHERS)
        .flat_map(|v| (0..CAMERAS).map(move |c| (format!("vessel-{v}"), format!("cam-{c}"))))
        .collect();
    let mut sent = 0u64;
    loop {
        let elapsed = t0.elapsed();
        if elapsed >= end {
            break;
        }
        let due = due(elapsed, per_s, end);
        while sent < due && t0.elapsed() < end {
            let (vessel, camera) = &slots[(sent % slots.len() as u64) as usize];
            let round = (sent / slots.len() as u64) as i64;
            let topic = format!("seaframe/v1/{vessel}/thumb/{camera}");
            let body = payload(vessel, camera, T0_NS + round * 1_000_000, &jpeg);
            client
                .publish(topic, QoS::AtLeastOnce, false, body)
                .await
                .context("publish")?;
            sent += 1;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    wait_acked(&acked, sent).await;
    poller.abort();
    Ok(sent)
}

pub async fn wait_acked(acked: &AtomicU64, sent: u64) {
    while acked.load(Ordering::Relaxed) < sent {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The probe vessel: publishes one thumbnail every 1/`PROBES_PER_S` s until
/// `end`, noting when each was handed to the client, by its capture time.
pub async fn probe(
    port: u16,
    jpeg: Arc<Vec<u8>>,
    end: Duration,
    t0: Instant,
    sent_at: Arc<Mutex<BTreeMap<i64, Instant>>>,
) -> anyhow::Result<u64> {
    let (client, acked, poller) = client(port, "bench-probe");
    let mut tick = tokio::time::interval(Duration::from_millis(1000 / PROBES_PER_S));
    let mut sent = 0u64;
    while t0.elapsed() < end {
        tick.tick().await;
        let ns = T0_NS + sent as i64 * 1_000_000;
        let body = payload(PROBE_VESSEL, "cam-0", ns, &jpeg);
        let topic = format!("seaframe/v1/{PROBE_VESSEL}/thumb/cam-0");
        sent_at
            .lock()
            .expect("no panic under the lock")
            .insert(ns, Instant::now());
        client
            .publish(topic, QoS::AtLeastOnce, false, body)
            .await
            .context("publish a probe")?;
        sent += 1;
    }
    wait_acked(&acked, sent).await;
    poller.abort();
    Ok(sent)
}

/// Polls the index for the probes not yet seen until all `expected` are;
/// returns each one's publish→queryable latency.
pub async fn poll_probes(
    index: Arc<dyn Index>,
    sent_at: Arc<Mutex<BTreeMap<i64, Instant>>>,
    probes_done: Arc<AtomicU64>,
) -> anyhow::Result<Vec<Duration>> {
    let vessel = VesselName::parse(PROBE_VESSEL)?;
    let camera = CameraId::parse("cam-0")?;
    let mut latencies = Vec::new();
    loop {
        let oldest = sent_at
            .lock()
            .expect("no panic under the lock")
            .keys()
            .next()
            .copied();
        let Some(from_ns) = oldest else {
            if probes_done.load(Ordering::Relaxed) == u64::MAX {
                return Ok(latencies);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        let page = index
            .thumbs(&ThumbQuery {
                vessel: Some(vessel.clone()),
                camera: Some(camera.clone()),
                from_ns,
                to_ns: i64::MAX,
                place: None,
                after: None,
                limit: 10_000,
            })
            .await?;
        let now = Instant::now();
        {
            let mut pending = sent_at.lock().expect("no panic under the lock");
            for r in page.rows {
                if let Some(at) = pending.remove(&r.captured_at_ns) {
                    latencies.push(now - at);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}
