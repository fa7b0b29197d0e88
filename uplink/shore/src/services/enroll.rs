//! `seaframe-shore enroll <vessel>`: everything a new vessel needs, in one
//! command.
//!
//! 1. a client certificate signed by the fleet CA whose common name is the
//!    vessel's name (its broker identity, see [`crate::adapters::pki`]), with its key
//!    and the CA, written to `<out>/<vessel>/`;
//! 2. the agent's `[uplink]` section that uses them (`uplink.toml` there,
//!    and printed);
//! 3. the vessel's role in the broker's dynamic security: publish only under
//!    `seaframe/v1/<vessel>/` (`thumb/+`, `status`, `position`,
//!    `config/ack`), subscribe to and receive only `seaframe/v1/<vessel>/config`
//!    — sent by the admin identity to `$CONTROL/dynamic-security/v1` and
//!    checked in the broker's answer. No reload: the broker applies it at
//!    once and saves it.
//!
//! Enrolling again is harmless: a new certificate is made (the old one
//! still works until revoked at the broker), the role and client are left
//! as they are.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use seaframe_wire::VesselName;
use serde_json::{Value, json};

use crate::adapters::pki::{ADMIN_IDENTITY, Issued, Pki, PkiError, write_new};

/// Where the broker's dynamic security takes commands, and answers.
const CONTROL_TOPIC: &str = "$CONTROL/dynamic-security/v1";
const RESPONSE_TOPIC: &str = "$CONTROL/dynamic-security/v1/response";
/// The whole exchange with the broker, connection included.
const BROKER_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error("broker url {0:?}: must be mqtts://host:port")]
    Url(String),
    #[error(transparent)]
    Tls(#[from] crate::adapters::tls::TlsError),
    #[error("the broker: {0}")]
    Broker(String),
    #[error("the broker did not answer within {}s", BROKER_TIMEOUT.as_secs())]
    Timeout,
}

/// What an enrollment wrote.
#[derive(Debug, Clone)]
pub struct Enrolled {
    /// `<out>/<vessel>/`: `ca.pem`, `<vessel>.pem`, `<vessel>.key`, `uplink.toml`.
    pub dir: PathBuf,
    /// The agent's config lines (also in `uplink.toml`).
    pub snippet: String,
}

/// The files and the agent's config for `vessel`, written to
/// `<out>/<vessel>/`; `vessel_dir` is where they will be on the vessel.
/// Refuses to overwrite an earlier enrollment's files.
pub fn write_files(
    pki: &Pki,
    vessel: &VesselName,
    broker_url: &str,
    out: &Path,
    vessel_dir: &Path,
) -> Result<Enrolled, EnrollError> {
    check_url(broker_url)?;
    let Issued { cert_pem, key_pem } = pki.issue(vessel.as_str())?;
    let dir = out.join(vessel.as_str());
    std::fs::create_dir_all(&dir).map_err(|source| PkiError::Io {
        path: dir.clone(),
        source,
    })?;
    let ca = std::fs::read(pki.ca_file()).map_err(|source| PkiError::Io {
        path: pki.ca_file(),
        source,
    })?;
    let snippet = agent_snippet(vessel, broker_url, vessel_dir);
    write_new(&dir.join("ca.pem"), &ca, 0o644)?;
    write_new(
        &dir.join(format!("{vessel}.pem")),
        cert_pem.as_bytes(),
        0o644,
    )?;
    write_new(
        &dir.join(format!("{vessel}.key")),
        key_pem.as_bytes(),
        0o600,
    )?;
    write_new(&dir.join("uplink.toml"), snippet.as_bytes(), 0o644)?;
    Ok(Enrolled { dir, snippet })
}

/// The agent's config for an enrolled vessel: its name (the broker allows
/// it only its own prefix) and the `[uplink]` keys of its link.
pub fn agent_snippet(vessel: &VesselName, broker_url: &str, vessel_dir: &Path) -> String {
    let file = |name: String| vessel_dir.join(name).display().to_string();
    format!(
        "# seaframe-agent config for {vessel}, from `seaframe-shore enroll`.\n\
         # The broker knows this vessel by its certificate: `vessel` must stay {vessel:?}.\n\
         vessel = {vessel:?}\n\
         \n\
         [uplink]\n\
         mqtt_url = {broker_url:?}\n\
         ca_file = {:?}\n\
         client_cert_file = {:?}\n\
         client_key_file = {:?}\n",
        file("ca.pem".into()),
        file(format!("{vessel}.pem")),
        file(format!("{vessel}.key")),
    )
}

/// The dynamic-security role name of a vessel.
pub fn role_name(vessel: &VesselName) -> String {
    format!("seaframe-vessel-{vessel}")
}

/// The commands that give `vessel` its role and client at the broker.
pub fn dynsec_commands(vessel: &VesselName) -> Value {
    let prefix = format!("{}/{vessel}", seaframe_wire::PREFIX);
    let acl = |acltype: &str, topic: String| json!({"acltype": acltype, "topic": topic, "priority": 0, "allow": true});
    let mut acls: Vec<Value> = ["thumb/+", "status", "position", "config/ack"]
        .iter()
        .map(|t| acl("publishClientSend", format!("{prefix}/{t}")))
        .collect();
    acls.push(acl("subscribeLiteral", format!("{prefix}/config")));
    acls.push(acl("publishClientReceive", format!("{prefix}/config")));
    let role = role_name(vessel);
    json!({"commands": [
        {"command": "createRole", "rolename": role, "acls": acls},
        {"command": "createClient", "username": vessel.as_str(),
         "textname": format!("vessel {vessel}"), "roles": [{"rolename": role}]},
    ]})
}

/// Sends [`dynsec_commands`] to the broker as the admin identity of `pki`
/// and checks every answer ("already exists" is fine: enrolled before).
pub async fn add_to_broker(
    pki: &Pki,
    broker_url: &str,
    vessel: &VesselName,
) -> Result<(), EnrollError> {
    let (host, port) = check_url(broker_url)?;
    let (cert, key) = pki.pair("admin");
    let transport =
        crate::adapters::tls::transport_from(Some(&pki.ca_file()), Some((&cert, &key)))?;
    let mut opts = MqttOptions::new(ADMIN_IDENTITY, host, port);
    opts.set_transport(transport)
        .set_clean_session(true)
        .set_keep_alive(Duration::from_secs(30));
    let (client, mut eventloop) = AsyncClient::new(opts, 10);
    let commands = dynsec_commands(vessel).to_string();
    let exchange = async {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    client
                        .subscribe(RESPONSE_TOPIC, QoS::AtLeastOnce)
                        .await
                        .map_err(|e| EnrollError::Broker(e.to_string()))?;
                }
                Ok(Event::Incoming(Packet::SubAck(ack))) => {
                    if ack
                        .return_codes
                        .iter()
                        .any(|c| matches!(c, rumqttc::SubscribeReasonCode::Failure))
                    {
                        return Err(EnrollError::Broker(format!(
                            "refused {RESPONSE_TOPIC} to {ADMIN_IDENTITY} (is the dynamic security plugin loaded?)"
                        )));
                    }
                    client
                        .publish(CONTROL_TOPIC, QoS::AtLeastOnce, false, commands.clone())
                        .await
                        .map_err(|e| EnrollError::Broker(e.to_string()))?;
                }
                Ok(Event::Incoming(Packet::Publish(p))) if p.topic == RESPONSE_TOPIC => {
                    return check_responses(&p.payload);
                }
                Ok(_) => {}
                Err(e) => return Err(EnrollError::Broker(e.to_string())),
            }
        }
    };
    let result = tokio::time::timeout(BROKER_TIMEOUT, exchange)
        .await
        .unwrap_or(Err(EnrollError::Timeout));
    let _ = client.try_disconnect();
    result
}

/// Every error in the broker's answer, but "already exists".
fn check_responses(payload: &[u8]) -> Result<(), EnrollError> {
    let answer: Value = serde_json::from_slice(payload)
        .map_err(|e| EnrollError::Broker(format!("an answer that is not JSON: {e}")))?;
    let errors: Vec<String> = answer["responses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            let error = r["error"].as_str()?;
            (!error.ends_with("already exists"))
                .then(|| format!("{}: {error}", r["command"].as_str().unwrap_or("?")))
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(EnrollError::Broker(errors.join("; ")))
    }
}

/// Host and port of an `mqtts://` url.
fn check_url(broker_url: &str) -> Result<(String, u16), EnrollError> {
    let bad = || EnrollError::Url(broker_url.to_owned());
    let url = url::Url::parse(broker_url).map_err(|_| bad())?;
    if url.scheme() != "mqtts" || !url.username().is_empty() {
        return Err(bad());
    }
    let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(bad)?;
    Ok((host.to_owned(), url.port().unwrap_or(8883)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vessel_gets_its_own_prefix_and_config_only() {
        let v = VesselName::parse("aurora").unwrap();
        let c = dynsec_commands(&v);
        let acls = c["commands"][0]["acls"].as_array().unwrap();
        for acl in acls {
            let topic = acl["topic"].as_str().unwrap();
            assert!(topic.starts_with("seaframe/v1/aurora/"), "{topic}");
            assert!(!topic.contains('#'), "{topic}");
        }
        let subs: Vec<_> = acls
            .iter()
            .filter(|a| a["acltype"] != "publishClientSend")
            .map(|a| a["topic"].as_str().unwrap())
            .collect();
        assert_eq!(subs, ["seaframe/v1/aurora/config"; 2]);
        assert_eq!(c["commands"][1]["username"], "aurora");
    }

    #[test]
    fn the_snippet_is_an_agent_config() {
        let v = VesselName::parse("aurora").unwrap();
        let s = agent_snippet(
            &v,
            "mqtts://broker.example:8883",
            Path::new("/etc/seaframe/tls"),
        );
        let t: toml::Table = toml::from_str(&s).unwrap();
        assert_eq!(t["vessel"].as_str(), Some("aurora"));
        let up = t["uplink"].as_table().unwrap();
        assert_eq!(
            up["client_key_file"].as_str(),
            Some("/etc/seaframe/tls/aurora.key")
        );
        assert_eq!(up.len(), 4);
    }

    #[test]
    fn answers_and_urls() {
        assert!(check_responses(br#"{"responses":[{"command":"createRole"},{"command":"createClient","error":"Client already exists"}]}"#).is_ok());
        let e = check_responses(
            br#"{"responses":[{"command":"createRole","error":"Permission denied"}]}"#,
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("createRole: Permission denied"),
            "{e}"
        );
        assert!(check_url("mqtt://h:1883").is_err());
        assert_eq!(check_url("mqtts://h").unwrap(), ("h".into(), 8883));
    }
}
