//! A real `redis-server` per test: on a free loopback port or a unix socket
//! in its own temp dir, keeping nothing on disk, killed on drop.

use std::path::PathBuf;
use std::process::Command;

use anyhow::Result;

use crate::process::{Child, require_binary, spawn_on_free_port};

#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts a server on a free 127.0.0.1 port and waits until it accepts
    /// connections.
    pub fn start() -> Result<Self> {
        require_binary("redis-server", "redis-server")?;
        let dir = tempfile::tempdir()?;
        let (child, port) = spawn_on_free_port("redis-server", |port| spawn(port, &dir))?;
        Ok(Self {
            child: Some(child),
            port,
            dir,
        })
    }

    /// `redis://127.0.0.1:PORT/0`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server (SIGKILL): everything it held is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill();
        }
    }

    /// Starts a fresh, empty server on the same port after [`kill`](Self::kill).
    pub fn restart(&mut self) -> Result<()> {
        self.kill();
        self.child = Some(spawn(self.port, &self.dir)?);
        Ok(())
    }

    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_owned()
    }
}

fn spawn(port: u16, dir: &tempfile::TempDir) -> Result<Child> {
    let mut cmd = Command::new("redis-server");
    cmd.args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no", "--logfile", ""])
        .arg("--dir")
        .arg(dir.path());
    let (child, _) = Child::spawn_until(cmd, "redis-server", "Ready to accept connections")?;
    Ok(child)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn ping(port: u16) -> std::io::Result<String> {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
        s.write_all(b"PING\r\n")?;
        let mut buf = [0u8; 7];
        s.read_exact(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }

    #[test]
    fn starts_answers_and_restarts() {
        let mut r = RedisServer::start().unwrap();
        assert_eq!(ping(r.port()).unwrap(), "+PONG\r\n");
        r.kill();
        assert!(ping(r.port()).is_err());
        r.restart().unwrap();
        assert_eq!(ping(r.port()).unwrap(), "+PONG\r\n");
    }
}
