//! No import cycle between the workspace's source files.
//!
//! Each crate's module tree is read from its root (`lib.rs`, `main.rs`,
//! `src/bin/*`) by following `mod` items (with their `#[path]`); an arrow
//! goes from a file to the file of the module a `crate::…` or `super::…`
//! path names — in `use` items and in code alike (macro bodies aside). A
//! parent naming its own children by relative paths is not an arrow: that
//! is what a module is. Any strongly connected set of more than one file is
//! a cycle, and the test names its files.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;
use workspace::{members, workspace};

mod workspace;

/// A module: its path from the crate root (`["api", "frames"]`) and file.
#[derive(Debug, Clone)]
struct Module {
    path: Vec<String>,
    file: PathBuf,
}

/// The modules of the crate rooted at `root`, each with its file.
fn modules(root: &Path) -> Vec<Module> {
    let mut out = Vec::new();
    let mut todo = vec![Module {
        path: Vec::new(),
        file: root.to_owned(),
    }];
    while let Some(m) = todo.pop() {
        let text = std::fs::read_to_string(&m.file)
            .unwrap_or_else(|e| panic!("{}: {e}", m.file.display()));
        let ast = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", m.file.display()));
        for item in &ast.items {
            let syn::Item::Mod(child) = item else {
                continue;
            };
            if child.content.is_some() {
                continue; // inline: part of this file
            }
            let name = child.ident.to_string();
            let mut path = m.path.clone();
            path.push(name.clone());
            todo.push(Module {
                file: child_file(&m.file, &name, path_attr(&child.attrs)),
                path,
            });
        }
        out.push(m);
    }
    out
}

fn path_attr(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find_map(|a| {
        let syn::Meta::NameValue(nv) = &a.meta else {
            return None;
        };
        if !nv.path.is_ident("path") {
            return None;
        }
        match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Some(s.value()),
            _ => None,
        }
    })
}

/// Where `mod name;` declared in `parent` lives.
fn child_file(parent: &Path, name: &str, path_attr: Option<String>) -> PathBuf {
    let dir = parent.parent().unwrap();
    if let Some(p) = path_attr {
        return dir.join(p);
    }
    // `mod.rs`, `lib.rs` and `main.rs` keep their children beside them;
    // any other `a/b.rs` in `a/b/`.
    let stem = parent.file_stem().unwrap().to_str().unwrap();
    let base = if matches!(stem, "mod" | "lib" | "main") {
        dir.to_owned()
    } else {
        dir.join(stem)
    };
    let flat = base.join(format!("{name}.rs"));
    if flat.exists() {
        flat
    } else {
        base.join(name).join("mod.rs")
    }
}

/// Every `crate::…` and `super::…` path of a file, resolved to a module
/// path from the crate root (the leading segments; the tail may name an
/// item, not a module).
#[derive(Default)]
struct Paths {
    /// The module of the file, then one more per inline module entered.
    here: Vec<Vec<String>>,
    found: Vec<Vec<String>>,
}

impl Paths {
    fn resolve(&mut self, segments: &[String]) {
        let Some(first) = segments.first() else {
            return;
        };
        let mut base = self.here.last().cloned().unwrap_or_default();
        let rest = match first.as_str() {
            "crate" => {
                base.clear();
                &segments[1..]
            }
            "super" => {
                let supers = segments.iter().take_while(|s| *s == "super").count();
                for _ in 0..supers {
                    base.pop();
                }
                &segments[supers..]
            }
            _ => return,
        };
        base.extend(rest.iter().cloned());
        self.found.push(base);
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                prefix.push(n.ident.to_string());
                self.resolve(&prefix.clone());
                prefix.pop();
            }
            syn::UseTree::Rename(r) => {
                prefix.push(r.ident.to_string());
                self.resolve(&prefix.clone());
                prefix.pop();
            }
            syn::UseTree::Glob(_) => self.resolve(&prefix.clone()),
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for Paths {
    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &u.tree);
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segments: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        self.resolve(&segments);
        syn::visit::visit_path(self, p);
    }

    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        let mut inner = self.here.last().cloned().unwrap_or_default();
        inner.push(m.ident.to_string());
        self.here.push(inner);
        syn::visit::visit_item_mod(self, m);
        self.here.pop();
    }
}

/// The arrows between a crate's files.
fn arrows(modules: &[Module]) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let by_path: BTreeMap<&[String], &Path> = modules
        .iter()
        .map(|m| (m.path.as_slice(), m.file.as_path()))
        .collect();
    let mut out: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    for m in modules {
        let ast = syn::parse_file(&std::fs::read_to_string(&m.file).unwrap()).unwrap();
        let mut paths = Paths {
            here: vec![m.path.clone()],
            found: Vec::new(),
        };
        paths.visit_file(&ast);
        let to = out.entry(m.file.clone()).or_default();
        for found in paths.found {
            // The longest prefix that is a module with a file of its own.
            let target = (0..=found.len())
                .rev()
                .find_map(|n| by_path.get(&found[..n]).copied());
            if let Some(t) = target
                && t != m.file
            {
                to.insert(t.to_owned());
            }
        }
    }
    out
}

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
