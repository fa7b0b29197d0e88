//! The config in effect: the operator's file with the overlay pushed from
//! shore laid over it key by key ([`seaframe_wire::overlay::merge`]), then
//! validated as a whole like any file. And, for people, where each key of
//! the result came from: the file, a push (by version) or the default.
//!
//! Pure: the overlay is given, not read (see `adapters::config::pushed`).

use serde_json::Value;

use crate::base::config::{Config, ConfigError, Problem};

/// The sections a push may change; the others (vessel, data_dir, api,
/// queue) only change on board.
pub const REMOTE_SECTIONS: [&str; 4] = ["cameras", "gps", "retention", "uplink"];

/// A pushed overlay: the shore's version and the keys it sets.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Overlay {
    pub version: u64,
    pub config: Value,
}

/// The file's TOML as JSON (for merging and for telling origins).
fn file_json(file_text: &str) -> Result<Value, String> {
    let table: toml::Table =
        toml::from_str(file_text).map_err(|e| format!("the config file: {e}"))?;
    serde_json::to_value(table).map_err(|e| format!("the config file: {e}"))
}

/// Problems with the overlay's shape: only known sections, each a table
/// (`cameras`: a list, or a table by camera id).
fn shape_problems(overlay: &Value) -> Vec<String> {
    let Value::Object(sections) = overlay else {
        return vec!["config: must be a JSON object of sections".into()];
    };
    let mut out = Vec::new();
    for (key, value) in sections {
        if !REMOTE_SECTIONS.contains(&key.as_str()) {
            out.push(format!(
                "{key}: cannot be changed from shore (only {})",
                REMOTE_SECTIONS.join(", ")
            ));
        } else if !(value.is_object() || value.is_null() || (key == "cameras" && value.is_array()))
        {
            out.push(format!(
                "{key}: must be a table{}",
                if key == "cameras" {
                    " by camera id, or a list of cameras"
                } else {
                    ""
                }
            ));
        }
    }
    out
}

/// `file_text` with `overlay` merged over it, validated (the files it
/// names are not read: `adapters::config::files::effective` checks them
/// too). `Err` lists every problem, one per line. A `null` in the overlay
/// means "the file's value".
pub fn merged(file_text: &str, overlay: Option<&Overlay>) -> Result<Config, String> {
    let Some(overlay) = overlay else {
        return Config::from_toml(file_text, "the config file").map_err(|e| e.to_string());
    };
    let problems = shape_problems(&overlay.config);
    if !problems.is_empty() {
        return Err(problems.join("\n"));
    }
    let mut merged = file_json(file_text)?;
    seaframe_wire::overlay::merge(
        &mut merged,
        &seaframe_wire::overlay::without_nulls(&overlay.config),
    );
    let text = toml::to_string(&merged).map_err(|e| format!("config: {e}"))?;
    let origin = format!("pushed config {}", overlay.version);
    let cfg = Config::from_toml(&text, &origin).map_err(|e| match e {
        // The lines would be those of a text nobody wrote: leave them out.
        ConfigError::Invalid { problems, .. } => problems
            .into_iter()
            .map(|p| Problem { line: None, ..p }.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
        other => other.to_string(),
    })?;
    Ok(cfg)
}

/// Where a key's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File,
    Push(u64),
    Default,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File => f.write_str("file"),
            Self::Push(v) => write!(f, "push {v}"),
            Self::Default => f.write_str("default"),
        }
    }
}

/// Every key of `cfg` (secrets redacted) with its value and origin, in
/// the config's order: `cameras[1].fps` → (`2.0`, push 7).
pub fn explain(
    cfg: &Config,
    file_text: &str,
    overlay: Option<&Overlay>,
) -> Vec<(String, Value, Origin)> {
    let shown = serde_json::to_value(cfg).unwrap_or(Value::Null);
    let file = file_json(file_text).unwrap_or(Value::Null);
    let pushed = overlay.map(|o| (o.version, seaframe_wire::overlay::without_nulls(&o.config)));
    let mut out = Vec::new();
    leaves(&shown, String::new(), &mut |key, value, path| {
        let origin = match &pushed {
            Some((version, o)) if lookup(o, path).is_some() => Origin::Push(*version),
            _ if lookup(&file, path).is_some() => Origin::File,
            _ => Origin::Default,
        };
        out.push((key, value.clone(), origin));
    });
    out
}

/// One step of a key's path: a table's key, or a list item with its id.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Item { index: usize, id: Option<String> },
}

fn leaves(value: &Value, key: String, f: &mut dyn FnMut(String, &Value, &[Step])) {
    fn walk(
        value: &Value,
        key: String,
        path: &mut Vec<Step>,
        f: &mut dyn FnMut(String, &Value, &[Step]),
    ) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    let sub = if key.is_empty() {
                        k.clone()
                    } else {
                        format!("{key}.{k}")
                    };
                    path.push(Step::Key(k.clone()));
                    walk(v, sub, path, f);
                    path.pop();
                }
            }
            Value::Array(items) if items.iter().all(Value::is_object) && !items.is_empty() => {
                for (index, item) in items.iter().enumerate() {
                    let id = item.get("id").and_then(Value::as_str).map(str::to_owned);
                    path.push(Step::Item { index, id });
                    walk(item, format!("{key}[{index}]"), path, f);
                    path.pop();
                }
            }
            Value::Null => {}
            leaf => f(key, leaf, path),
        }
    }
    walk(value, key, &mut Vec::new(), f);
}

/// The value at `path` in `doc`, if `doc` sets it. List items are found by
/// id in a table by id (an overlay's `cameras`), or by id (else position)
/// in a list.
fn lookup<'a>(doc: &'a Value, path: &[Step]) -> Option<&'a Value> {
    let mut at = doc;
    for step in path {
        at = match (step, at) {
            (Step::Key(k), Value::Object(map)) => map.get(k)?,
            (Step::Item { id: Some(id), .. }, Value::Object(map)) => map.get(id)?,
            (Step::Item { id, index }, Value::Array(items)) => match id {
                Some(id) => items
                    .iter()
                    .find(|i| i.get("id").and_then(Value::as_str) == Some(id))?,
                None => items.get(*index)?,
            },
            _ => return None,
        };
    }
    (!at.is_null()).then_some(at)
}

/// `explain` as TOML-like lines for a terminal: `key = value  # origin`.
pub fn render(lines: &[(String, Value, Origin)]) -> String {
    let width = lines
        .iter()
        .map(|(k, v, _)| k.len() + v.to_string().len() + 3)
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (key, value, origin) in lines {
        let set = format!("{key} = {value}");
        out.push_str(&format!("{set:width$}  # {origin}\n"));
    }
    out
}

/// `explain` as JSON for the API: `{key: {"value", "from"}}`.
pub fn origins_json(lines: &[(String, Value, Origin)]) -> Value {
    Value::Object(
        lines
            .iter()
            .map(|(k, v, o)| {
                (
                    k.clone(),
                    serde_json::json!({"value": v, "from": o.to_string()}),
                )
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    const FILE: &str = r#"
vessel = "aurora"
data_dir = "/tmp/x"
[[cameras]]
id = "bow"
source = "testpattern"
fps = 2.0
[[cameras]]
id = "mast"
source = "http://cam:secret@10.0.0.5/snap.jpg"
[retention]
max_age_s = 86400
retain_bytes = 1000000000
min_free_bytes = 5000000
[uplink]
mqtt_url = "mqtt://aurora:hunter2@127.0.0.1:1883"
budget_bytes_per_s = 2000
"#;

    fn origins_by_key(lines: &[(String, Value, Origin)]) -> BTreeMap<String, Origin> {
        lines
            .iter()
            .map(|(k, _, o)| (k.clone(), o.clone()))
            .collect()
    }

    fn overlay(version: u64, config: Value) -> Overlay {
        Overlay { version, config }
    }

    #[test]
    fn a_push_changes_only_the_keys_it_names() {
        let o = overlay(
            7,
            json!({"retention": {"max_age_s": 3600}, "uplink": {"thumbs_per_s": 0.5},
                   "cameras": {"mast": {"fps": 1.0}}}),
        );
        let cfg = merged(FILE, Some(&o)).unwrap();
        assert_eq!(cfg.retention.max_age_s, 3600);
        assert_eq!(cfg.retention.retain_bytes, 1_000_000_000);
        assert_eq!(cfg.retention.min_free_bytes, Some(5_000_000));
        let up = cfg.uplink.as_ref().unwrap();
        assert_eq!((up.thumbs_per_s, up.budget_bytes_per_s), (0.5, 2000));
        assert_eq!(cfg.cameras.len(), 2);
        assert_eq!((cfg.cameras[0].fps, cfg.cameras[1].fps), (2.0, 1.0));
        // null: the file's value.
        let reset = overlay(8, json!({"retention": {"max_age_s": null}, "uplink": null}));
        let cfg = merged(FILE, Some(&reset)).unwrap();
        assert_eq!(cfg.retention.max_age_s, 86400);
        assert_eq!(cfg.uplink.unwrap().budget_bytes_per_s, 2000);
    }

    #[test]
    fn integers_from_json_fill_float_keys() {
        let o = overlay(1, json!({"cameras": {"bow": {"fps": 10}}}));
        assert_eq!(merged(FILE, Some(&o)).unwrap().cameras[0].fps, 10.0);
    }

    #[test]
    fn every_problem_is_named() {
        let o = overlay(
            2,
            json!({"vessel": "x", "api": {}, "retention": 5, "cameras": {"bow": {"fps": -1}}}),
        );
        let err = merged(FILE, Some(&o)).unwrap_err();
        assert!(
            err.contains("vessel: cannot be changed from shore"),
            "{err}"
        );
        assert!(err.contains("api: cannot be changed"), "{err}");
        assert!(err.contains("retention: must be a table"), "{err}");
        let o = overlay(3, json!({"cameras": {"bow": {"fps": -1}}}));
        let err = merged(FILE, Some(&o)).unwrap_err();
        assert!(
            err.starts_with("cameras[0].fps: -1 is out of range"),
            "{err}"
        );
        let o = overlay(4, json!({"cameras": {"aft": {"fps": 1.0}}}));
        let err = merged(FILE, Some(&o)).unwrap_err();
        assert!(err.contains("source"), "a new camera needs a source: {err}");
        // The files a push names: adapters/config/files.rs.
    }

    #[test]
    fn origins_name_file_push_and_default_and_hide_secrets() {
        let o = overlay(
            7,
            json!({"cameras": {"mast": {"fps": 1.0}}, "retention": {"max_age_s": 60}}),
        );
        let cfg = merged(FILE, Some(&o)).unwrap();
        let lines = explain(&cfg, FILE, Some(&o));
        let by_key = origins_by_key(&lines);
        assert_eq!(by_key["cameras[1].fps"], Origin::Push(7));
        assert_eq!(by_key["cameras[0].fps"], Origin::File);
        assert_eq!(by_key["cameras[0].width"], Origin::Default);
        assert_eq!(by_key["retention.max_age_s"], Origin::Push(7));
        assert_eq!(by_key["retention.retain_bytes"], Origin::File);
        assert_eq!(by_key["queue.workers"], Origin::Default);
        assert_eq!(by_key["vessel"], Origin::File);
        let text = render(&lines);
        assert!(
            !text.contains("hunter2") && !text.contains("secret"),
            "{text}"
        );
        assert!(
            text.contains("uplink.mqtt_url = \"mqtt://aurora:***@127.0.0.1:1883\""),
            "{text}"
        );
        let json = origins_json(&lines).to_string();
        assert!(
            !json.contains("hunter2") && !json.contains("secret"),
            "{json}"
        );
    }
}
