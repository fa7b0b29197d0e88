//! `seaframe-agent init`: the one step that sets up a freshly installed
//! board. The package installs no config (so no camera runs until this is
//! done); `init` writes the operator's file from the vessel's name, the
//! shore's broker and its credentials, and cameras given by hand or found
//! by ONVIF discovery. The text is checked like `check-config` (and the
//! files it names) before anything is written; an existing file is only
//! replaced with `--force`.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::adapters::config::files::check_files;
use crate::base::config::Config;

/// What `init` was told.
#[derive(Debug, Clone, Default)]
pub struct InitOptions {
    pub vessel: String,
    /// `None`: the default (`/var/lib/seaframe`).
    pub data_dir: Option<PathBuf>,
    /// The shore's broker; `None`: no uplink yet.
    pub mqtt_url: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub client_cert_file: Option<PathBuf>,
    pub client_key_file: Option<PathBuf>,
    /// `(id, source)` pairs.
    pub cameras: Vec<(String, String)>,
}

/// The config text for `options`, with `discovered` (`[[cameras]]` tables
/// printed by ONVIF discovery) appended; `Err`: every problem, one per
/// line, and nothing to write.
pub fn render(options: &InitOptions, discovered: Option<&str>) -> Result<String, String> {
    let mut table = toml::Table::new();
    table.insert("vessel".into(), options.vessel.clone().into());
    if let Some(dir) = &options.data_dir {
        table.insert("data_dir".into(), path_value(dir));
    }
    if !options.cameras.is_empty() {
        let cameras = options
            .cameras
            .iter()
            .map(|(id, source)| {
                let mut cam = toml::Table::new();
                cam.insert("id".into(), id.clone().into());
                cam.insert("source".into(), source.clone().into());
                toml::Value::Table(cam)
            })
            .collect();
        table.insert("cameras".into(), toml::Value::Array(cameras));
    }
    if let Some(url) = &options.mqtt_url {
        let mut up = toml::Table::new();
        up.insert("mqtt_url".into(), url.clone().into());
        for (key, file) in [
            ("ca_file", &options.ca_file),
            ("client_cert_file", &options.client_cert_file),
            ("client_key_file", &options.client_key_file),
        ] {
            if let Some(f) = file {
                up.insert(key.into(), path_value(f));
            }
        }
        table.insert("uplink".into(), toml::Value::Table(up));
    } else if options.ca_file.is_some() || options.client_cert_file.is_some() {
        return Err("--ca-file and --client-cert/--client-key need --mqtt-url".into());
    }
    let body = toml::to_string(&table).map_err(|e| format!("config: {e}"))?;
    let mut text = format!(
        "# seaframe-agent configuration, written by `seaframe-agent init`.\n\
         # Every key, with its default and meaning: /usr/share/doc/seaframe-agent/agent.example.toml\n\
         # Check it with `seaframe-agent check-config --config FILE`. Configs pushed from\n\
         # shore are kept apart (in the data directory) and never written here.\n\n{body}"
    );
    if let Some(found) = discovered {
        text.push_str("\n# Found by ONVIF discovery:\n");
        text.push_str(found);
    }
    let cfg = Config::from_toml(&text, "the new config").map_err(|e| e.to_string())?;
    let problems = check_files(&cfg);
    if !problems.is_empty() {
        return Err(problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n"));
    }
    Ok(text)
}

fn path_value(p: &Path) -> toml::Value {
    p.display().to_string().into()
}

/// Writes `text` to `path` (mode 0640, group `seaframe` when that group
/// exists: the file may hold the broker's credentials) atomically; an
/// existing file only with `force`.
pub fn write(path: &Path, text: &str, force: bool) -> Result<(), String> {
    if path.exists() && !force {
        return Err(format!(
            "{} already exists; check it with `seaframe-agent check-config --config {0}`, \
             or give --force to replace it",
            path.display()
        ));
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let io = |what: &str, e: std::io::Error| format!("{what} {}: {e}", path.display());
    std::fs::create_dir_all(dir).map_err(|e| io("making the folder of", e))?;
    let tmp = dir.join(".agent.toml.init");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o640)
        .open(&tmp)
        .map_err(|e| io("writing", e))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| io("writing", e))?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o640))
        .map_err(|e| io("setting the mode of", e))?;
    if let Some(gid) = group_id("seaframe") {
        // Only root may give the file away; anyone else keeps their group.
        let _ = std::os::unix::fs::chown(&tmp, None, Some(gid));
    }
    std::fs::rename(&tmp, path).map_err(|e| io("writing", e))?;
    Ok(())
}

/// The id of `name` in /etc/group.
fn group_id(name: &str) -> Option<u32> {
    std::fs::read_to_string("/etc/group")
        .ok()?
        .lines()
        .find_map(|l| {
            let mut fields = l.split(':');
            (fields.next()? == name).then(|| fields.nth(1)?.parse().ok())?
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> InitOptions {
        InitOptions {
            vessel: "aurora".into(),
            data_dir: Some("/tmp/aurora".into()),
            mqtt_url: Some("mqtts://aurora:p%40ss@shore.example:8883".into()),
            cameras: vec![("bridge".into(), "rtsp://cam:pw@10.0.0.5/stream".into())],
            ..InitOptions::default()
        }
    }

    #[test]
    fn writes_a_config_that_loads() {
        let discovered = "[[cameras]]\nid = \"mast\"\nsource = \"http://10.0.0.6/snapshot.jpg\"\n";
        let text = render(&options(), Some(discovered)).unwrap();
        let cfg = Config::from_toml(&text, "t").unwrap();
        assert_eq!(cfg.vessel.as_str(), "aurora");
        let ids: Vec<&str> = cfg.cameras.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["bridge", "mast"]);
        assert!(cfg.uplink.is_some());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("etc/seaframe/agent.toml");
        write(&path, &text, false).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
        let again = write(&path, "x", false).unwrap_err();
        assert!(again.contains("already exists"), "{again}");
        write(&path, &text, true).unwrap();
    }

    #[test]
    fn refuses_what_would_not_run() {
        let mut bad = options();
        bad.vessel = "Not A Name".into();
        assert!(render(&bad, None).is_err());
        let mut bad = options();
        bad.ca_file = Some("/nonexistent/ca.pem".into());
        let e = render(&bad, None).unwrap_err();
        assert!(
            e.contains("uplink.ca_file: /nonexistent/ca.pem: no such file"),
            "{e}"
        );
        let mut bad = options();
        bad.cameras.push(("bridge".into(), "testpattern".into()));
        assert!(
            render(&bad, None)
                .unwrap_err()
                .contains("duplicate camera id")
        );
    }
}
