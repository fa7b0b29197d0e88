//! No import cycle between the workspace's source files.
//!
//! Each crate's module tree is read from its root (`lib.rs`, `main.rs`,
//! `src/bin/*`) by following `mod` items (with their `#[path]`); an arrow
//! goes from a file to the file of the module a `crate::…` or `super::…`
//! path names — in `use` items and in code alike (macro bodies and
//! `#[cfg(test)]` modules aside; `tests/workspace/graph.rs`). A
//! parent naming its own children by relative paths is not an arrow: that
//! is what a module is. Any strongly connected set of more than one file is
//! a cycle, and the test names its files.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use workspace::graph::{arrows, modules};
use workspace::{members, workspace};

mod workspace;

/// Tarjan's strongly connected components of more than one file.
fn cycles(graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Vec<Vec<PathBuf>> {
    struct State<'g> {
        graph: &'g BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        index: BTreeMap<&'g Path, usize>,
        low: BTreeMap<&'g Path, usize>,
        stack: Vec<&'g Path>,
        on_stack: BTreeSet<&'g Path>,
        out: Vec<Vec<PathBuf>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g Path) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            let w = w.as_path();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_path()) {
            visit(&mut s, v);
        }
    }
    s.out
}

/// Every crate root of the workspace: each member's `src/lib.rs`,
/// `src/main.rs` and `src/bin/*.rs` / `src/bin/*/main.rs`.
fn roots(ws: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for member in members(ws) {
        let src = ws.join(member).join("src");
        for root in ["lib.rs", "main.rs"] {
            if src.join(root).exists() {
                out.push(src.join(root));
            }
        }
        if let Ok(bins) = std::fs::read_dir(src.join("bin")) {
            for bin in bins.flatten() {
                let p = bin.path();
                if p.extension().is_some_and(|e| e == "rs") {
                    out.push(p);
                } else if p.join("main.rs").exists() {
                    out.push(p.join("main.rs"));
                }
            }
        }
    }
    out
}

#[test]
fn no_source_file_imports_its_own_importers() {
    let ws = workspace();
    let mut found = Vec::new();
    let (mut files, mut edges) = (0, 0);
    for root in roots(&ws) {
        let graph = arrows(&modules(&root));
        files += graph.len();
        edges += graph.values().map(BTreeSet::len).sum::<usize>();
        let name = |p: &Path| p.strip_prefix(&ws).unwrap_or(p).display().to_string();
        for cycle in cycles(&graph) {
            let names: Vec<String> = cycle.iter().map(|p| name(p)).collect();
            let mut text = names.join(" ↔ ");
            for from in &cycle {
                for to in graph[from].iter().filter(|t| cycle.contains(t)) {
                    text.push_str(&format!("\n    {} → {}", name(from), name(to)));
                }
            }
            found.push(text);
        }
    }
    eprintln!("import graph: {files} files, {edges} arrows");
    assert!(files > 50, "the crates' files were found ({files})");
    assert!(
        found.is_empty(),
        "import cycles (a file reaches itself through these):\n{}",
        found.join("\n")
    );
}
