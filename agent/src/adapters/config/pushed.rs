//! What the vessel keeps of configuration pushed from shore, in
//! `DATA/config/pushed.json` (the data directory is writable in the unit's
//! sandbox; the operator's file never is, and is never written): the
//! overlay in effect and whether it is still on trial, the last overlay
//! that worked, the newest version handled, and the outcome of the last
//! pushes. Written atomically (temporary file, fsync, rename, fsync of the
//! directory).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::adapters::config::files::effective;
use crate::base::config::Config;
use crate::base::config::layered::Overlay;
use seaframe_wire::timestamp::Timestamp;

/// Outcomes kept in the history.
pub const HISTORY_LEN: usize = 20;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pushed {
    /// The newest version handled, whatever its outcome: the retained push
    /// comes again at every session and must not be handled twice.
    #[serde(default)]
    pub handled: u64,
    /// The overlay in effect (`None`: the file alone).
    pub active: Option<Overlay>,
    /// `active` changed the link and has not reached the broker with it yet.
    #[serde(default)]
    pub on_trial: bool,
    /// The last overlay that worked (`None`: the file alone).
    pub good: Option<Overlay>,
    /// The outcome of the last pushes, oldest first.
    #[serde(default)]
    pub history: Vec<Outcome>,
}

/// What became of one push.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub version: u64,
    pub outcome: Verdict,
    /// Why (rejected, rolled back, set aside), or warnings (applied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// RFC 3339.
    pub at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// In effect (a link change: and the broker reached with it).
    Applied,
    /// Applied, on trial until the broker is reached with it.
    OnTrial,
    /// Refused before anything changed.
    Rejected,
    /// The link did not come back within the confirm window.
    RolledBack,
    /// At a start, it no longer loaded (a file it names went away).
    SetAside,
}

impl Pushed {
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join("config").join("pushed.json")
    }

    /// What `data_dir` holds (nothing: a fresh state). A file that does not
    /// parse is moved aside (`pushed.json.bad`) and said so in the `String`.
    pub fn load(data_dir: &Path) -> (Self, Option<String>) {
        Self::load_with(data_dir, true)
    }

    /// [`load`](Self::load) that changes nothing on disk (`check-config`).
    pub fn load_read_only(data_dir: &Path) -> (Self, Option<String>) {
        Self::load_with(data_dir, false)
    }

    fn load_with(data_dir: &Path, move_aside: bool) -> (Self, Option<String>) {
        let path = Self::path(data_dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return (Self::from_before_overlays(data_dir), None);
            }
            Err(e) => {
                return (
                    Self::default(),
                    Some(format!(
                        "cannot read {}: {e}; running on the file alone",
                        path.display()
                    )),
                );
            }
        };
        match serde_json::from_str(&text) {
            Ok(pushed) => (pushed, None),
            Err(e) => {
                let aside = path.with_extension("json.bad");
                let moved = if !move_aside {
                    "it would be moved aside".to_owned()
                } else {
                    std::fs::rename(&path, &aside).map_or_else(
                        |e| format!("could not move it aside: {e}"),
                        |()| format!("moved to {}", aside.display()),
                    )
                };
                (
                    Self::default(),
                    Some(format!(
                        "{} is not valid ({e}); {moved}; running on the file alone",
                        path.display()
                    )),
                )
            }
        }
    }

    /// Agents before overlays kept only the applied version (in
    /// `outbox/config-version`); it still stops a replay of old pushes.
    fn from_before_overlays(data_dir: &Path) -> Self {
        let handled = std::fs::read_to_string(data_dir.join("outbox").join("config-version"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        Self {
            handled,
            ..Self::default()
        }
    }

    pub fn save(&self, data_dir: &Path) -> std::io::Result<()> {
        let text = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        write_atomically(&Self::path(data_dir), &text)
    }

    /// Adds to the history, keeping the last [`HISTORY_LEN`].
    pub fn record(&mut self, version: u64, outcome: Verdict, error: Option<String>) {
        self.history.push(Outcome {
            version,
            outcome,
            error,
            at: Timestamp::now().to_rfc3339(),
        });
        let extra = self.history.len().saturating_sub(HISTORY_LEN);
        self.history.drain(..extra);
    }

    /// The config to start with: the file with the active overlay; if that
    /// no longer loads, the overlay is set aside (recorded, and said in
    /// the returned lines) for the last good one, and failing that the
    /// file alone. An overlay still on trial stays on trial (the caller
    /// gives it a fresh confirm window).
    pub fn resolve(&mut self, file: &Config) -> (Config, Vec<String>) {
        let mut notes = Vec::new();
        let file_text = file.text.expose();
        for _ in 0..2 {
            let Some(active) = self.active.clone() else {
                break;
            };
            match effective(file_text, Some(&active)) {
                Ok(cfg) => return (cfg, notes),
                Err(e) => {
                    notes.push(format!(
                        "pushed config {} no longer loads and is set aside:\n{e}",
                        active.version
                    ));
                    self.record(active.version, Verdict::SetAside, Some(e));
                    self.on_trial = false;
                    self.active = self.good.take().filter(|g| g.version != active.version);
                    self.good = self.active.clone();
                }
            }
        }
        self.active = None;
        self.good = None;
        (file.clone(), notes)
    }
}

/// Writes `bytes` to `path` atomically (temporary file, fsync, rename,
/// fsync of the directory), making the directory if needed.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .map_or("pushed".into(), |n| n.to_string_lossy())
    ));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn file(dir: &Path, extra: &str) -> Config {
        let text = format!(
            "vessel = \"aurora\"\ndata_dir = \"{}\"\n[retention]\nmax_age_s = 100\n{extra}",
            dir.display()
        );
        Config::from_toml(&text, "t").unwrap()
    }

    #[test]
    fn survives_a_restart_and_keeps_the_last_twenty_outcomes() {
        let dir = tempfile::tempdir().unwrap();
        let (mut p, note) = Pushed::load(dir.path());
        assert_eq!((p.clone(), note), (Pushed::default(), None));
        p.active = Some(Overlay {
            version: 3,
            config: json!({"retention": {"max_age_s": 60}}),
        });
        p.handled = 3;
        for v in 0..25 {
            p.record(v, Verdict::Rejected, Some("no".into()));
        }
        p.save(dir.path()).unwrap();
        let (back, note) = Pushed::load(dir.path());
        assert_eq!(note, None);
        assert_eq!(back, p);
        assert_eq!(back.history.len(), HISTORY_LEN);
        assert_eq!(back.history[0].version, 5);
    }

    #[test]
    fn a_corrupt_state_is_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        write_atomically(&Pushed::path(dir.path()), b"{not json").unwrap();
        let (p, note) = Pushed::load(dir.path());
        assert_eq!(p, Pushed::default());
        assert!(note.unwrap().contains("pushed.json.bad"));
        assert!(dir.path().join("config/pushed.json.bad").exists());
    }

    #[test]
    fn an_overlay_that_no_longer_loads_is_set_aside_for_the_last_good_one() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        let f = file(dir.path(), "[uplink]\nmqtt_url = \"mqtts://h:8883\"\n");
        let mut p = Pushed {
            handled: 9,
            active: Some(Overlay {
                version: 9,
                config: json!({"uplink": {"ca_file": ca}}),
            }),
            on_trial: true,
            good: Some(Overlay {
                version: 8,
                config: json!({"retention": {"max_age_s": 60}}),
            }),
            history: Vec::new(),
        };
        let (cfg, notes) = p.resolve(&f);
        assert_eq!(cfg.retention.max_age_s, 60, "the last good overlay");
        assert!(
            notes[0].contains("pushed config 9 no longer loads"),
            "{notes:?}"
        );
        assert!(notes[0].contains("no such file"), "{notes:?}");
        assert_eq!(p.active.as_ref().map(|o| o.version), Some(8));
        assert!(!p.on_trial);
        assert_eq!(p.history[0].outcome, Verdict::SetAside);
        // Nothing loads: the file alone.
        p.active = Some(Overlay {
            version: 10,
            config: json!({"vessel": "x"}),
        });
        p.good = p.active.clone();
        let (cfg, notes) = p.resolve(&f);
        assert_eq!(cfg.retention.max_age_s, 100);
        assert_eq!(notes.len(), 1);
        assert_eq!((p.active.clone(), p.good.clone()), (None, None));
    }
}
