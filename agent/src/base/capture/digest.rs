//! HTTP Digest access authentication, client side and IO-free: reading
//! `WWW-Authenticate` challenges (RFC 7235 syntax) and answering a Digest
//! one (RFC 7616: qop=auth, MD5 / SHA-256 / SHA-512-256 and their `-sess`
//! variants, nonce count, cnonce, opaque; RFC 2069's answer when the
//! challenge names no qop). Which challenge to answer, and when, is
//! `http_auth`'s business; this file never sees a socket and never logs.
//!
//! Our own code on RustCrypto's hashes rather than a Digest crate: the one
//! well-kept client (`http-auth`) is on an older RustCrypto generation than
//! the workspace's, which would put two copies of every hash in the binary
//! for forty lines of arithmetic.

use std::fmt::Write as _;

use md5::Md5;
use sha2::{Digest as _, Sha256, Sha512_256};

/// One challenge of a `WWW-Authenticate` header: its scheme and its
/// parameters (names lowercased, values unquoted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    params: Vec<(String, String)>,
}

impl Challenge {
    /// The value of parameter `name` (lowercase).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn is(&self, scheme: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(scheme)
    }
}

/// A reader of RFC 7235 challenge lists.
struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        if hit {
            self.i += 1;
        }
        hit
    }

    /// An RFC 7230 token.
    fn token(&mut self) -> Option<String> {
        let start = self.i;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        {
            self.i += 1;
        }
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    /// A quoted string, its `\` escapes undone; an unterminated one runs to
    /// the end.
    fn quoted(&mut self) -> String {
        let mut out = Vec::new();
        self.i += 1; // the opening quote
        while let Some(b) = self.peek() {
            self.i += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    if let Some(next) = self.peek() {
                        out.push(next);
                        self.i += 1;
                    }
                }
                b => out.push(b),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// Every challenge in one `WWW-Authenticate` value, in order. Lenient: what
/// cannot be read (a token68, stray bytes) is skipped, never an error.
pub fn parse_challenges(header: &str) -> Vec<Challenge> {
    let mut c = Cursor {
        s: header.as_bytes(),
        i: 0,
    };
    let mut out = Vec::new();
    while c.peek().is_some() {
        if matches!(c.peek(), Some(b' ' | b'\t' | b',')) {
            c.i += 1;
            continue;
        }
        let Some(scheme) = c.token() else {
            c.i += 1;
            continue;
        };
        let mut params = Vec::new();
        loop {
            c.skip_ws();
            let before = c.i;
            let Some(name) = c.token() else { break };
            c.skip_ws();
            if !c.eat(b'=') {
                // The scheme of the next challenge (or a token68).
                c.i = before;
                break;
            }
            c.skip_ws();
            let value = if c.peek() == Some(b'"') {
                c.quoted()
            } else {
                c.token().unwrap_or_default()
            };
            params.push((name.to_ascii_lowercase(), value));
            c.skip_ws();
            if !c.eat(b',') {
                break;
            }
        }
        out.push(Challenge { scheme, params });
    }
    out
}

/// The hash a Digest challenge asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Sha256,
    Sha512_256,
}

impl Algorithm {
    fn hex(self, data: &str) -> String {
        let bytes: Vec<u8> = match self {
            Self::Md5 => Md5::digest(data.as_bytes()).to_vec(),
            Self::Sha256 => Sha256::digest(data.as_bytes()).to_vec(),
            Self::Sha512_256 => Sha512_256::digest(data.as_bytes()).to_vec(),
        };
        let mut out = String::with_capacity(bytes.len() * 2);
        for b in bytes {
            let _ = write!(out, "{b:02x}");
        }
        out
    }

    fn name(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Sha256 => "SHA-256",
            Self::Sha512_256 => "SHA-512-256",
        }
    }
}

/// A Digest challenge that can be answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestChallenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    pub algorithm: Algorithm,
    /// `-sess`: H(A1) is keyed by the nonce and cnonce too.
    pub session: bool,
    /// `qop=auth` offered; otherwise RFC 2069's answer (no nc, no cnonce).
    pub qop_auth: bool,
    /// The server took our last answer's nonce as expired, not wrong.
    pub stale: bool,
}

impl DigestChallenge {
    /// The Digest challenge in `c`, or why it cannot be answered.
    pub fn from_challenge(c: &Challenge) -> Result<Self, String> {
        if !c.is("Digest") {
            return Err(format!("a {} challenge, not Digest", c.scheme));
        }
        let realm = c.param("realm").ok_or("no realm")?.to_owned();
        let nonce = c.param("nonce").ok_or("no nonce")?.to_owned();
        let named = c.param("algorithm").unwrap_or("MD5");
        let upper = named.to_ascii_uppercase();
        let (base, session) = match upper.strip_suffix("-SESS") {
            Some(base) => (base, true),
            None => (upper.as_str(), false),
        };
        let algorithm = match base {
            "MD5" => Algorithm::Md5,
            "SHA-256" => Algorithm::Sha256,
            "SHA-512-256" => Algorithm::Sha512_256,
            _ => return Err(format!("algorithm {named} is not supported")),
        };
        let qop_auth = match c.param("qop") {
            None => false,
            Some(list)
                if list
                    .split(',')
                    .any(|q| q.trim().eq_ignore_ascii_case("auth")) =>
            {
                true
            }
            Some(list) => return Err(format!("qop {list:?} offers no \"auth\"")),
        };
        if c.param("userhash")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            return Err("userhash is not supported".to_owned());
        }
        Ok(Self {
            realm,
            nonce,
            opaque: c.param("opaque").map(str::to_owned),
            algorithm,
            session,
            qop_auth,
            stale: c
                .param("stale")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
        })
    }

    /// `MD5`, `SHA-256-sess`, …: as the `algorithm` parameter has it.
    pub fn algorithm_name(&self) -> String {
        let sess = if self.session { "-sess" } else { "" };
        format!("{}{sess}", self.algorithm.name())
    }
}

/// `s` as a quoted string.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Answers one nonce: counts the requests made with it (`nc`) and keeps one
/// cnonce for all of them.
#[derive(Debug, Clone)]
pub struct DigestSession {
    challenge: DigestChallenge,
    cnonce: String,
    nc: u32,
}

impl DigestSession {
    /// `cnonce`: a fresh random string of the client's.
    pub fn new(challenge: DigestChallenge, cnonce: String) -> Self {
        Self {
            challenge,
            cnonce,
            nc: 0,
        }
    }

    /// How many answers this nonce has given.
    pub fn answers(&self) -> u32 {
        self.nc
    }

    /// The `Authorization` value for the next request (`uri`: its
    /// request-target, path and query); counts it.
    pub fn authorize(&mut self, user: &str, password: &str, method: &str, uri: &str) -> String {
        self.nc = self.nc.wrapping_add(1);
        let ch = &self.challenge;
        let h = |s: &str| ch.algorithm.hex(s);
        let mut ha1 = h(&format!("{user}:{}:{password}", ch.realm));
        if ch.session {
            ha1 = h(&format!("{ha1}:{}:{}", ch.nonce, self.cnonce));
        }
        let ha2 = h(&format!("{method}:{uri}"));
        let nc = format!("{:08x}", self.nc);
        let response = if ch.qop_auth {
            h(&format!(
                "{ha1}:{}:{nc}:{}:auth:{ha2}",
                ch.nonce, self.cnonce
            ))
        } else {
            h(&format!("{ha1}:{}:{ha2}", ch.nonce))
        };
        let mut out = format!(
            "Digest username={}, realm={}, nonce={}, uri={}, algorithm={}, response=\"{response}\"",
            quote(user),
            quote(&ch.realm),
            quote(&ch.nonce),
            quote(uri),
            ch.algorithm_name(),
        );
        if let Some(opaque) = &ch.opaque {
            let _ = write!(out, ", opaque={}", quote(opaque));
        }
        if ch.qop_auth {
            let _ = write!(out, ", qop=auth, nc={nc}, cnonce={}", quote(&self.cnonce));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only(header: &str) -> Challenge {
        let mut all = parse_challenges(header);
        assert_eq!(all.len(), 1, "{all:?}");
        all.remove(0)
    }

    #[test]
    fn reads_challenge_lists() {
        let all = parse_challenges(
            "Newauth realm=\"apps\", type=1, title=\"Login to \\\"apps\\\"\", Basic realm=\"simple\"",
        );
        assert_eq!(all.len(), 2, "{all:?}");
        assert!(all[0].is("newauth"));
        assert_eq!(all[0].param("type"), Some("1"));
        assert_eq!(all[0].param("title"), Some("Login to \"apps\""));
        assert!(all[1].is("Basic"));
        assert_eq!(all[1].param("realm"), Some("simple"));

        let d = only("Digest  REALM = \"cam\" ,nonce=\"a,b\",qop=\"auth,auth-int\", stale=TRUE");
        assert_eq!(d.param("realm"), Some("cam"));
        assert_eq!(d.param("nonce"), Some("a,b"));
        assert_eq!(d.param("qop"), Some("auth,auth-int"));
        assert_eq!(d.param("stale"), Some("TRUE"));

        // A token68 and junk are skipped, not fatal.
        let odd = parse_challenges("Negotiate abc==, Digest realm=\"x\", nonce=\"y");
        assert!(
            odd.iter()
                .any(|c| c.is("Digest") && c.param("nonce") == Some("y"))
        );
        assert!(parse_challenges("").is_empty());
        assert!(parse_challenges(" , ,").is_empty());
    }

    #[test]
    fn understands_what_a_digest_challenge_asks_for() {
        let ch = |s: &str| DigestChallenge::from_challenge(&only(s));
        let d = ch("Digest realm=\"r\", nonce=\"n\", opaque=\"o\", qop=\"auth\", algorithm=SHA-256-sess, stale=true")
            .unwrap();
        assert_eq!(
            (d.algorithm, d.session, d.qop_auth, d.stale),
            (Algorithm::Sha256, true, true, true)
        );
        assert_eq!(d.opaque.as_deref(), Some("o"));
        assert_eq!(d.algorithm_name(), "SHA-256-sess");
        let old = ch("Digest realm=\"r\", nonce=\"n\"").unwrap();
        assert_eq!(
            (old.algorithm, old.qop_auth, old.stale),
            (Algorithm::Md5, false, false)
        );
        assert!(
            ch("Digest realm=\"r\", nonce=\"n\", algorithm=SHA-1")
                .unwrap_err()
                .contains("SHA-1")
        );
        assert!(
            ch("Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"")
                .unwrap_err()
                .contains("auth-int")
        );
        assert!(ch("Digest realm=\"r\"").unwrap_err().contains("nonce"));
        assert!(ch("Basic realm=\"r\"").is_err());
    }

    /// RFC 7616 section 3.9.1: the same request answered with MD5 and SHA-256.
    #[test]
    fn answers_match_rfc_7616() {
        let header = |alg: &str| {
            format!(
                "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm={alg}, \
                 nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
                 opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
            )
        };
        for (alg, response) in [
            ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
            (
                "SHA-256",
                "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
            ),
        ] {
            let ch = DigestChallenge::from_challenge(&only(&header(alg))).unwrap();
            let mut s =
                DigestSession::new(ch, "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ".into());
            let answer = s.authorize("Mufasa", "Circle of Life", "GET", "/dir/index.html");
            let parsed = only(&answer);
            assert_eq!(parsed.param("response"), Some(response), "{alg}: {answer}");
            assert_eq!(parsed.param("nc"), Some("00000001"));
            assert_eq!(parsed.param("qop"), Some("auth"));
            assert_eq!(parsed.param("algorithm"), Some(alg));
            assert_eq!(
                parsed.param("opaque"),
                Some("FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS")
            );
            assert_eq!(parsed.param("uri"), Some("/dir/index.html"));
            assert!(!answer.contains("Circle of Life"));
            let second = s.authorize("Mufasa", "Circle of Life", "GET", "/dir/index.html");
            assert_eq!(only(&second).param("nc"), Some("00000002"));
            assert_ne!(only(&second).param("response"), Some(response));
        }
    }

    /// RFC 2617 section 3.5, and its RFC 2069 form without qop.
    #[test]
    fn answers_match_rfc_2617_and_2069() {
        let ch = DigestChallenge::from_challenge(&only(
            "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", \
             nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        ))
        .unwrap();
        let mut s = DigestSession::new(ch.clone(), "0a4f113b".into());
        let answer = s.authorize("Mufasa", "Circle Of Life", "GET", "/dir/index.html");
        assert_eq!(
            only(&answer).param("response"),
            Some("6629fae49393a05397450978507c4ef1")
        );
        // python3 -c 'import hashlib; h=lambda s: hashlib.md5(s.encode()).hexdigest();
        //   print(h(h("Mufasa:testrealm@host.com:Circle Of Life")+":dcd98b7102dd2f0e8b11d0f600bfb0c093:"+h("GET:/dir/index.html")))'
        let old = DigestChallenge {
            qop_auth: false,
            ..ch.clone()
        };
        let answer = DigestSession::new(old, "0a4f113b".into()).authorize(
            "Mufasa",
            "Circle Of Life",
            "GET",
            "/dir/index.html",
        );
        assert_eq!(
            only(&answer).param("response"),
            Some("670fd8c2df070c60b045671b8b24ff02")
        );
        assert!(only(&answer).param("nc").is_none());
        // MD5-sess: H(A1) = H(H(user:realm:pass):nonce:cnonce).
        // python3 -c 'import hashlib; h=lambda s: hashlib.md5(s.encode()).hexdigest();
        //   n="dcd98b7102dd2f0e8b11d0f600bfb0c093"; a=h(h("Mufasa:testrealm@host.com:Circle Of Life")+":"+n+":0a4f113b");
        //   print(h(a+":"+n+":00000001:0a4f113b:auth:"+h("GET:/dir/index.html")))'
        let sess = DigestChallenge {
            session: true,
            ..ch
        };
        let answer = DigestSession::new(sess, "0a4f113b".into()).authorize(
            "Mufasa",
            "Circle Of Life",
            "GET",
            "/dir/index.html",
        );
        assert_eq!(only(&answer).param("algorithm"), Some("MD5-sess"));
        assert_eq!(
            only(&answer).param("response"),
            Some("8e3825c57e897f5a0dec6c2d4e5059d0")
        );
    }

    #[test]
    fn quotes_are_escaped_in_what_is_sent() {
        let ch =
            DigestChallenge::from_challenge(&only("Digest realm=\"a\\\"b\", nonce=\"n\"")).unwrap();
        let answer = DigestSession::new(ch, "c".into()).authorize("o\"neil", "pw", "GET", "/x?a=1");
        let parsed = only(&answer);
        assert_eq!(parsed.param("username"), Some("o\"neil"));
        assert_eq!(parsed.param("realm"), Some("a\"b"));
        assert_eq!(parsed.param("uri"), Some("/x?a=1"));
    }
}
