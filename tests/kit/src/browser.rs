//! What the Chromium tests need (`tests/browser/*.spec.mjs`, driven by
//! node and playwright-core): [`require_browser`] fails, naming how to
//! install each, unless Chromium, node and the spec folder's
//! `node_modules` are there (a browser test never skips).

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

/// Where a browser test finds its tools.
#[derive(Debug, Clone)]
pub struct Browser {
    /// Chromium (`$CHROMIUM`, else `/usr/bin/chromium`).
    pub chromium: PathBuf,
    /// `tests/browser`: the specs and their `node_modules`.
    pub specs: PathBuf,
}

/// Chromium, node and playwright-core, or an error naming what to install.
pub fn require_browser() -> Result<Browser> {
    let chromium = std::env::var_os("CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    let specs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../browser");
    let specs = specs.canonicalize().unwrap_or(specs);
    let mut missing = Vec::new();
    if !chromium.is_file() {
        missing.push(format!(
            "{} is missing: apt-get install -y chromium",
            chromium.display()
        ));
    }
    if std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_err()
    {
        missing.push("node is missing: apt-get install -y nodejs npm".into());
    }
    if !specs.join("node_modules/playwright-core").is_dir() {
        missing.push(format!(
            "{}/node_modules is missing: (cd {} && npm ci)",
            specs.display(),
            specs.display()
        ));
    }
    if !missing.is_empty() {
        bail!("the browser test cannot run:\n  {}", missing.join("\n  "));
    }
    Ok(Browser { chromium, specs })
}

/// `<target dir>/<name>`, emptied: where a browser test puts its
/// screenshots (`$CARGO_TARGET_DIR`, else the workspace's `target`).
pub fn artifacts_dir(name: &str) -> Result<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    let dir = target.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
