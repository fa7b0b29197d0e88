//! The shore's TLS to the broker: `[mqtt] ca_file`, `cert_file` and
//! `key_file` checked (the files exist, are readable and parse as PEM: a CA
//! usable as a trust anchor, an X.509 certificate, a private key) and turned
//! into rumqttc's rustls transport. `check-config` and the start of `serve`
//! run the same checks, so a missing or garbage file is named before the
//! shore tries to connect with it.

use std::path::Path;

use rumqttc::{TlsConfiguration, Transport};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::adapters::config::mqtt::MqttConfig;
use crate::base::problem::Problem;

/// `true` when `[mqtt] url` asks for TLS.
pub fn is_tls(url: &str) -> bool {
    url.starts_with("mqtts://") || url.starts_with("ssl://")
}

/// What is wrong with the TLS keys of `[mqtt]` without reading any file
/// (part of [`crate::adapters::config::Config::validate`]).
pub fn config_problems(mqtt: &MqttConfig) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let any = mqtt.ca_file.is_some() || mqtt.cert_file.is_some() || mqtt.key_file.is_some();
    if any && !is_tls(&mqtt.url) {
        out.push((
            "mqtt.ca_file",
            "ca_file, cert_file and key_file apply only to an mqtts:// url".into(),
        ));
    }
    if mqtt.cert_file.is_some() != mqtt.key_file.is_some() {
        out.push((
            "mqtt.key_file",
            "cert_file and key_file go together (set both or neither)".into(),
        ));
    }
    if mqtt.cert_file.is_some() && mqtt.ca_file.is_none() {
        out.push((
            "mqtt.ca_file",
            "a client certificate needs the broker's CA in ca_file".into(),
        ));
    }
    out
}

/// Every problem with the files `[mqtt]` names (empty: all usable).
pub fn check_files(mqtt: &MqttConfig) -> Vec<Problem> {
    let mut out = Vec::new();
    let files = [
        ("mqtt.ca_file", &mqtt.ca_file, Pem::Anchors),
        ("mqtt.cert_file", &mqtt.cert_file, Pem::Certificates),
        ("mqtt.key_file", &mqtt.key_file, Pem::Key),
    ];
    for (key, file, kind) in files {
        let Some(path) = file else { continue };
        if let Err(message) = kind.check(path) {
            out.push(Problem {
                key,
                message: format!("{}: {message}", path.display()),
            });
        }
    }
    out
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Files(Vec<Problem>),
}

/// The transport for an `mqtts://` url: the CA of `ca_file` (or the
/// system's roots) and the client certificate, when one is configured.
pub fn transport(mqtt: &MqttConfig) -> Result<Transport, TlsError> {
    let problems = check_files(mqtt);
    if !problems.is_empty() {
        return Err(TlsError::Files(problems));
    }
    transport_from(
        mqtt.ca_file.as_deref(),
        mqtt.cert_file.as_deref().zip(mqtt.key_file.as_deref()),
    )
}

/// The transport for a CA file (`None`: the system's roots) and a client
/// certificate and key.
pub fn transport_from(
    ca_file: Option<&Path>,
    client: Option<(&Path, &Path)>,
) -> Result<Transport, TlsError> {
    let read = |key: &'static str, path: &Path| {
        std::fs::read(path).map_err(|e| {
            TlsError::Files(vec![Problem {
                key,
                message: format!("{}: {e}", path.display()),
            }])
        })
    };
    let Some(ca_file) = ca_file else {
        return Ok(Transport::tls_with_default_config());
    };
    let client_auth = match client {
        Some((cert, key)) => Some((read("mqtt.cert_file", cert)?, read("mqtt.key_file", key)?)),
        None => None,
    };
    Ok(Transport::tls_with_config(TlsConfiguration::Simple {
        ca: read("mqtt.ca_file", ca_file)?,
        alpn: None,
        client_auth,
    }))
}

/// What a PEM file must hold.
#[derive(Debug, Clone, Copy)]
enum Pem {
    /// Certificates each usable as a trust anchor.
    Anchors,
    /// Well-formed X.509 certificates (a chain, the leaf first).
    Certificates,
    /// One private key (PKCS#8, PKCS#1 or SEC1).
    Key,
}

impl Pem {
    fn check(self, path: &Path) -> Result<(), String> {
        std::fs::File::open(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => "no such file".to_owned(),
            std::io::ErrorKind::PermissionDenied => {
                "not readable by this user (permission denied)".to_owned()
            }
            _ => e.to_string(),
        })?;
        if let Self::Key = self {
            PrivateKeyDer::from_pem_file(path).map_err(|e| format!("no PEM private key: {e}"))?;
            return Ok(());
        }
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .and_then(Iterator::collect)
            .map_err(|e| format!("not PEM: {e}"))?;
        if certs.is_empty() {
            return Err("holds no PEM certificate".into());
        }
        for (i, cert) in certs.into_iter().enumerate() {
            let parsed = match self {
                Self::Anchors => rustls::RootCertStore::empty()
                    .add(cert)
                    .map_err(|e| format!("certificate {} is not usable as a CA: {e}", i + 1)),
                _ => rustls::server::ParsedCertificate::try_from(&cert)
                    .map(drop)
                    .map_err(|e| format!("certificate {} does not parse: {e}", i + 1)),
            };
            parsed?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mqtt(extra: &str) -> MqttConfig {
        let text = format!("url = \"mqtts://broker.example:8883\"\n{extra}");
        toml::from_str(&text).unwrap()
    }

    #[test]
    fn key_pairs_and_schemes_are_checked_without_files() {
        let keys: Vec<_> = config_problems(&mqtt("cert_file = \"/c.pem\""))
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, ["mqtt.key_file", "mqtt.ca_file"]);
        let mut plain = mqtt("ca_file = \"/ca.pem\"");
        plain.url = "mqtt://broker.example".into();
        assert_eq!(config_problems(&plain)[0].0, "mqtt.ca_file");
        assert!(
            config_problems(&mqtt(
                "ca_file = \"/a\"\ncert_file = \"/b\"\nkey_file = \"/c\""
            ))
            .is_empty()
        );
    }

    #[test]
    fn missing_and_garbage_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "not a certificate\n").unwrap();
        let m = mqtt(&format!(
            "ca_file = \"/nonexistent/ca.pem\"\ncert_file = \"{0}\"\nkey_file = \"{0}\"",
            garbage.display()
        ));
        let problems = check_files(&m);
        let text: Vec<_> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(problems.len(), 3, "{text:?}");
        assert!(text[0].contains("no such file"), "{text:?}");
        assert!(text[1].contains("holds no PEM certificate"), "{text:?}");
        assert!(text[2].contains("no PEM private key"), "{text:?}");
        assert!(matches!(transport(&m), Err(TlsError::Files(p)) if p.len() == 3));
    }
}
