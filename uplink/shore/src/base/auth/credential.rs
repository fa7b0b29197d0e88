//! Credentials and how they are kept. Nothing secret is stored as it was
//! given:
//! - a password as an Argon2id PHC string (salted, slow on purpose; checked
//!   by the verifier, which compares in constant time);
//! - an API token (`sft_` + 32 random bytes) and a session cookie (32
//!   random bytes) as the hex SHA-256 of the secret: they are high-entropy,
//!   so a fast hash is enough, and a leaked index holds nothing usable;
//! - a session's CSRF token is not stored at all: it is derived from the
//!   session secret ([`csrf_for`]), so only the holder of the cookie (the
//!   page, which reads it from the sign-in answer) can know it.
//!
//! Password hashing and checking are blocking (tens of ms): call them on
//! the blocking pool.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Every API token starts so (secret scanners and people can tell one).
pub const TOKEN_PREFIX: &str = "sft_";
/// The shortest password an account may have.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest (hashing a megabyte is a denial of service, not a password).
pub const MAX_PASSWORD_BYTES: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("the system's random source failed: {0}")]
    Random(getrandom::Error),
    #[error("hashing the password failed: {0}")]
    Hash(String),
}

/// `n` random bytes from the OS, base64url without padding.
fn random(n: usize) -> Result<String, CredentialError> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(CredentialError::Random)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// A new API token (shown once, then only its hash is kept).
pub fn new_token() -> Result<String, CredentialError> {
    Ok(format!("{TOKEN_PREFIX}{}", random(32)?))
}

/// A new session secret (the cookie's value).
pub fn new_session() -> Result<String, CredentialError> {
    random(32)
}

/// A generated password: 18 random bytes, 24 characters.
pub fn new_password() -> Result<String, CredentialError> {
    random(18)
}

/// Whether a password may be set: long enough, not absurdly long.
pub fn check_password(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!(
            "a password needs at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(format!("a password has at most {MAX_PASSWORD_BYTES} bytes"));
    }
    Ok(())
}

/// The PHC string (Argon2id, default parameters, a random salt) of a
/// password. Blocking.
pub fn hash_password(password: &str) -> Result<String, CredentialError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| CredentialError::Hash(e.to_string()))
}

/// Whether `password` is the one `phc` was made from. Blocking; takes the
/// verifier's time whatever the answer.
pub fn verify_password(password: &str, phc: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    match PasswordHash::new(phc) {
        Ok(hash) => Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok(),
        Err(_) => false,
    }
}

/// What a sign-in with an unknown name checks the password against, so
/// that it takes as long as one with a known name (the names of accounts
/// cannot be found by timing). Blocking.
pub fn verify_unknown(password: &str) -> bool {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    if let Some(phc) = DUMMY.get_or_init(|| hash_password("no account has this password").ok()) {
        let _ = verify_password(password, phc);
    }
    false
}

/// How a token or session secret is kept: hex SHA-256.
pub fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 0xf)]));
    }
    out
}

/// The CSRF token of a session: a hash of its secret under its own label,
/// so that it reveals nothing of the cookie.
pub fn csrf_for(session: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"seaframe-shore csrf v1\0");
    h.update(session.as_bytes());
    URL_SAFE_NO_PAD.encode(h.finalize())
}

/// Compares two secrets in a time that depends only on their lengths.
pub fn same(given: &str, expected: &str) -> bool {
    given.as_bytes().ct_eq(expected.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_to_phc_strings_that_verify() {
        let phc = hash_password("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(verify_password("correct horse battery", &phc));
        assert!(!verify_password("correct horse batterz", &phc));
        assert!(!verify_password("x", "not a phc string"));
        assert!(!verify_unknown("anything"));
        // Salted: the same password hashes differently each time.
        assert_ne!(phc, hash_password("correct horse battery").unwrap());
    }

    #[test]
    fn secrets_are_random_and_kept_as_hashes() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == TOKEN_PREFIX.len() + 43);
        assert_ne!(a, b);
        assert_eq!(hash_secret(&a).len(), 64);
        assert_ne!(hash_secret(&a), hash_secret(&b));
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let s = new_session().unwrap();
        assert_ne!(csrf_for(&s), csrf_for(&new_session().unwrap()));
        assert!(!csrf_for(&s).contains(&s));
        assert!(same(&csrf_for(&s), &csrf_for(&s)));
        assert!(!same("abc", "abd") && !same("abc", "abcd"));
        assert_eq!(new_password().unwrap().len(), 24);
    }

    #[test]
    fn password_rules() {
        assert!(check_password("short").is_err());
        assert!(check_password("twelve chars").is_ok());
        assert!(check_password(&"x".repeat(2000)).is_err());
    }
}
