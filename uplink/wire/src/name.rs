//! Validated names: `[a-z0-9-]`, 1..=32 characters, not starting or ending
//! with `-`. They are safe as one path component and as one MQTT topic level,
//! which is why paths and topics are only ever built from these types.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

/// The longest name accepted, in bytes (all characters are ASCII).
pub const MAX_NAME_LEN: usize = 32;

/// Why a string is not a valid name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("must not be empty")]
    Empty,
    #[error("is {len} characters long; at most {MAX_NAME_LEN} are allowed")]
    TooLong { len: usize },
    #[error("contains {found:?}; only a-z, 0-9 and '-' are allowed")]
    BadChar { found: char },
    #[error("must not start or end with '-'")]
    EdgeDash,
}

fn validate(s: &str) -> Result<(), NameError> {
    if s.is_empty() {
        return Err(NameError::Empty);
    }
    if let Some(found) = s
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(NameError::BadChar { found });
    }
    if s.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong { len: s.len() });
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Err(NameError::EdgeDash);
    }
    Ok(())
}

macro_rules! name_type {
    ($(#[$doc:meta])* $ty:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $ty(String);

        impl $ty {
            /// Validates `s` and wraps it.
            pub fn parse(s: &str) -> Result<Self, NameError> {
                validate(s)?;
                Ok(Self(s.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $ty {
            type Err = NameError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

name_type!(
    /// A vessel's name: the MQTT prefix `seaframe/v1/<vessel>/`.
    VesselName
);
name_type!(
    /// A camera's id: a folder under `frames/` and an MQTT topic level.
    CameraId
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_good_names() {
        for s in ["a", "bridge", "mast-2", "0", &"x".repeat(32)] {
            assert_eq!(CameraId::parse(s).unwrap().as_str(), s);
        }
    }

    #[test]
    fn rejects_bad_names() {
        assert_eq!(CameraId::parse(""), Err(NameError::Empty));
        assert_eq!(
            CameraId::parse(&"x".repeat(33)),
            Err(NameError::TooLong { len: 33 })
        );
        assert_eq!(
            CameraId::parse("Bridge"),
            Err(NameError::BadChar { found: 'B' })
        );
        assert_eq!(
            CameraId::parse("../etc"),
            Err(NameError::BadChar { found: '.' })
        );
        assert_eq!(
            CameraId::parse("a/b"),
            Err(NameError::BadChar { found: '/' })
        );
        assert_eq!(CameraId::parse("-a"), Err(NameError::EdgeDash));
        assert_eq!(
            VesselName::parse("a+b").unwrap_err(),
            NameError::BadChar { found: '+' }
        );
    }

    proptest! {
        #[test]
        fn a_valid_name_is_one_safe_path_and_topic_level(s in "\\PC{0,40}") {
            if let Ok(name) = CameraId::parse(&s) {
                let n = name.as_str();
                prop_assert!(!n.is_empty() && n.len() <= MAX_NAME_LEN);
                prop_assert!(!n.contains(['/', '\\', '+', '#', '.', '\0']));
            }
        }
    }
}
