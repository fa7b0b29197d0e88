//! The fleet's certificates, made with rcgen: one fleet CA, which signs the
//! broker's server certificate, the shore's and the enrolling admin's
//! client certificates ([`pki-init`](Pki::init)) and one client certificate
//! per vessel ([`Pki::issue`], used by `enroll`).
//!
//! A client certificate's common name is its broker identity: the shipped
//! broker takes it as the user name (`use_identity_as_username`) and as the
//! client id (`use_username_as_clientid`), so an identity cannot be claimed
//! without its key. Vessel names are `[a-z0-9-]`; the shore's and the
//! admin's identities hold a `_`, so no vessel can ever be named like them.
//!
//! Keys are written once (never overwritten) with mode 0600; the CA key
//! never leaves the PKI directory.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

/// The shore instance's broker identity (its certificate's common name).
pub const SHORE_IDENTITY: &str = "seaframe_shore";
/// The identity `enroll` uses to add a vessel to the broker's dynamic
/// security (`$CONTROL/dynamic-security/v1`).
pub const ADMIN_IDENTITY: &str = "seaframe_admin";

/// The CA lives 20 years; what it signs, 10 (a vessel may be out of reach
/// for a long time; revoking is done at the broker, see `docs/deploy.md`).
const CA_DAYS: i64 = 20 * 365;
const LEAF_DAYS: i64 = 10 * 365;

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: already exists (delete it first to make a new one)")]
    Exists { path: PathBuf },
    #[error("{what}: {source}")]
    Rcgen { what: String, source: rcgen::Error },
}

/// A certificate and its private key, both PEM.
#[derive(Clone)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("cert_pem_bytes", &self.cert_pem.len())
            .field("key_pem", &"[redacted]")
            .finish()
    }
}

/// A PKI directory: `ca.pem`, `ca.key`, and what `init` made.
#[derive(Debug, Clone)]
pub struct Pki {
    dir: PathBuf,
}

impl Pki {
    /// Makes the fleet CA and, signed by it, the broker's server
    /// certificate (for every name and address in `broker_hosts`), the
    /// shore's and the admin's client certificates, in `dir`. Refuses to
    /// overwrite any of them.
    pub fn init(dir: &Path, broker_hosts: &[String]) -> Result<Self, PkiError> {
        std::fs::create_dir_all(dir).map_err(|source| PkiError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let pki = Self {
            dir: dir.to_owned(),
        };
        for name in ["ca", "broker", "shore", "admin"] {
            for ext in ["pem", "key"] {
                let path = pki.dir.join(format!("{name}.{ext}"));
                if path.exists() {
                    return Err(PkiError::Exists { path });
                }
            }
        }
        let key = KeyPair::generate().map_err(rcgen_err("generating the CA key"))?;
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, "seaframe fleet CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        validity(&mut params, CA_DAYS);
        let cert = params
            .self_signed(&key)
            .map_err(rcgen_err("signing the CA"))?;
        write_new(&pki.ca_file(), cert.pem().as_bytes(), 0o644)?;
        write_new(
            &pki.dir.join("ca.key"),
            key.serialize_pem().as_bytes(),
            0o600,
        )?;

        let broker = pki.sign("broker", broker_hosts, ExtendedKeyUsagePurpose::ServerAuth)?;
        pki.write_pair("broker", &broker)?;
        for (file, identity) in [("shore", SHORE_IDENTITY), ("admin", ADMIN_IDENTITY)] {
            let issued = pki.sign(identity, &[], ExtendedKeyUsagePurpose::ClientAuth)?;
            pki.write_pair(file, &issued)?;
        }
        Ok(pki)
    }

    /// An existing PKI directory (made by [`Pki::init`]).
    pub fn open(dir: &Path) -> Result<Self, PkiError> {
        let pki = Self {
            dir: dir.to_owned(),
        };
        for path in [pki.ca_file(), pki.dir.join("ca.key")] {
            std::fs::metadata(&path).map_err(|source| PkiError::Io { path, source })?;
        }
        Ok(pki)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The fleet CA's certificate: every party's `ca_file`.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// `<name>.pem` and `<name>.key` in the directory.
    pub fn pair(&self, name: &str) -> (PathBuf, PathBuf) {
        (
            self.dir.join(format!("{name}.pem")),
            self.dir.join(format!("{name}.key")),
        )
    }

    /// A new key and a client certificate whose common name is `identity`.
    pub fn issue(&self, identity: &str) -> Result<Issued, PkiError> {
        self.sign(identity, &[], ExtendedKeyUsagePurpose::ClientAuth)
    }

    fn sign(
        &self,
        common_name: &str,
        hosts: &[String],
        usage: ExtendedKeyUsagePurpose,
    ) -> Result<Issued, PkiError> {
        let issuer = self.issuer()?;
        let key = KeyPair::generate().map_err(rcgen_err("generating a key"))?;
        let mut params = CertificateParams::new(hosts.to_vec())
            .map_err(rcgen_err(&format!("broker host names {hosts:?}")))?;
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![usage];
        params.use_authority_key_identifier_extension = true;
        validity(&mut params, LEAF_DAYS);
        let cert = params
            .signed_by(&key, &issuer)
            .map_err(rcgen_err(&format!("signing {common_name}")))?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    fn issuer(&self) -> Result<Issuer<'static, KeyPair>, PkiError> {
        let read = |path: PathBuf| {
            std::fs::read_to_string(&path).map_err(|source| PkiError::Io { path, source })
        };
        let key = KeyPair::from_pem(&read(self.dir.join("ca.key"))?)
            .map_err(rcgen_err("reading ca.key"))?;
        Issuer::from_ca_cert_pem(&read(self.ca_file())?, key).map_err(rcgen_err("reading ca.pem"))
    }

    fn write_pair(&self, name: &str, issued: &Issued) -> Result<(), PkiError> {
        let (cert, key) = self.pair(name);
        write_new(&cert, issued.cert_pem.as_bytes(), 0o644)?;
        write_new(&key, issued.key_pem.as_bytes(), 0o600)
    }
}

fn validity(params: &mut CertificateParams, days: i64) {
    // An hour back: a clock a little behind still accepts a fresh certificate.
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(days);
}

fn rcgen_err(what: &str) -> impl FnOnce(rcgen::Error) -> PkiError + '_ {
    move |source| PkiError::Rcgen {
        what: what.to_owned(),
        source,
    }
}

/// Writes a file that must not exist yet, with `mode`, and syncs it.
pub fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), PkiError> {
    let io = |source| PkiError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                PkiError::Exists {
                    path: path.to_owned(),
                }
            } else {
                io(e)
            }
        })?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;

    #[test]
    fn init_makes_a_ca_that_vouches_for_what_it_signs_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::init(dir.path(), &["127.0.0.1".into(), "broker.example".into()]).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_file(pki.ca_file()).unwrap())
            .unwrap();
        let aurora = pki.issue("aurora").unwrap();
        for pem in [
            aurora.cert_pem.clone(),
            std::fs::read_to_string(pki.pair("broker").0).unwrap(),
        ] {
            let der = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
            rustls::server::ParsedCertificate::try_from(&der).unwrap();
        }
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("ca.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(matches!(
            Pki::init(dir.path(), &["127.0.0.1".into()]),
            Err(PkiError::Exists { .. })
        ));
        assert!(!format!("{aurora:?}").contains("PRIVATE KEY"));
    }
}
