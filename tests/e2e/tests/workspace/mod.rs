//! The workspace as the source checks see it: its root, its members as the
//! root `Cargo.toml` lists them, and a crate's module graph ([`graph`]).
#![allow(dead_code)] // each check uses its part

pub mod graph;

use std::path::{Path, PathBuf};

/// The workspace's root folder.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The workspace's members, as its `Cargo.toml` lists them (one line).
pub fn members(ws: &Path) -> Vec<String> {
    let manifest = std::fs::read_to_string(ws.join("Cargo.toml")).unwrap();
    let line = manifest
        .lines()
        .find(|l| l.starts_with("members = ["))
        .expect("a one-line members list");
    line.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}
