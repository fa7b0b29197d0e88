//! A crate's module tree read from its root by following `mod` items (with
//! their `#[path]`), and the arrows between its files: from a file to the
//! file of the module a `crate::…` or `super::…` path names, in `use` items
//! and in code alike (macro bodies aside). A parent naming its own children
//! by relative paths is not an arrow: that is what a module is.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// A module: its path from the crate root (`["api", "frames"]`) and file.
#[derive(Debug, Clone)]
pub struct Module {
    pub path: Vec<String>,
    pub file: PathBuf,
}

/// The modules of the crate rooted at `root`, each with its file.
pub fn modules(root: &Path) -> Vec<Module> {
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
    /// Paths into other crates (`std::fs::read`), as written.
    outside: Vec<Vec<String>>,
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
            _ => {
                self.outside.push(segments.to_vec());
                return;
            }
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

    /// `pub(crate)` and `pub(super)` say who may see an item, not what it uses.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}

    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        // Test code may use any floor: its arrows are not the program's.
        if m.attrs.iter().any(is_cfg_test) {
            return;
        }
        let mut inner = self.here.last().cloned().unwrap_or_default();
        inner.push(m.ident.to_string());
        self.here.push(inner);
        syn::visit::visit_item_mod(self, m);
        self.here.pop();
    }
}

/// The arrows between a crate's files.
pub fn arrows(modules: &[Module]) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let by_path: BTreeMap<&[String], &Path> = modules
        .iter()
        .map(|m| (m.path.as_slice(), m.file.as_path()))
        .collect();
    let mut out: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    for m in modules {
        let ast = syn::parse_file(&std::fs::read_to_string(&m.file).unwrap()).unwrap();
        let mut paths = Paths {
            here: vec![m.path.clone()],
            ..Paths::default()
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

/// The paths into other crates that a module's file names (test code
/// aside), each joined by `::` as written (`std::fs::read_to_string`).
pub fn outside_paths(module: &Module) -> Vec<String> {
    let ast = syn::parse_file(&std::fs::read_to_string(&module.file).unwrap()).unwrap();
    let mut paths = Paths {
        here: vec![module.path.clone()],
        ..Paths::default()
    };
    paths.visit_file(&ast);
    paths.outside.iter().map(|p| p.join("::")).collect()
}

/// `#[cfg(test)]`.
fn is_cfg_test(attr: &syn::Attribute) -> bool {
    attr.path().is_ident("cfg") && attr.parse_args::<syn::Ident>().is_ok_and(|i| i == "test")
}
