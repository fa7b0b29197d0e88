//! What only the machine can check about a config: that the files it names
//! exist, are readable by this process's user and parse (the TLS material
//! of `[uplink]`: PEM certificates that are X.509, a PEM private key).
//! `check-config`, the agent's start and every push from shore run it, so a
//! file that is missing or garbage is refused before it is used.

use std::path::Path;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::base::config::layered::{Overlay, merged};
use crate::base::config::{Config, ConfigError, Problem};

/// Reads, parses and validates the config file at `path`. No side effects.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    Config::from_toml(&text, &path.display().to_string())
}

/// The config in effect: `file_text` with `overlay` laid over it
/// ([`merged`]), validated, and the files it names checked. `Err` lists
/// every problem, one per line.
pub fn effective(file_text: &str, overlay: Option<&Overlay>) -> Result<Config, String> {
    let cfg = merged(file_text, overlay)?;
    let problems = check_files(&cfg);
    if problems.is_empty() {
        Ok(cfg)
    } else {
        Err(problems
            .iter()
            .map(Problem::to_string)
            .collect::<Vec<_>>()
            .join("\n"))
    }
}

/// Every problem with the files `cfg` names (empty: all usable).
pub fn check_files(cfg: &Config) -> Vec<Problem> {
    let mut out = Vec::new();
    let Some(up) = &cfg.uplink else {
        return out;
    };
    let tls = up.mqtt_url.expose().starts_with("mqtts://");
    let mut bad = |key: &str, message: String| {
        out.push(Problem {
            key: format!("uplink.{key}"),
            line: None,
            message,
        })
    };
    for (key, file) in [
        ("ca_file", &up.ca_file),
        ("client_cert_file", &up.client_cert_file),
        ("client_key_file", &up.client_key_file),
    ] {
        let Some(path) = file else { continue };
        if !tls {
            bad(key, "applies only to an mqtts:// mqtt_url".into());
            continue;
        }
        let checked = if key == "client_key_file" {
            private_key(path)
        } else {
            certificates(path, key == "ca_file")
        };
        if let Err(message) = checked {
            bad(key, format!("{}: {message}", path.display()));
        }
    }
    out
}

/// At least one PEM certificate, each a well-formed X.509 certificate (for
/// a CA: one that can be a trust anchor).
fn certificates(path: &Path, anchors: bool) -> Result<(), String> {
    readable(path)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("not PEM: {e}"))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("not PEM: {e}"))?;
    if certs.is_empty() {
        return Err("holds no PEM certificate".into());
    }
    if anchors {
        let mut roots = rustls::RootCertStore::empty();
        for (i, cert) in certs.into_iter().enumerate() {
            roots
                .add(cert)
                .map_err(|e| format!("certificate {} is not usable as a CA: {e}", i + 1))?;
        }
    } else {
        for (i, cert) in certs.iter().enumerate() {
            rustls::server::ParsedCertificate::try_from(cert)
                .map_err(|e| format!("certificate {} does not parse: {e}", i + 1))?;
        }
    }
    Ok(())
}

fn private_key(path: &Path) -> Result<(), String> {
    readable(path)?;
    PrivateKeyDer::from_pem_file(path).map_err(|e| format!("no PEM private key: {e}"))?;
    Ok(())
}

/// Opened for reading as this process's user (a message naming why not).
fn readable(path: &Path) -> Result<(), String> {
    std::fs::File::open(path)
        .map(drop)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => "no such file".to_owned(),
            std::io::ErrorKind::PermissionDenied => {
                "not readable by this user (permission denied)".to_owned()
            }
            _ => e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::effective;
    use crate::base::config::layered::Overlay;

    const FILE: &str = r#"
vessel = "aurora"
data_dir = "/tmp/x"
[[cameras]]
id = "bow"
source = "testpattern"
[uplink]
mqtt_url = "mqtt://aurora:hunter2@127.0.0.1:1883"
"#;

    fn push(version: u64, config: serde_json::Value) -> Overlay {
        Overlay { version, config }
    }

    #[test]
    fn a_push_is_refused_for_the_files_it_names() {
        assert!(effective(FILE, None).is_ok());
        let o = push(5, json!({"uplink": {"ca_file": "/nonexistent/ca.pem"}}));
        let err = effective(FILE, Some(&o)).unwrap_err();
        assert!(err.contains("applies only to an mqtts://"), "{err}");
        let o = push(
            6,
            json!({"uplink": {"mqtt_url": "mqtts://h:8883", "ca_file": "/nonexistent/ca.pem"}}),
        );
        let err = effective(FILE, Some(&o)).unwrap_err();
        assert!(
            err.contains("uplink.ca_file: /nonexistent/ca.pem: no such file"),
            "{err}"
        );
    }
}
