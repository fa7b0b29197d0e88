//! The agent's floors (docs/architecture.md): every module of its library
//! sits on one — 1 values, codecs and shared state (no IO), 2 adapters (one
//! outside thing each), 3 services, 4 the process — and no arrow between
//! its files points up a floor. A module the table below does not place
//! fails the test, so that a new file is placed when it is written.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use workspace::graph::{arrows, modules};
use workspace::workspace;

mod workspace;

/// Module path prefixes and their floor; the longest prefix decides.
const FLOORS: &[(&str, u8)] = &[
    ("", 4),
    // 1. values, codecs and shared state
    ("backoff", 1),
    ("capture::digest", 1),
    ("capture::font", 1),
    ("capture::http_auth", 1),
    ("capture::jpegstream", 1),
    ("capture::multipart", 1),
    ("clock", 1),
    ("config", 1),
    ("credentials", 1),
    ("exif", 1),
    ("faults", 1),
    ("frame", 1),
    ("fswatch::counters", 1),
    ("fswatch::events", 1),
    ("fswatch::targets", 1),
    ("gps", 1),
    ("handoff", 1),
    ("jpeg", 1),
    ("metrics", 1),
    ("picture", 1),
    ("queue::resp", 1),
    ("store::health", 1),
    ("store::layout", 1),
    ("uplink::link", 1),
    ("uplink::thumbnail", 1),
    // 2. adapters
    ("capture::http", 2),
    ("capture::numbering", 2),
    ("capture::replay", 2),
    ("capture::rtsp", 2),
    ("capture::testpattern", 2),
    ("capture::v4l2", 2),
    ("config::files", 2),
    ("config::in_effect", 2),
    ("config::pushed", 2),
    ("gps::reader", 2),
    ("gps::replay", 2),
    ("gps::signalk", 2),
    ("notify", 2),
    ("onvif", 2),
    ("queue", 2),
    ("redis_server", 2),
    ("store", 2),
    ("uplink::broker", 2),
    ("uplink::outbox", 2),
    ("video", 2),
    // 3. services
    ("api", 3),
    ("capture", 3),
    ("fswatch", 3),
    ("gps::recorder", 3),
    ("live", 3),
    ("queue::producer", 3),
    ("retention", 3),
    ("sharpness", 3),
    ("stage", 3),
    ("uplink", 3),
    ("worker", 3),
    // 4. the process
    ("app", 4),
    ("init", 4),
];

/// Arrows that point up, each with why it is allowed to (docs/architecture.md).
const KNOWN_UPWARD: &[(&str, &str, &str)] = &[
    // The sources return the camera task's error type.
    ("capture::http", "capture", "CaptureError"),
    ("capture::replay", "capture", "CaptureError"),
    ("capture::rtsp", "capture", "CaptureError"),
    ("capture::v4l2", "capture", "CaptureError"),
];

/// The longest prefix of the table that holds `path`, and its floor.
fn place(path: &str) -> (&'static str, u8) {
    FLOORS
        .iter()
        .filter(|(prefix, _)| {
            prefix.is_empty() || path == *prefix || path.starts_with(&format!("{prefix}::"))
        })
        .max_by_key(|(prefix, _)| prefix.len())
        .copied()
        .unwrap_or(("", 4))
}

#[test]
fn no_arrow_in_the_agent_points_up_a_floor() {
    let ws = workspace();
    let mods = modules(&ws.join("agent/src/lib.rs"));
    assert!(
        mods.len() > 80,
        "the agent's modules were found ({})",
        mods.len()
    );
    let path_of: BTreeMap<PathBuf, String> = mods
        .iter()
        .map(|m| (m.file.clone(), m.path.join("::")))
        .collect();
    // Every module placed (only the root on the catch-all), and every line
    // of the table still names a module.
    let unplaced: Vec<&String> = path_of
        .values()
        .filter(|p| !p.is_empty() && place(p).0.is_empty())
        .collect();
    assert!(unplaced.is_empty(), "modules on no floor: {unplaced:?}");
    let stale: Vec<&str> = FLOORS
        .iter()
        .map(|(prefix, _)| *prefix)
        .filter(|prefix| !prefix.is_empty() && !path_of.values().any(|p| place(p).0 == *prefix))
        .collect();
    assert!(
        stale.is_empty(),
        "table lines that place no module: {stale:?}"
    );
    let graph = arrows(&mods);
    let is_arrow = |from: &str, to: &str| {
        graph
            .iter()
            .any(|(f, tos)| path_of[f] == from && tos.iter().any(|t| path_of[t] == to))
    };
    let gone: Vec<_> = KNOWN_UPWARD
        .iter()
        .filter(|(f, t, _)| !is_arrow(f, t))
        .collect();
    assert!(
        gone.is_empty(),
        "known upward arrows that are no more: {gone:?}"
    );
    let mut upward = Vec::new();
    for (from, tos) in &graph {
        let from = &path_of[from];
        // A test file of its own (`mod tests;` beside a module) may use any floor.
        if from.ends_with("::tests") {
            continue;
        }
        for to in tos {
            let to = &path_of[to];
            let (a, b) = (place(from).1, place(to).1);
            let known = KNOWN_UPWARD.iter().any(|(f, t, _)| f == from && t == to);
            if b > a && !known {
                upward.push(format!("{from} (floor {a}) → {to} (floor {b})"));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "arrows up a floor (move the module, or the item it needs):\n{}",
        upward.join("\n")
    );
}
