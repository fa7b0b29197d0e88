//! The server side of HTTP Digest (RFC 7616) for the kit's HTTP camera: its
//! own challenge (a nonce of its own, opaque, qop=auth, the chosen
//! algorithm), nonces that go stale after a number of uses, and a real check
//! of every answer (user, realm, uri, opaque, algorithm, a rising nonce
//! count, the response recomputed here). Counts what it saw, so that a test
//! can tell one round trip per frame from two. Written apart from the
//! agent's client on purpose: the two must agree by the RFC, not by code.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::Digest as _;

/// How the camera asks for Digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestOptions {
    /// `MD5`, `MD5-sess`, `SHA-256` or `SHA-256-sess`.
    pub algorithm: String,
    /// A nonce answers this many requests, then is refused as `stale`
    /// (0: never).
    pub nonce_uses: u32,
    /// The 401 to a right answer with a used-up nonce says `stale=true`;
    /// `false`: a bare new challenge, as some cameras send.
    pub says_stale: bool,
}

impl Default for DigestOptions {
    /// MD5, nonces that never go stale: what most cameras do.
    fn default() -> Self {
        Self {
            algorithm: "MD5".into(),
            nonce_uses: 0,
            says_stale: true,
        }
    }
}

/// What the camera's Digest guard has seen, for tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AuthCounts {
    /// Requests let through.
    pub accepted: u64,
    /// 401s to requests without a Digest answer.
    pub challenged: u64,
    /// 401s with `stale=true`: a right answer to an expired nonce.
    pub stale: u64,
    /// 401s to wrong answers (user, password, nonce, uri, count…).
    pub refused: u64,
    /// Requests that carried Basic credentials: a password in clear.
    pub basic: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    accepted: AtomicU64,
    challenged: AtomicU64,
    stale: AtomicU64,
    refused: AtomicU64,
    basic: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> AuthCounts {
        AuthCounts {
            accepted: self.accepted.load(Ordering::Relaxed),
            challenged: self.challenged.load(Ordering::Relaxed),
            stale: self.stale.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            basic: self.basic.load(Ordering::Relaxed),
        }
    }
}

#[derive(Debug)]
struct NonceState {
    uses: u32,
    last_nc: u32,
}

/// The Digest guard of one camera.
#[derive(Debug)]
pub(crate) struct DigestGuard {
    user: String,
    password: String,
    options: DigestOptions,
    realm: String,
    opaque: String,
    nonces: Mutex<(u64, HashMap<String, NonceState>)>,
    pub(crate) counters: std::sync::Arc<Counters>,
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::new();
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The `Authorization` parameters: `name=value` or `name="value"`, split on
/// the commas outside quotes.
fn params(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = text;
    while !rest.trim().is_empty() {
        rest = rest.trim_start_matches([' ', ',']);
        let Some(eq) = rest.find('=') else { break };
        let name = rest[..eq].trim().to_ascii_lowercase();
        rest = rest[eq + 1..].trim_start();
        let value;
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut v = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            v.push(n);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => v.push(c),
                }
            }
            value = v;
            rest = &quoted[end.min(quoted.len())..];
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim().to_owned();
            rest = &rest[end..];
        }
        out.insert(name, value);
    }
    out
}

/// What the guard says of one request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Pass,
    /// Send a 401 with this `WWW-Authenticate` value.
    Challenge(String),
}

impl DigestGuard {
    pub(crate) fn new(user: String, password: String, options: DigestOptions) -> Self {
        Self {
            user,
            password,
            options,
            realm: "seaframe-testkit".into(),
            opaque: "0paque-5eaf4a3e".into(),
            nonces: Mutex::new((0, HashMap::new())),
            counters: Default::default(),
        }
    }

    fn h(&self, s: &str) -> String {
        if self
            .options
            .algorithm
            .to_ascii_uppercase()
            .starts_with("SHA-256")
        {
            hex(&sha2::Sha256::digest(s.as_bytes()))
        } else {
            hex(&md5::Md5::digest(s.as_bytes()))
        }
    }

    fn challenge(&self, stale: bool) -> String {
        let nonce = {
            let mut nonces = self.nonces.lock().unwrap_or_else(|e| e.into_inner());
            nonces.0 += 1;
            let nonce = format!(
                "{:x}{}",
                nonces.0,
                &self.h(&format!("{}:{}", nonces.0, self.opaque))[..16]
            );
            nonces.1.insert(
                nonce.clone(),
                NonceState {
                    uses: 0,
                    last_nc: 0,
                },
            );
            nonce
        };
        format!(
            "Digest realm=\"{}\", qop=\"auth\", algorithm={}, nonce=\"{nonce}\", opaque=\"{}\"{}",
            self.realm,
            self.options.algorithm,
            self.opaque,
            if stale { ", stale=true" } else { "" }
        )
    }

    /// Whether a GET with this `Authorization` for `uri` (path and query)
    /// may go on; counts it.
    pub(crate) fn check(&self, authorization: Option<&str>, uri: &str) -> Verdict {
        let c = &self.counters;
        let Some(answer) = authorization.and_then(|a| a.strip_prefix("Digest ")) else {
            if authorization.is_some_and(|a| a.starts_with("Basic ")) {
                c.basic.fetch_add(1, Ordering::Relaxed);
            }
            c.challenged.fetch_add(1, Ordering::Relaxed);
            return Verdict::Challenge(self.challenge(false));
        };
        match self.judge(&params(answer), uri) {
            Judgement::Right => {
                c.accepted.fetch_add(1, Ordering::Relaxed);
                Verdict::Pass
            }
            Judgement::Stale => {
                c.stale.fetch_add(1, Ordering::Relaxed);
                Verdict::Challenge(self.challenge(self.options.says_stale))
            }
            Judgement::Wrong => {
                c.refused.fetch_add(1, Ordering::Relaxed);
                Verdict::Challenge(self.challenge(false))
            }
        }
    }

    fn judge(&self, p: &HashMap<String, String>, uri: &str) -> Judgement {
        let field = |name: &str| p.get(name).map(String::as_str);
        let algorithm = field("algorithm").unwrap_or("MD5");
        let (Some(nonce), Some(cnonce), Some(nc_text), Some(response)) = (
            field("nonce"),
            field("cnonce"),
            field("nc"),
            field("response"),
        ) else {
            return Judgement::Wrong;
        };
        let Ok(nc) = u32::from_str_radix(nc_text, 16) else {
            return Judgement::Wrong;
        };
        if field("username") != Some(self.user.as_str())
            || field("realm") != Some(self.realm.as_str())
            || field("uri") != Some(uri)
            || field("opaque") != Some(self.opaque.as_str())
            || field("qop") != Some("auth")
            || !algorithm.eq_ignore_ascii_case(&self.options.algorithm)
            || nc_text.len() != 8
        {
            return Judgement::Wrong;
        }
        let mut ha1 = self.h(&format!("{}:{}:{}", self.user, self.realm, self.password));
        if self
            .options
            .algorithm
            .to_ascii_lowercase()
            .ends_with("-sess")
        {
            ha1 = self.h(&format!("{ha1}:{nonce}:{cnonce}"));
        }
        let ha2 = self.h(&format!("GET:{uri}"));
        let expected = self.h(&format!("{ha1}:{nonce}:{nc_text}:{cnonce}:auth:{ha2}"));
        if response != expected {
            return Judgement::Wrong;
        }
        let mut nonces = self.nonces.lock().unwrap_or_else(|e| e.into_inner());
        let Some(state) = nonces.1.get_mut(nonce) else {
            return Judgement::Wrong; // not a nonce of ours
        };
        if nc <= state.last_nc {
            return Judgement::Wrong; // a replay
        }
        if self.options.nonce_uses > 0 && state.uses >= self.options.nonce_uses {
            nonces.1.remove(nonce);
            return Judgement::Stale;
        }
        state.uses += 1;
        state.last_nc = nc;
        Judgement::Right
    }
}

/// How an answer was judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Judgement {
    Right,
    /// Right, but to a nonce that has been used up.
    Stale,
    Wrong,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer of user Mufasa to `challenge` with count `nc`.
    fn answer(challenge: &str, nc: &str, response: &str) -> String {
        let nonce = challenge
            .split("nonce=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        format!(
            "Digest username=\"Mufasa\", realm=\"seaframe-testkit\", uri=\"/snapshot.jpg\", \
             algorithm=MD5, nonce=\"{nonce}\", nc={nc}, cnonce=\"abc\", qop=auth, \
             response=\"{response}\", opaque=\"0paque-5eaf4a3e\""
        )
    }

    #[test]
    fn reads_answers_with_quotes_and_commas() {
        let p = params("username=\"a\\\"b\", uri=\"/x?a=1,2\", nc=00000001, qop=auth");
        assert_eq!(p["username"], "a\"b");
        assert_eq!(p["uri"], "/x?a=1,2");
        assert_eq!(p["nc"], "00000001");
        assert_eq!(p["qop"], "auth");
    }

    #[test]
    fn checks_answers_and_expires_nonces() {
        let guard = DigestGuard::new(
            "Mufasa".into(),
            "Circle of Life".into(),
            DigestOptions {
                algorithm: "MD5".into(),
                nonce_uses: 1,
                says_stale: true,
            },
        );
        let Verdict::Challenge(ch) = guard.check(None, "/snapshot.jpg") else {
            panic!("no answer, no entry");
        };
        let nonce = ch
            .split("nonce=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let h = |s: String| hex(&md5::Md5::digest(s.as_bytes()));
        let ha1 = h("Mufasa:seaframe-testkit:Circle of Life".into());
        let ha2 = h("GET:/snapshot.jpg".into());
        let right = |nc: &str| h(format!("{ha1}:{nonce}:{nc}:abc:auth:{ha2}"));
        let wrong = answer(&ch, "00000001", "0123");
        assert!(
            matches!(guard.check(Some(&wrong), "/snapshot.jpg"), Verdict::Challenge(c) if !c.contains("stale"))
        );
        let good = answer(&ch, "00000001", &right("00000001"));
        assert_eq!(guard.check(Some(&good), "/snapshot.jpg"), Verdict::Pass);
        assert!(matches!(
            guard.check(Some(&good), "/other.jpg"),
            Verdict::Challenge(_)
        ));
        // A replayed count is refused; the next one, right, is stale (used up).
        assert!(
            matches!(guard.check(Some(&good), "/snapshot.jpg"), Verdict::Challenge(c) if !c.contains("stale"))
        );
        let next = answer(&ch, "00000002", &right("00000002"));
        assert!(
            matches!(guard.check(Some(&next), "/snapshot.jpg"), Verdict::Challenge(c) if c.contains("stale=true"))
        );
        assert!(matches!(
            guard.check(Some("Basic YTpi"), "/snapshot.jpg"),
            Verdict::Challenge(_)
        ));
        assert_eq!(
            guard.counters.snapshot(),
            AuthCounts {
                accepted: 1,
                challenged: 2,
                stale: 1,
                refused: 3,
                basic: 1,
            }
        );
    }
}
