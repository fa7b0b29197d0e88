//! The house's rules for source files, over every member of the workspace
//! (`src/`, `tests/`, `examples/`, `benches/`): no file over 600 lines (one
//! idea a file; a test binary grows into a folder of modules), and each
//! opens with a module doc (`//!`) that says what it is for.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use workspace::{members, workspace};

mod workspace;

/// The longest a source file may grow.
const MAX_LINES: usize = 600;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_source_file_is_short_and_says_what_it_is_for() {
    let ws = workspace();
    let mut files = Vec::new();
    for member in members(&ws) {
        for part in ["src", "tests", "examples", "benches"] {
            rust_files(&ws.join(&member).join(part), &mut files);
        }
    }
    assert!(
        files.len() > 200,
        "the sources were found ({})",
        files.len()
    );
    let mut broken = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let name = f.strip_prefix(&ws).unwrap_or(f).display().to_string();
        let lines = text.lines().count();
        if lines > MAX_LINES {
            broken.push(format!("{name}: {lines} lines (at most {MAX_LINES})"));
        }
        if !text.starts_with("//!") {
            broken.push(format!("{name}: no module doc (`//!`) on its first line"));
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}
