//! The live feed behind `GET /api/v1/events`: one task per shore process
//! follows the index — thumbnails by id, vessels, configs and alerts by
//! comparing with what it saw last — and fans each change out to every SSE
//! client through a `broadcast` channel.
//!
//! Why the index and not the writer: with several shore instances behind a
//! shared subscription each one ingests only its share of the fleet, but
//! every client must see the whole fleet. The local writer wakes the feed
//! after each commit (a [`Notify`]), so what this process ingests goes out
//! at once; on PostgreSQL, [`listen`] wakes it when another instance
//! commits (LISTEN/NOTIFY); a poll every [`POLL`] picks up whatever no
//! wake-up announced (a listening connection lost, SQLite shared by
//! instances on one machine).
//!
//! PostgreSQL hands out ids in `BIGSERIAL` order but commits need not land
//! in that order (and a conflict burns an id): an id skipped over is
//! watched for [`GAP_WAIT`] so that a row committed late still goes out.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{Notify, broadcast};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::adapters::index::{Index, ThumbRow};
use crate::base::backoff::{self, pause};
use crate::services::metrics::{Metrics, add};
use crate::services::views::{FleetHealthView, ThumbView, VesselView, config_json, config_key};

mod health;

/// How often the index is read when nothing woke the feed (the fallback
/// for what no wake-up announced).
pub const POLL: Duration = Duration::from_millis(500);
/// How long an id skipped over is waited for.
pub const GAP_WAIT: Duration = Duration::from_secs(5);
/// At most this many skipped ids are watched (a bigger jump is not a gap
/// of commits in flight).
const MAX_GAPS: usize = 4096;
/// Thumbnails read per query.
const PAGE: u32 = 1000;
/// Events a client may fall behind before it is told to resync.
pub const CHANNEL_CAPACITY: usize = 4096;

/// One event for the SSE clients: its name and its JSON, serialised once.
#[derive(Debug, Clone)]
pub struct FeedEvent {
    pub name: &'static str,
    pub data: Arc<str>,
}

impl FeedEvent {
    fn new(name: &'static str, data: &impl Serialize) -> Self {
        Self {
            name,
            data: serde_json::to_string(data)
                .expect("a view serialises")
                .into(),
        }
    }
}

/// Which thumbnail ids have gone out: all up to `last_id` but the `gaps`.
#[derive(Debug, Default)]
pub struct Follow {
    last_id: i64,
    /// Skipped ids and when they were first missed.
    gaps: BTreeMap<i64, Instant>,
}

impl Follow {
    pub fn starting_after(last_id: i64) -> Self {
        Self {
            last_id,
            gaps: BTreeMap::new(),
        }
    }

    /// The id to read after: before the oldest gap still awaited.
    pub fn read_after(&mut self, now: Instant) -> i64 {
        self.gaps.retain(|_, at| now.duration_since(*at) < GAP_WAIT);
        self.gaps
            .keys()
            .next()
            .map_or(self.last_id, |first| first - 1)
    }

    /// Whether `id` (read in id order) is new; notes the ids it skips.
    pub fn accept(&mut self, id: i64, now: Instant) -> bool {
        if id > self.last_id {
            let skipped = id - self.last_id - 1;
            if skipped > 0
                && usize::try_from(skipped).is_ok_and(|n| self.gaps.len() + n <= MAX_GAPS)
            {
                for gap in self.last_id + 1..id {
                    self.gaps.insert(gap, now);
                }
            }
            self.last_id = id;
            true
        } else {
            self.gaps.remove(&id).is_some()
        }
    }
}

/// The feed task.
#[derive(Debug)]
pub struct Feed {
    pub index: Arc<dyn Index>,
    /// Woken by the local writer after each commit.
    pub wake: Arc<Notify>,
    pub tx: broadcast::Sender<FeedEvent>,
    pub metrics: Arc<Metrics>,
}

/// What the feed saw last.
#[derive(Debug, Default)]
struct Seen {
    thumbs: Follow,
    vessels: HashMap<String, VesselView>,
    /// Each vessel's [`config_key`] (the history is read only on a change).
    configs: HashMap<String, Value>,
    alerts: health::AlertsSeen,
}

impl Feed {
    pub async fn run(self, shutdown: CancellationToken) -> Result<()> {
        let mut backoff = backoff::retry();
        // Start from now: a client gets the state from the API, then changes.
        let mut seen = loop {
            match self.snapshot().await {
                Ok(seen) => break seen,
                Err(e) => {
                    tracing::warn!(error = %e, "feed: reading the index failed; retrying");
                    if !pause(backoff.next_delay(), &shutdown).await {
                        return Ok(());
                    }
                }
            }
        };
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
            if let Err(e) = self.step(&mut seen).await {
                tracing::warn!(error = %e, "feed: reading the index failed; next poll retries");
            }
        }
        Ok(())
    }

    async fn snapshot(&self) -> Result<Seen, crate::adapters::index::IndexError> {
        let last_id = self.index.last_thumb_id().await?;
        let mut seen = Seen {
            thumbs: Follow::starting_after(last_id),
            ..Seen::default()
        };
        let view = FleetHealthView::read(self.index.as_ref()).await?;
        for v in self.index.vessels().await? {
            let name = v.name.to_string();
            seen.vessels.insert(name, VesselView::new(v, &view).key());
        }
        seen.alerts = health::AlertsSeen::new(&view);
        for (v, c) in self.index.configs().await? {
            seen.configs.insert(v.to_string(), config_key(&c));
        }
        Ok(seen)
    }

    fn send(&self, event: FeedEvent) {
        add(&self.metrics.feed_events, 1);
        // No receiver is not an error: nobody is watching.
        let _ = self.tx.send(event);
    }

    /// Sends what changed since `seen`.
    async fn step(&self, seen: &mut Seen) -> Result<(), crate::adapters::index::IndexError> {
        let mut after = seen.thumbs.read_after(Instant::now());
        loop {
            let rows: Vec<ThumbRow> = self.index.thumbs_after(after, PAGE).await?;
            let now = Instant::now();
            for row in &rows {
                if seen.thumbs.accept(row.id, now) {
                    self.send(FeedEvent::new("thumb", &ThumbView::from(row)));
                }
            }
            match rows.last() {
                Some(last) if rows.len() == PAGE as usize => after = last.id,
                _ => break,
            }
        }
        let view = FleetHealthView::read(self.index.as_ref()).await?;
        for v in self.index.vessels().await? {
            let name = v.name.to_string();
            let full = VesselView::new(v, &view);
            let key = full.key();
            if seen.vessels.get(&name) != Some(&key) {
                seen.vessels.insert(name, key);
                self.send(FeedEvent::new("vessel", &full));
            }
        }
        for alert in seen.alerts.changes(&view) {
            self.send(FeedEvent::new("alert", &alert));
        }
        for (v, c) in self.index.configs().await? {
            let name = v.to_string();
            let key = config_key(&c);
            if seen.configs.get(&name) != Some(&key) {
                let state = config_json(&c, &self.index.ack_history(&v).await?);
                seen.configs.insert(name.clone(), key);
                let mut event = json!({ "vessel": name });
                if let (Some(e), Value::Object(s)) = (event.as_object_mut(), state) {
                    e.extend(s);
                }
                self.send(FeedEvent::new("config", &event));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_go_out_once_and_late_commits_within_the_wait() {
        let t0 = Instant::now();
        let mut f = Follow::starting_after(10);
        assert_eq!(f.read_after(t0), 10);
        assert!(f.accept(11, t0));
        assert!(!f.accept(11, t0), "twice");
        // 12 and 13 are skipped (in flight elsewhere, or burnt).
        assert!(f.accept(14, t0));
        assert_eq!(f.read_after(t0), 11);
        assert!(!f.accept(14, t0));
        assert!(f.accept(13, t0), "a late commit goes out");
        assert!(!f.accept(13, t0));
        assert_eq!(f.read_after(t0), 11);
        // 12 never comes: after the wait it is given up.
        assert_eq!(f.read_after(t0 + GAP_WAIT), 14);
        assert!(!f.accept(12, t0 + GAP_WAIT));
    }

    #[test]
    fn a_huge_jump_is_not_watched() {
        let t0 = Instant::now();
        let mut f = Follow::starting_after(0);
        assert!(f.accept(1_000_000, t0));
        assert_eq!(f.read_after(t0), 1_000_000);
    }
}
