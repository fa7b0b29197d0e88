//! Certificates made at test time with `openssl` (nothing committed): a
//! test CA and a broker certificate it signed for 127.0.0.1, and a second,
//! unrelated CA (what a wrong `ca_file` looks like: it parses, it just
//! does not vouch for the broker).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::mosquitto::{MosquittoOptions, MosquittoServer};
use crate::process::{free_port, require_binary};

#[derive(Debug)]
pub struct TestPki {
    dir: PathBuf,
}

impl TestPki {
    /// Makes the CA, the broker's certificate and key, and the other CA in
    /// `dir` (valid for two days).
    pub fn make(dir: &Path) -> Result<Self> {
        require_binary("openssl", "openssl")?;
        let openssl = |args: &[&str]| -> Result<()> {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .output()
                .context("running openssl")?;
            if !out.status.success() {
                bail!("openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            }
            Ok(())
        };
        for (name, subject) in [
            ("ca", "seaframe test CA"),
            ("other-ca", "someone else's CA"),
        ] {
            openssl(&[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.pem"),
                "-days",
                "2",
                "-subj",
                &format!("/CN={subject}"),
            ])?;
        }
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ])?;
        std::fs::write(dir.join("ext"), "subjectAltName=IP:127.0.0.1\n")?;
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext",
        ])?;
        Ok(Self {
            dir: dir.to_owned(),
        })
    }

    /// The CA that signed the broker's certificate.
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// A CA that parses but did not sign the broker's certificate.
    pub fn other_ca(&self) -> PathBuf {
        self.dir.join("other-ca.pem")
    }

    /// A broker with an anonymous plain listener (`broker.port()`, for a
    /// test's own clients) and a TLS one with this PKI's certificate (the
    /// returned port).
    pub fn broker(&self) -> Result<(MosquittoServer, u16)> {
        let tls_port = free_port()?;
        let broker = MosquittoServer::start_with(MosquittoOptions {
            persistence: false,
            extra_config: format!(
                "allow_anonymous true\n{}",
                self.mosquitto_listener(tls_port)
            ),
        })?;
        Ok((broker, tls_port))
    }

    /// `mosquitto.conf` lines for a TLS listener on `port` (127.0.0.1)
    /// with the broker's certificate.
    pub fn mosquitto_listener(&self, port: u16) -> String {
        format!(
            "listener {port} 127.0.0.1\ncafile {0}/ca.pem\ncertfile {0}/server.pem\nkeyfile {0}/server.key\n",
            self.dir.display()
        )
    }
}
