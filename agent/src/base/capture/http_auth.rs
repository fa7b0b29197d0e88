//! How an HTTP camera is authenticated, learnt from its own challenges and
//! IO-free: the first request carries no credentials; a 401 says Basic or
//! Digest (Digest preferred when both are offered; Basic when it names no
//! scheme at all), and later requests answer it at once: one round trip per frame, the Digest nonce kept and
//! counted between frames, a `stale` nonce (or one dropped without saying
//! so after it served) replaced without a failure. Once a camera has asked for Digest, its password is never sent
//! in clear (Basic) by this camera's client again.
//!
//! The password lives only in [`Credentials`], whose `Debug` hides it; no
//! message made here holds it.

use crate::base::capture::digest::{DigestChallenge, DigestSession, parse_challenges};
pub use crate::base::credentials::{Credentials, split_credentials};

/// What the next request answers with.
#[derive(Debug)]
enum Answer {
    /// Nothing yet: the camera has not asked.
    Nothing,
    Basic,
    Digest(Box<DigestSession>),
}

/// After a 401: ask again at once, or give up with a reason (no password in it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    Retry,
    Refused(String),
}

/// One camera's authentication state.
#[derive(Debug)]
pub struct HttpAuth {
    creds: Option<Credentials>,
    answer: Answer,
    /// The camera has asked for Digest: never fall back to Basic.
    digest_seen: bool,
}

impl HttpAuth {
    pub fn new(creds: Option<Credentials>) -> Self {
        Self {
            creds,
            answer: Answer::Nothing,
            digest_seen: false,
        }
    }

    /// The `Authorization` value for the next request, if the camera has
    /// asked for one. `uri`: the request-target (path and query).
    pub fn header(&mut self, method: &str, uri: &str) -> Option<String> {
        let creds = self.creds.as_ref()?;
        match &mut self.answer {
            Answer::Nothing => None,
            Answer::Basic => Some(basic(creds)),
            Answer::Digest(session) => {
                Some(session.authorize(&creds.user, &creds.password, method, uri))
            }
        }
    }

    /// The camera answered 401 with these `WWW-Authenticate` values;
    /// `cnonce` makes a fresh client nonce if a new Digest nonce is taken.
    pub fn on_unauthorized(
        &mut self,
        challenges: &[&str],
        cnonce: impl FnOnce() -> Result<String, String>,
    ) -> Next {
        let all: Vec<_> = challenges
            .iter()
            .flat_map(|c| parse_challenges(c))
            .collect();
        let schemes: Vec<&str> = all.iter().map(|c| c.scheme.as_str()).collect();
        let Some(creds) = &self.creds else {
            return Next::Refused(match schemes.is_empty() {
                true => "HTTP 401 and the URL has no user and password".to_owned(),
                false => format!(
                    "HTTP 401: the camera asks for {} authentication and the URL has no user and password",
                    schemes.join("/")
                ),
            });
        };
        let refused = |how: &str| {
            Next::Refused(format!(
                "HTTP 401: the camera refused user {:?} ({how}); check the password",
                creds.user
            ))
        };
        // The first Digest challenge we can answer, in the camera's order.
        let mut digest_problem = None;
        let digest =
            all.iter().filter(|c| c.is("Digest")).find_map(
                |c| match DigestChallenge::from_challenge(c) {
                    Ok(d) => Some(d),
                    Err(why) => {
                        digest_problem = Some(why);
                        None
                    }
                },
            );
        if let Some(challenge) = digest {
            self.digest_seen = true;
            let how = format!("Digest {}", challenge.algorithm_name());
            // Our first answer to a nonce refused, not as stale: wrong
            // credentials. A nonce that has served before and is now refused
            // without `stale` has expired on a camera that does not say so
            // (the new one is answered at once; refused too, it is wrong).
            let refused_answer =
                matches!(&self.answer, Answer::Digest(s) if s.answers() == 1) && !challenge.stale;
            let cnonce = match cnonce() {
                Ok(c) => c,
                Err(e) => return Next::Refused(format!("no client nonce for Digest: {e}")),
            };
            self.answer = Answer::Digest(Box::new(DigestSession::new(challenge, cnonce)));
            return if refused_answer {
                refused(&how)
            } else {
                Next::Retry
            };
        }
        if let Some(why) = digest_problem {
            return Next::Refused(format!(
                "HTTP 401: the camera's Digest challenge cannot be answered: {why}"
            ));
        }
        if all.iter().any(|c| c.is("Basic")) {
            if self.digest_seen {
                return Next::Refused(
                    "HTTP 401: the camera asked for Digest, now for Basic; the password is not sent in clear".to_owned(),
                );
            }
            return match self.answer {
                Answer::Basic => refused("Basic"),
                _ => {
                    self.answer = Answer::Basic;
                    Next::Retry
                }
            };
        }
        if !schemes.is_empty() {
            return Next::Refused(format!(
                "HTTP 401: the camera asks for {} authentication, which is not supported",
                schemes.join("/")
            ));
        }
        // No challenge at all (a camera that skips the header): Basic, as
        // the agent has always sent, unless the camera has asked for Digest.
        match self.answer {
            Answer::Nothing if !self.digest_seen => {
                self.answer = Answer::Basic;
                Next::Retry
            }
            Answer::Basic => refused("Basic, the camera named no scheme"),
            _ => Next::Refused("HTTP 401 without a WWW-Authenticate challenge".to_owned()),
        }
    }
}

fn basic(creds: &Credentials) -> String {
    use base64::Engine as _;
    let token = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", creds.user, creds.password));
    format!("Basic {token}")
}

/// A fresh random client nonce (12 bytes, hex).
pub fn random_cnonce() -> Result<String, String> {
    let mut b = [0u8; 12];
    getrandom::fill(&mut b).map_err(|e| e.to_string())?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::super::digest::Challenge;
    use super::*;

    const DIGEST: &str = "Digest realm=\"cam\", nonce=\"n1\", qop=\"auth\", opaque=\"o\"";

    fn auth() -> HttpAuth {
        HttpAuth::new(Some(Credentials {
            user: "cam op".into(),
            password: "p@ss:w".into(),
        }))
    }

    fn cnonce() -> Result<String, String> {
        Ok("c0ffee".to_owned())
    }

    fn parsed(header: &str) -> Challenge {
        parse_challenges(header).remove(0)
    }

    #[test]
    fn nothing_is_sent_until_the_camera_asks() {
        assert_eq!(auth().header("GET", "/snap.jpg"), None);
    }

    #[test]
    fn debug_never_shows_the_password() {
        let mut a = auth();
        assert_eq!(a.on_unauthorized(&[DIGEST], cnonce), Next::Retry);
        let shown = format!("{a:?}");
        assert!(
            shown.contains("cam op") && !shown.contains("p@ss"),
            "{shown}"
        );
    }

    #[test]
    fn basic_when_the_camera_asks_for_basic_then_refused_once_answered() {
        let mut a = auth();
        assert_eq!(
            a.on_unauthorized(&["Basic realm=\"cam\""], cnonce),
            Next::Retry
        );
        let h = a.header("GET", "/snap.jpg").unwrap();
        assert_eq!(h, "Basic Y2FtIG9wOnBAc3M6dw=="); // "cam op:p@ss:w"
        let Next::Refused(why) = a.on_unauthorized(&["Basic realm=\"cam\""], cnonce) else {
            panic!("wrong credentials are refused");
        };
        assert!(why.contains("refused user \"cam op\" (Basic)"), "{why}");
        assert!(!why.contains("p@ss"));
    }

    #[test]
    fn digest_is_preferred_counted_and_kept_between_requests() {
        let mut a = auth();
        let both = ["Basic realm=\"cam\"", DIGEST];
        assert_eq!(a.on_unauthorized(&both, cnonce), Next::Retry);
        for n in 1..=3 {
            let h = a.header("GET", "/snap.jpg?ch=1").unwrap();
            let p = parsed(&h);
            assert!(p.is("Digest"), "{h}");
            assert_eq!(p.param("nc"), Some(format!("{n:08x}").as_str()));
            assert_eq!(p.param("nonce"), Some("n1"));
            assert_eq!(p.param("cnonce"), Some("c0ffee"));
            assert_eq!(p.param("uri"), Some("/snap.jpg?ch=1"));
            assert!(!h.contains("p@ss"));
        }
    }

    #[test]
    fn a_stale_nonce_is_retried_and_a_refused_answer_is_not() {
        let mut a = auth();
        assert_eq!(a.on_unauthorized(&[DIGEST], cnonce), Next::Retry);
        let _ = a.header("GET", "/x");
        let stale = "Digest realm=\"cam\", nonce=\"n2\", qop=\"auth\", stale=true";
        assert_eq!(a.on_unauthorized(&[stale], cnonce), Next::Retry);
        let h = a.header("GET", "/x").unwrap();
        assert_eq!(parsed(&h).param("nonce"), Some("n2"));
        assert_eq!(parsed(&h).param("nc"), Some("00000001"));
        let Next::Refused(why) = a.on_unauthorized(&[DIGEST], cnonce) else {
            panic!("a refused first answer without stale means wrong credentials");
        };
        assert!(
            why.contains("refused user \"cam op\" (Digest MD5)"),
            "{why}"
        );
        // The next attempt answers the newest nonce.
        let h = a.header("GET", "/x").unwrap();
        assert_eq!(parsed(&h).param("nonce"), Some("n1"));
    }

    #[test]
    fn a_nonce_that_served_and_is_dropped_without_stale_is_replaced() {
        let mut a = auth();
        assert_eq!(a.on_unauthorized(&[DIGEST], cnonce), Next::Retry);
        let _ = a.header("GET", "/x");
        let _ = a.header("GET", "/x");
        let fresh = "Digest realm=\"cam\", nonce=\"n9\", qop=\"auth\"";
        assert_eq!(a.on_unauthorized(&[fresh], cnonce), Next::Retry);
        let h = a.header("GET", "/x").unwrap();
        assert_eq!(parsed(&h).param("nonce"), Some("n9"));
        assert!(matches!(
            a.on_unauthorized(&[fresh], cnonce),
            Next::Refused(_)
        ));
    }

    #[test]
    fn never_basic_after_digest() {
        let mut a = auth();
        assert_eq!(a.on_unauthorized(&[DIGEST], cnonce), Next::Retry);
        let Next::Refused(why) = a.on_unauthorized(&["Basic realm=\"cam\""], cnonce) else {
            panic!("no downgrade");
        };
        assert!(why.contains("not sent in clear"), "{why}");
        assert!(a.header("GET", "/x").unwrap().starts_with("Digest "));
    }

    #[test]
    fn clear_reasons_for_what_cannot_be_answered() {
        let reason = |a: &mut HttpAuth, ch: &[&str]| match a.on_unauthorized(ch, cnonce) {
            Next::Refused(why) => why,
            Next::Retry => panic!("{ch:?} cannot be answered"),
        };
        let mut anonymous = HttpAuth::new(None);
        assert!(
            reason(&mut anonymous, &[DIGEST])
                .contains("asks for Digest authentication and the URL has no user")
        );
        let mut a = auth();
        assert!(
            reason(
                &mut a,
                &["Digest realm=\"r\", nonce=\"n\", algorithm=SHA-1"]
            )
            .contains("SHA-1")
        );
        assert!(
            reason(&mut a, &["Negotiate"])
                .contains("Negotiate authentication, which is not supported")
        );
        let no_random = a.on_unauthorized(&[DIGEST], || Err("no entropy".into()));
        assert!(matches!(no_random, Next::Refused(w) if w.contains("no entropy")));
        assert!(reason(&mut a, &[]).contains("without a WWW-Authenticate"));
    }

    #[test]
    fn a_401_without_a_challenge_gets_basic_once_unless_digest_was_asked() {
        let mut a = auth();
        assert_eq!(a.on_unauthorized(&[], cnonce), Next::Retry);
        assert!(a.header("GET", "/x").unwrap().starts_with("Basic "));
        assert!(
            matches!(a.on_unauthorized(&[], cnonce), Next::Refused(w) if w.contains("refused user"))
        );
    }

    #[test]
    fn random_cnonces_differ() {
        let a = random_cnonce().unwrap();
        assert_eq!(a.len(), 24);
        assert_ne!(a, random_cnonce().unwrap());
    }
}
