//! Tests of the outbox: order, idempotence, restarts, and thinning with
//! exact counts.

use crate::adapters::shore_link::outbox::*;

fn cam(s: &str) -> CameraId {
    CameraId::parse(s).unwrap()
}

const S: i64 = 1_000_000_000;

#[test]
fn newest_first_skipping_in_flight_and_removed_on_ack() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(dir.path(), 1_000_000).unwrap();
    for i in 0..5 {
        outbox.push(&cam("a"), i * S, &[i as u8; 10]).unwrap();
    }
    // The same camera and time again: kept once.
    outbox.push(&cam("a"), 4 * S, &[9; 10]).unwrap();
    assert_eq!(outbox.backlog(), (5, 50));
    let first = outbox.newest(2, &[]).unwrap();
    let times: Vec<i64> = first.iter().map(|p| p.captured_at_ns / S).collect();
    assert_eq!(times, [4, 3]);
    let skip: Vec<i64> = first.iter().map(|p| p.id).collect();
    let next = outbox.newest(2, &skip).unwrap();
    let times: Vec<i64> = next.iter().map(|p| p.captured_at_ns / S).collect();
    assert_eq!(times, [2, 1]);
    outbox.remove(first[0].id).unwrap();
    outbox.remove(first[0].id).unwrap();
    assert_eq!(outbox.backlog(), (4, 40));
}

#[test]
fn thumbnails_and_progress_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let outbox = Outbox::open(dir.path(), 1_000_000).unwrap();
        outbox.push(&cam("a"), S, b"one").unwrap();
        outbox.set_progress(&cam("a"), 7 * S).unwrap();
        outbox.set_progress(&cam("a"), 8 * S).unwrap();
    }
    let outbox = Outbox::open(dir.path(), 1_000_000).unwrap();
    assert_eq!(outbox.newest(10, &[]).unwrap()[0].payload, b"one");
    assert_eq!(outbox.progress(&cam("a")).unwrap(), Some(8 * S));
    assert_eq!(outbox.progress(&cam("b")).unwrap(), None);
    assert!(outbox.disk_bytes() > 0);
}

/// Pushes `minutes` of one thumbnail a second (1000 bytes) for cameras a
/// and b; returns what the outbox evicted in total.
fn fill(outbox: &Outbox, minutes: i64) -> Evicted {
    let mut total = Evicted::default();
    for s in 0..minutes * 60 {
        for c in ["a", "b"] {
            let e = outbox.push(&cam(c), s * S, &[0u8; 1000]).unwrap();
            total.thinned += e.thinned;
            total.dropped += e.dropped;
        }
    }
    total
}

fn times_of(outbox: &Outbox, camera: &str) -> Vec<i64> {
    let mut t: Vec<i64> = outbox
        .newest(100_000, &[])
        .unwrap()
        .into_iter()
        .filter(|p| p.camera.as_str() == camera)
        .map(|p| p.captured_at_ns / S)
        .collect();
    t.sort_unstable();
    t
}

#[test]
fn over_budget_the_oldest_are_thinned_to_one_per_minute_first() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(dir.path(), 1_000_000).unwrap();
    let evicted = fill(&outbox, 15); // 1800 thumbnails, 1.8 MB
    let (count, bytes) = outbox.backlog();
    assert!(bytes <= 1_000_000, "{bytes}");
    assert_eq!(evicted.dropped, 0, "thinning one per minute was enough");
    assert_eq!(count + evicted.thinned, 1800, "every eviction counted");
    for c in ["a", "b"] {
        let t = times_of(&outbox, c);
        // Every minute keeps at least its last thumbnail…
        for minute in 0..15 {
            assert!(t.contains(&(minute * 60 + 59)), "{c}: minute {minute} lost");
        }
        // …and the newest minutes are whole: thinning took the oldest.
        let last_minute: Vec<_> = t.iter().filter(|s| **s >= 14 * 60).collect();
        assert_eq!(last_minute.len(), 60, "{c}");
        let thinned_minutes = (0..15)
            .filter(|m| t.iter().filter(|s| **s / 60 == *m).count() == 1)
            .max()
            .unwrap();
        let whole_minutes = (0..15)
            .filter(|m| t.iter().filter(|s| **s / 60 == *m).count() == 60)
            .min()
            .unwrap();
        assert!(thinned_minutes < whole_minutes, "{c}: thinned oldest first");
    }
}

#[test]
fn then_one_per_ten_minutes_and_only_then_the_oldest_dropped() {
    let dir = tempfile::tempdir().unwrap();
    // Room for 10 thumbnails: one per camera and ten minutes is 12.
    let outbox = Outbox::open(dir.path(), 10_000).unwrap();
    let evicted = fill(&outbox, 60); // 7200 thumbnails
    let (count, bytes) = outbox.backlog();
    assert!(bytes <= 10_000, "{bytes}");
    assert_eq!(count + evicted.thinned + evicted.dropped, 7200);
    assert!(evicted.dropped > 0 && evicted.thinned > 0, "{evicted:?}");
    for c in ["a", "b"] {
        let t = times_of(&outbox, c);
        // The newest thumbnail is never thinned nor dropped, and the
        // oldest slots went whole.
        assert_eq!(t.last(), Some(&(60 * 60 - 1)), "{c}");
        assert!(t[0] >= 600, "{c}: the oldest slot was dropped: {t:?}");
    }
}

#[test]
fn slots_made_are_remembered_per_camera_until_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(dir.path(), 1_000_000).unwrap();
    for slot in [5, 6, 9] {
        outbox.mark_slot_made(&cam("a"), slot).unwrap();
    }
    outbox.mark_slot_made(&cam("a"), 6).unwrap();
    outbox.mark_slot_made(&cam("b"), 7).unwrap();
    let made = outbox.slots_made(&cam("a"), 6).unwrap();
    assert_eq!(made, [6, 9].into_iter().collect());
    outbox.forget_slots_before(&cam("a"), 9).unwrap();
    assert_eq!(
        outbox.slots_made(&cam("a"), 0).unwrap(),
        [9].into_iter().collect()
    );
    assert_eq!(
        outbox.slots_made(&cam("b"), 0).unwrap(),
        [7].into_iter().collect()
    );
}

#[test]
fn the_position_cursor_survives_a_reopen_and_never_goes_back() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(dir.path(), 1_000_000).unwrap();
    assert_eq!(outbox.positions_sent_until().unwrap(), None);
    outbox.set_positions_sent(5_000).unwrap();
    outbox.set_positions_sent(3_000).unwrap();
    drop(outbox);
    let outbox = Outbox::open(dir.path(), 1_000_000).unwrap();
    assert_eq!(outbox.positions_sent_until().unwrap(), Some(5_000));
}
