//! Configuration pushed from shore (`seaframe/v1/<vessel>/config`,
//! retained): merged into the running config, validated by the same code as
//! `check-config`, and only if valid written atomically to the config file
//! and applied live; acked `applied` or `rejected` with every problem. A
//! version at or below the last applied one is ignored (the retained push
//! comes again at every session); the applied version is kept on disk.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use seaframe_wire::message::{AckStatus, ConfigAck, ConfigPush};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::metrics::Metrics;

/// The sections a push may change; the others (vessel, data_dir, api,
/// queue) only change on board.
pub const REMOTE_SECTIONS: [&str; 4] = ["cameras", "gps", "retention", "uplink"];

/// Merges the sections of `pushed` into `current` (TOML text) and
/// validates the result. `Err` lists every problem, one per line.
pub fn merge(current: &str, pushed: &serde_json::Value) -> Result<(String, Config), String> {
    let serde_json::Value::Object(sections) = pushed else {
        return Err("config: must be a JSON object".into());
    };
    let mut problems = Vec::new();
    let mut table: toml::Table =
        toml::from_str(current).map_err(|e| format!("current config: {e}"))?;
    for (key, value) in sections {
        if !REMOTE_SECTIONS.contains(&key.as_str()) {
            problems.push(format!(
                "{key}: cannot be changed from shore (only {})",
                REMOTE_SECTIONS.join(", ")
            ));
            continue;
        }
        if value.is_null() {
            problems.push(format!("{key}: cannot be removed from shore"));
            continue;
        }
        match toml::Value::try_from(value) {
            Ok(v) => {
                table.insert(key.clone(), v);
            }
            Err(e) => problems.push(format!("{key}: {e}")),
        }
    }
    if !problems.is_empty() {
        return Err(problems.join("\n"));
    }
    let text = toml::to_string(&table).map_err(|e| format!("config: {e}"))?;
    let config = Config::from_toml(&text, "pushed config").map_err(|e| e.to_string())?;
    Ok((text, config))
}

/// Writes `text` to `path` atomically (temporary file, fsync, rename,
/// fsync of the directory).
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.pushed",
        path.file_name()
            .map_or("config".into(), |n| n.to_string_lossy())
    ));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

/// The task that applies pushed configs, one at a time.
#[derive(Debug)]
pub struct Remote {
    /// The config file to rewrite (`None`: the agent was started without
    /// one, e.g. in tests; the config is applied but not written).
    pub config_path: Option<PathBuf>,
    /// Where the last applied version is kept.
    pub version_path: PathBuf,
    pub current_text: String,
    pub applied_version: Arc<AtomicU64>,
    /// The newest config pushed (intermediate ones may be skipped: the
    /// newest is the shore's wish).
    pub pushes: watch::Receiver<Option<ConfigPush>>,
    pub acks: mpsc::Sender<ConfigAck>,
    /// Valid configs, to the agent, which applies them live.
    pub apply: mpsc::Sender<Config>,
    pub metrics: Arc<Metrics>,
}

/// The version last applied, as kept in `path` (0 when none).
pub fn read_version(path: &Path) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

impl Remote {
    pub async fn run(mut self, shutdown: CancellationToken) -> anyhow::Result<()> {
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return Ok(()),
                changed = self.pushes.changed() => if changed.is_err() {
                    return Ok(());
                },
            }
            let Some(push) = self.pushes.borrow_and_update().clone() else {
                continue;
            };
            if push.version <= self.applied_version.load(Ordering::Relaxed) {
                continue;
            }
            let ack = self.handle(push).await;
            let u = &self.metrics.uplink;
            match ack.status {
                AckStatus::Applied => u.configs_applied.fetch_add(1, Ordering::Relaxed),
                AckStatus::Rejected | AckStatus::RolledBack => {
                    u.configs_rejected.fetch_add(1, Ordering::Relaxed)
                }
            };
            if self.acks.send(ack).await.is_err() {
                return Ok(());
            }
        }
    }

    async fn handle(&mut self, push: ConfigPush) -> ConfigAck {
        let version = push.version;
        let reject = |error: String| {
            tracing::warn!(version, "pushed config rejected:\n{error}");
            ConfigAck {
                version,
                status: AckStatus::Rejected,
                error: Some(error),
            }
        };
        let (text, config) = match merge(&self.current_text, &push.config) {
            Ok(merged) => merged,
            Err(e) => return reject(e),
        };
        if let Some(path) = &self.config_path
            && let Err(e) = write_atomically(path, &text)
        {
            return reject(format!("writing {}: {e}", path.display()));
        }
        if let Err(e) = write_atomically(&self.version_path, &version.to_string()) {
            tracing::warn!("keeping the applied config version: {e}");
        }
        self.current_text = text;
        self.applied_version.store(version, Ordering::Relaxed);
        if self.apply.send(config).await.is_err() {
            return reject("the agent is stopping".into());
        }
        tracing::info!(version, "pushed config applied");
        ConfigAck {
            version,
            status: AckStatus::Applied,
            error: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CURRENT: &str = r#"
vessel = "aurora"
data_dir = "/tmp/x"
[[cameras]]
id = "bow"
source = "testpattern"
fps = 2.0
[uplink]
mqtt_url = "mqtt://127.0.0.1:1883"
"#;

    #[test]
    fn a_valid_push_replaces_its_sections_only() {
        let (text, cfg) = merge(
            CURRENT,
            &json!({"cameras": [{"id": "bow", "source": "testpattern", "fps": 7.5},
                                {"id": "mast", "source": "testpattern"}],
                    "retention": {"max_age_s": 3600}}),
        )
        .unwrap();
        assert_eq!(cfg.cameras.len(), 2);
        assert_eq!(cfg.cameras[0].fps, 7.5);
        assert_eq!(cfg.retention.max_age_s, 3600);
        assert_eq!(cfg.vessel.as_str(), "aurora");
        assert!(cfg.uplink.is_some());
        // What is written back parses to the same config.
        assert_eq!(Config::from_toml(&text, "t").unwrap().cameras.len(), 2);
    }

    #[test]
    fn every_problem_is_reported_and_nothing_merged() {
        let err = merge(
            CURRENT,
            &json!({"vessel": "other", "api": {}, "cameras": [{"id": "bow", "source": "testpattern", "fps": -1}]}),
        )
        .unwrap_err();
        assert!(err.contains("vessel: cannot be changed"), "{err}");
        assert!(err.contains("api: cannot be changed"), "{err}");
        let err = merge(
            CURRENT,
            &json!({"cameras": [{"id": "bow", "source": "testpattern", "fps": -1}]}),
        )
        .unwrap_err();
        assert!(err.contains("cameras[0].fps"), "{err}");
        let err = merge(
            CURRENT,
            &json!({"cameras": [{"id": "Bad Id", "source": "testpattern"}]}),
        )
        .unwrap_err();
        assert!(err.contains("Bad Id") || err.contains("cameras"), "{err}");
        assert!(merge(CURRENT, &json!({"uplink": null})).is_err());
        assert!(merge(CURRENT, &json!([1, 2])).is_err());
        assert!(merge(CURRENT, &json!({"gps": {"source": "carrier-pigeon"}})).is_err());
    }

    #[test]
    fn writes_atomically_and_keeps_the_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.toml");
        write_atomically(&path, "a = 1\n").unwrap();
        write_atomically(&path, "a = 2\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a = 2\n");
        let v = dir.path().join("config-version");
        assert_eq!(read_version(&v), 0);
        write_atomically(&v, "7").unwrap();
        assert_eq!(read_version(&v), 7);
    }
}
