//! `seaframe-bench scan`: what the disk watch's slow scan costs over a big
//! history — `cameras` × `days` of minute folders (one small frame each,
//! indexed) — for a first cycle (a data directory never scanned: every
//! folder reconciled) and a steady one (nothing changed: a `stat` each),
//! with the default budget per tick. Prints CPU per cycle and per folder,
//! and how long a cycle takes at the default pace.

use std::collections::HashSet;
use std::time::Instant;

use seaframe_agent::adapters::store::{ReconcileReport, Store};
use seaframe_agent::base::store::layout::rel_path;
use seaframe_agent::services::fswatch::WatchSettings;
use seaframe_agent::services::fswatch::scan::{Budget, Scan};
use seaframe_wire::CameraId;
use seaframe_wire::timestamp::Timestamp;

use crate::ScanArgs;
use crate::procfs::cpu_seconds;

pub fn run(args: ScanArgs) -> anyhow::Result<()> {
    let tmp = tempfile::Builder::new()
        .prefix("seaframe-bench-scan")
        .tempdir()?;
    let store = Store::open(tmp.path())?;
    let minutes = i64::from(args.days) * 24 * 60;
    let folders = minutes * i64::from(args.cameras);
    println!(
        "scan: {} cameras x {} days = {folders} minute folders, one frame each",
        args.cameras, args.days
    );
    // One tiny JPEG everywhere (its EXIF is not needed: the path says it all).
    let jpeg = crate::pipeline::camera_like_jpeg(16, 16, 1)?;
    let start_ms = Timestamp::parse_user("2025-01-01T00:00:00Z")
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .unix_millis();
    let made = Instant::now();
    for cam in 0..args.cameras {
        let camera = CameraId::parse(&format!("cam-{cam}"))?;
        for m in 0..minutes {
            let at = Timestamp::from_unix_millis(start_ms + m * 60_000);
            let path = store.frames_dir().join(rel_path(&camera, at, 0));
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&path, &jpeg)?;
        }
    }
    let report = store.reconcile(None)?;
    println!(
        "made and indexed in {:.1} s ({} indexed)",
        made.elapsed().as_secs_f64(),
        report.files_indexed
    );

    // Ctimes older than the scan's margin (2 s), as on a board where the
    // history was written long ago.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let settings = WatchSettings::default();
    let min_cycle_ns = 0;
    let mut scan = Scan::resume(&store, settings.max_pending, min_cycle_ns)?;
    for name in [
        "first cycle (never scanned)",
        "steady cycle (nothing changed)",
    ] {
        let cpu0 = cpu_seconds(None).ok_or_else(|| anyhow::anyhow!("reading /proc/self/stat"))?;
        let wall0 = Instant::now();
        let cycles = scan.cycles;
        let reconciled = scan.folders_reconciled;
        let mut ticks = 0u64;
        while scan.cycles == cycles {
            let mut budget = Budget {
                visits: settings.visits_per_tick,
                files: settings.files_per_tick,
            };
            let mut report = ReconcileReport::default();
            scan.step(
                &store,
                &HashSet::new(),
                Timestamp::now().unix_nanos(),
                &mut budget,
                &mut report,
            )?;
            ticks += 1;
        }
        let cpu =
            cpu_seconds(None).ok_or_else(|| anyhow::anyhow!("reading /proc/self/stat"))? - cpu0;
        let paced_s = ticks as f64 * settings.tick.as_secs_f64();
        println!(
            "{name}: {} folders reconciled, {ticks} ticks of {} visits; CPU {cpu:.2} s \
             ({:.1} us per minute folder), {:.1} s of wall time unpaced; at one tick per {:?}: \
             a cycle every {paced_s:.0} s, {:.1} ms of CPU per second",
            scan.folders_reconciled - reconciled,
            settings.visits_per_tick,
            cpu / folders as f64 * 1e6,
            wall0.elapsed().as_secs_f64(),
            settings.tick,
            cpu / paced_s.max(1e-9) * 1000.0,
        );
    }
    Ok(())
}
