//! A device's user and password (cameras over HTTP, ONVIF), the one type
//! both kinds of client take, and how they come out of a URL. IO-free; the
//! password is never shown (`Debug` hides it).

use std::fmt;

use percent_encoding::percent_decode_str;
use url::Url;

/// A user and password for a device. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"***")
            .finish()
    }
}

/// `url` without its userinfo, and the credentials it held
/// (percent-decoded: a URL carries `p%40ss` for `p@ss`).
pub fn split_credentials(url: &Url) -> (Url, Option<Credentials>) {
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    let user = decode(url.username());
    let password = url.password().map(decode).unwrap_or_default();
    let mut bare = url.clone();
    // Fails only for a URL that cannot have a host, which holds no userinfo.
    let _ = bare.set_username("");
    let _ = bare.set_password(None);
    let creds = (!user.is_empty()).then_some(Credentials { user, password });
    (bare, creds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_leave_the_url_decoded_and_are_never_shown() {
        let url = Url::parse("http://cam%20op:p%40ss%3Aw@127.0.0.1/snap.jpg?ch=1").unwrap();
        let (bare, creds) = split_credentials(&url);
        assert_eq!(bare.as_str(), "http://127.0.0.1/snap.jpg?ch=1");
        let creds = creds.unwrap();
        assert_eq!(
            (creds.user.as_str(), creds.password.as_str()),
            ("cam op", "p@ss:w")
        );
        assert!(!format!("{creds:?}").contains("p@ss"));
        let (_, none) = split_credentials(&Url::parse("http://127.0.0.1/x").unwrap());
        assert_eq!(none, None);
    }
}
