//! A real `mosquitto` broker per test on a free loopback port, with its own
//! config and persistence directory; it can be stopped, killed and started
//! again on the same port (to test reconnection), killed on drop.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::process::{Child, require_binary, spawn_on_free_port};

/// How a test broker is set up.
#[derive(Debug, Clone, Default)]
pub struct MosquittoOptions {
    /// Keep retained messages, sessions and queued messages across restarts
    /// (written at an orderly stop).
    pub persistence: bool,
    /// Extra `mosquitto.conf` lines (e.g. `password_file`, `acl_file`); with
    /// none, anonymous clients are allowed.
    pub extra_config: String,
}

#[derive(Debug)]
pub struct MosquittoServer {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl MosquittoServer {
    /// An anonymous broker without persistence.
    pub fn start() -> Result<Self> {
        Self::start_with(MosquittoOptions::default())
    }

    /// Starts a broker on a free 127.0.0.1 port and waits until it listens.
    pub fn start_with(options: MosquittoOptions) -> Result<Self> {
        require_binary("mosquitto", "mosquitto")?;
        let dir = tempfile::tempdir()?;
        let (child, port) = spawn_on_free_port("mosquitto", |port| {
            write_config(dir.path(), port, &options)?;
            spawn(dir.path())
        })?;
        Ok(Self {
            child: Some(child),
            port,
            dir,
        })
    }

    /// Starts a broker with exactly the config `make(port, dir)` returns
    /// (a shipped config with its paths and port put in the test's own),
    /// on a free 127.0.0.1 port, in a temp dir, and waits until it runs.
    /// The config must log to stderr at least `information` (readiness is
    /// read there) and listen on `port`.
    pub fn start_config(make: impl Fn(u16, &Path) -> String) -> Result<Self> {
        require_binary("mosquitto", "mosquitto")?;
        let dir = tempfile::tempdir()?;
        let (child, port) = spawn_on_free_port("mosquitto", |port| {
            let path = dir.path().join("mosquitto.conf");
            std::fs::write(&path, make(port, dir.path()))
                .with_context(|| format!("writing {}", path.display()))?;
            spawn(dir.path())
        })?;
        Ok(Self {
            child: Some(child),
            port,
            dir,
        })
    }

    /// The user a test broker runs as (mosquitto started as root would
    /// switch to its own user, which cannot read the test's files).
    pub fn test_user() -> String {
        current_user()
    }

    /// `mqtt://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The broker's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::pid)
    }

    /// Its directory (config, persistence, files a test adds).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// An orderly stop: with persistence, what the broker holds is saved.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.terminate(Duration::from_secs(10));
        }
    }

    /// SIGKILL: whatever was not yet persisted is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill();
        }
    }

    /// Starts the broker again on the same port with the same config
    /// (after [`stop`](Self::stop) or [`kill`](Self::kill)).
    pub fn restart(&mut self) -> Result<()> {
        self.stop();
        self.child = Some(spawn(self.dir.path())?);
        Ok(())
    }
}

fn write_config(dir: &Path, port: u16, options: &MosquittoOptions) -> Result<PathBuf> {
    let mut conf = format!(
        "listener {port} 127.0.0.1\n\
         log_dest stderr\n\
         log_type error\nlog_type warning\nlog_type notice\nlog_type information\n\
         persistence {}\n\
         persistence_location {}/\n\
         max_queued_messages 100000\n\
         max_inflight_messages 20\n\
         user {}\n",
        options.persistence,
        dir.display(),
        // Started as root, mosquitto would switch to its own user, which
        // cannot write in the test's directory; as anyone else it keeps
        // the user it runs as.
        current_user()
    );
    if options.extra_config.is_empty() {
        conf.push_str("allow_anonymous true\n");
    } else {
        conf.push_str(&options.extra_config);
        conf.push('\n');
    }
    let path = dir.join("mosquitto.conf");
    std::fs::write(&path, conf).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

fn current_user() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "root".to_owned())
}

fn spawn(dir: &Path) -> Result<Child> {
    let mut cmd = Command::new("mosquitto");
    cmd.arg("-c").arg(dir.join("mosquitto.conf"));
    let (child, _) = Child::spawn_until(cmd, "mosquitto", " running")?;
    Ok(child)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// An MQTT 3.1.1 CONNECT with a clean session; the broker answers CONNACK.
    fn connack(port: u16) -> std::io::Result<[u8; 4]> {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        let client_id = b"kit";
        let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 30, 0, 3];
        body.extend_from_slice(client_id);
        let mut packet = vec![0x10, u8::try_from(body.len()).expect("short")];
        packet.extend(body);
        s.write_all(&packet)?;
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf)?;
        Ok(buf)
    }

    #[test]
    fn accepts_clients_stops_and_restarts_on_the_same_port() {
        let mut broker = MosquittoServer::start_with(MosquittoOptions {
            persistence: true,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(connack(broker.port()).unwrap(), [0x20, 2, 0, 0]);
        broker.stop();
        assert!(
            broker.dir().join("mosquitto.db").exists(),
            "persistence saved at stop"
        );
        assert!(connack(broker.port()).is_err());
        broker.restart().unwrap();
        assert_eq!(connack(broker.port()).unwrap(), [0x20, 2, 0, 0]);
    }
}
