//! The floors of the agent and the shore, as their trees show them
//! (docs/architecture.md): a module's first folder is its floor — `base` 1,
//! `adapters` 2, `services` 3, the process (the agent's `app` and `init`,
//! the shore's `app` and `logging`) 4 — no arrow between files points up a
//! floor, and nothing in `base` touches the world (files, sockets, devices,
//! child processes, threads or tasks).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use workspace::graph::{Module, arrows, modules, outside_paths};
use workspace::workspace;

mod workspace;

/// The floors, bottom up: the top-level module of each.
const FLOORS: &[(&str, u8)] = &[("base", 1), ("adapters", 2), ("services", 3)];

/// Each crate built on the floors: its library's root and the modules of
/// its process (floor 4).
const CRATES: &[(&str, &[&str])] = &[
    ("agent/src/lib.rs", &["app", "init"]),
    ("uplink/shore/src/lib.rs", &["app", "logging"]),
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
    "tokio_postgres",
    "object_store",
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

/// Each crate's modules, with the modules of its process.
fn crates() -> Vec<(Vec<Module>, &'static [&'static str])> {
    CRATES
        .iter()
        .map(|(root, process)| {
            let mods = modules(&workspace().join(root));
            assert!(mods.len() > 60, "{root}: modules found ({})", mods.len());
            (mods, *process)
        })
        .collect()
}

/// A module's floor, from its first segment; `None`: on no floor.
fn floor(path: &[String], process: &[&str]) -> Option<u8> {
    let Some(first) = path.first() else {
        return Some(4); // the crate root
    };
    if process.contains(&first.as_str()) {
        return Some(4);
    }
    FLOORS
        .iter()
        .find(|(name, _)| first == name)
        .map(|(_, floor)| *floor)
}

#[test]
fn every_module_is_on_a_floor() {
    let mut lost = Vec::new();
    for (mods, process) in crates() {
        lost.extend(
            mods.iter()
                .filter(|m| floor(&m.path, process).is_none())
                .map(|m| m.file.display().to_string()),
        );
    }
    assert!(
        lost.is_empty(),
        "modules outside base/, adapters/, services/ and the process: {lost:?}"
    );
}

#[test]
fn no_arrow_points_up_a_floor() {
    let mut upward = Vec::new();
    for (mods, process) in crates() {
        let by_file: BTreeMap<PathBuf, &Module> =
            mods.iter().map(|m| (m.file.clone(), m)).collect();
        for (from, tos) in &arrows(&mods) {
            let from = by_file[from];
            for to in tos {
                let to = by_file[to];
                let (a, b) = (floor(&from.path, process), floor(&to.path, process));
                if b > a {
                    upward.push(format!(
                        "{} (floor {}) → {} (floor {})",
                        from.file.display(),
                        a.unwrap_or(0),
                        to.path.join("::"),
                        b.unwrap_or(0)
                    ));
                }
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
    for (mods, process) in crates() {
        for m in mods.iter().filter(|m| floor(&m.path, process) == Some(1)) {
            for path in outside_paths(m) {
                let io = NOT_IN_BASE
                    .iter()
                    .any(|p| path == *p || path.starts_with(&format!("{p}::")));
                if io {
                    found.push(format!("{}: {path}", m.file.display()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "IO on the bottom floor (move it to adapters/):\n{}",
        found.join("\n")
    );
}
