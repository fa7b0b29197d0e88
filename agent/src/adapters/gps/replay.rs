//! `replay:file?rate=R`: an NMEA log played back as if a receiver were
//! sending it now — paced by the log's own epochs at R× speed, and each
//! fix's time moved so that the log's first fix is "now" (so that frames
//! captured meanwhile are tagged along the logged track). Loops forever.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::base::gps::feed::Feed;
use crate::base::gps::nmea::{self, Sentence};
use crate::base::gps::state::Gps;
use seaframe_wire::timestamp::Timestamp;

/// Longest pause between two epochs, whatever the log says.
const MAX_GAP: Duration = Duration::from_secs(5);

/// Plays `file` once; returns when it is used up.
pub async fn session(file: &Path, rate: f64, gps: &Arc<Gps>) -> Result<(), String> {
    let bytes = tokio::fs::read(file)
        .await
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    gps.set_state("ok");
    // The log's first fix is placed when it arrived; the rest keep their
    // spacing, scaled by the rate.
    let mut first: Option<(i64, i64)> = None;
    let rebase = Box::new(
        move |fix: &mut crate::base::gps::fix::Fix, arrived: Timestamp| {
            let (t0, a0) = *first.get_or_insert((fix.time.unix_nanos(), arrived.unix_nanos()));
            let scaled = ((fix.time.unix_nanos() - t0) as f64 / rate) as i64;
            fix.time = Timestamp::from_unix_nanos(a0 + scaled);
        },
    );
    let mut feed = Feed::new(Arc::clone(gps), Some(rebase));
    let mut last_epoch: Option<u32> = None;
    for line in bytes.split(|&b| b == b'\n') {
        if line.starts_with(b"#") {
            continue;
        }
        let line: Vec<u8> = line.iter().copied().filter(|&b| b != b'|').collect();
        if let Some(t) = nmea::parse(&line)
            .ok()
            .flatten()
            .as_ref()
            .and_then(Sentence::time)
            .map(|t| t.0)
        {
            if let Some(prev) = last_epoch.filter(|prev| t > *prev) {
                let gap = Duration::from_millis(u64::from(t - prev))
                    .div_f64(rate)
                    .min(MAX_GAP);
                tokio::time::sleep(gap).await;
            }
            last_epoch = Some(t);
        }
        feed.line(&line, Timestamp::now());
    }
    feed.flush(Timestamp::now());
    Ok(())
}
