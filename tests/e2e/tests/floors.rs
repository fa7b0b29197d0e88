//! The agent's floors, as its tree shows them (docs/architecture.md): a
//! module's first folder is its floor — `base` 1, `adapters` 2, `services`
//! 3, the process (`app`, `init`) 4 — no arrow between files points up a
//! floor, and nothing in `base` touches the world (files, sockets, devices,
//! child processes, threads or tasks).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use workspace::graph::{Module, arrows, modules, outside_paths};
use workspace::workspace;

mod workspace;

/// The floors, bottom up: the top-level module of each, and the process's.
const FLOORS: &[(&str, u8)] = &[
    ("base", 1),
    ("adapters", 2),
    ("services", 3),
    ("app", 4),
    ("init", 4),
];

/// What `base` may not name: IO, and the starting of threads and tasks.
/// (Other crates' values are welcome: `notify::Event` is data, a watcher
/// is not.)
const NOT_IN_BASE: &[&str] = &[
    "std::fs",
    "tokio::fs",
    "std::net::TcpStream",
    "std::net::TcpListener",
    "std::net::UdpSocket",
    "tokio::net",
    "std::process::Command",
    "tokio::process",
    "std::thread::spawn",
    "tokio::spawn",
    "tokio::task",
    "tokio_util::task",
    "axum",
    "hyper",
    "notify::Watcher",
    "notify::RecommendedWatcher",
    "notify::recommended_watcher",
    "reqwest",
    "rumqttc",
    "rusqlite",
    "serialport",
    "v4l",
];

fn agent() -> Vec<Module> {
    let mods = modules(&workspace().join("agent/src/lib.rs"));
    assert!(
        mods.len() > 80,
        "the agent's modules were found ({})",
        mods.len()
    );
    mods
}

/// A module's floor, from its first segment; `None`: on no floor.
fn floor(path: &[String]) -> Option<u8> {
    let Some(first) = path.first() else {
        return Some(4); // the crate root
    };
    FLOORS
        .iter()
        .find(|(name, _)| first == name)
        .map(|(_, floor)| *floor)
}

#[test]
fn every_module_of_the_agent_is_on_a_floor() {
    let lost: Vec<String> = agent()
        .iter()
        .filter(|m| floor(&m.path).is_none())
        .map(|m| m.path.join("::"))
        .collect();
    assert!(
        lost.is_empty(),
        "modules outside base/, adapters/, services/ and the process: {lost:?}"
    );
}

#[test]
fn no_arrow_in_the_agent_points_up_a_floor() {
    let mods = agent();
    let by_file: BTreeMap<PathBuf, &Module> = mods.iter().map(|m| (m.file.clone(), m)).collect();
    let mut upward = Vec::new();
    for (from, tos) in &arrows(&mods) {
        let from = by_file[from];
        for to in tos {
            let to = by_file[to];
            let (a, b) = (floor(&from.path), floor(&to.path));
            if b > a {
                upward.push(format!(
                    "{} (floor {}) → {} (floor {})",
                    from.path.join("::"),
                    a.unwrap_or(0),
                    to.path.join("::"),
                    b.unwrap_or(0)
                ));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "arrows up a floor (move the module, or the item it needs):\n{}",
        upward.join("\n")
    );
}

#[test]
fn nothing_in_base_touches_the_world() {
    let mut found = Vec::new();
    for m in agent().iter().filter(|m| floor(&m.path) == Some(1)) {
        for path in outside_paths(m) {
            let io = NOT_IN_BASE
                .iter()
                .any(|p| path == *p || path.starts_with(&format!("{p}::")));
            if io {
                found.push(format!("{}: {path}", m.path.join("::")));
            }
        }
    }
    assert!(
        found.is_empty(),
        "IO on the bottom floor (move it to adapters/):\n{}",
        found.join("\n")
    );
}
