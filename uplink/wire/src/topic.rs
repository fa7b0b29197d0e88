//! MQTT topics under `seaframe/v1/<vessel>/`: built only from validated
//! names ([`VesselName`], [`CameraId`]), and parsed back into the same
//! types, so that a topic never carries a level the other end cannot trust.

use std::fmt;
use std::str::FromStr;

use crate::name::{CameraId, NameError, VesselName};

/// The first two levels of every seaframe topic.
pub const PREFIX: &str = "seaframe/v1";

/// One seaframe topic.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Ship → shore, QoS 1: one thumbnail in the binary envelope.
    Thumb {
        vessel: VesselName,
        camera: CameraId,
    },
    /// Ship → shore, retained, QoS 1; the last will says `offline`.
    Status { vessel: VesselName },
    /// Ship → shore: the ship's track.
    Position { vessel: VesselName },
    /// Shore → ship, retained: the desired configuration with its version.
    Config { vessel: VesselName },
    /// Ship → shore: whether a pushed configuration was applied.
    ConfigAck { vessel: VesselName },
}

/// Why a topic string is not a seaframe topic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    #[error("topic {0:?} does not start with {PREFIX}/")]
    Foreign(String),
    #[error("topic {topic:?}: {field} {source}")]
    BadName {
        topic: String,
        field: &'static str,
        source: NameError,
    },
    #[error("topic {0:?} names no known message")]
    Unknown(String),
}

impl Topic {
    pub fn vessel(&self) -> &VesselName {
        match self {
            Self::Thumb { vessel, .. }
            | Self::Status { vessel }
            | Self::Position { vessel }
            | Self::Config { vessel }
            | Self::ConfigAck { vessel } => vessel,
        }
    }

    /// Reads a topic as received from the broker.
    pub fn parse(topic: &str) -> Result<Self, TopicError> {
        let rest = topic
            .strip_prefix(PREFIX)
            .and_then(|r| r.strip_prefix('/'))
            .ok_or_else(|| TopicError::Foreign(topic.to_owned()))?;
        let levels: Vec<&str> = rest.split('/').collect();
        let (vessel_level, tail) = levels
            .split_first()
            .ok_or_else(|| TopicError::Unknown(topic.to_owned()))?;
        let vessel = level::<VesselName>(topic, "vessel", vessel_level)?;
        match tail {
            ["thumb", camera] => Ok(Self::Thumb {
                vessel,
                camera: level(topic, "camera", camera)?,
            }),
            ["status"] => Ok(Self::Status { vessel }),
            ["position"] => Ok(Self::Position { vessel }),
            ["config"] => Ok(Self::Config { vessel }),
            ["config", "ack"] => Ok(Self::ConfigAck { vessel }),
            _ => Err(TopicError::Unknown(topic.to_owned())),
        }
    }
}

/// One topic level read as a validated name.
fn level<T: FromStr<Err = NameError>>(
    topic: &str,
    field: &'static str,
    text: &str,
) -> Result<T, TopicError> {
    text.parse().map_err(|source| TopicError::BadName {
        topic: topic.to_owned(),
        field,
        source,
    })
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Thumb { vessel, camera } => write!(f, "{PREFIX}/{vessel}/thumb/{camera}"),
            Self::Status { vessel } => write!(f, "{PREFIX}/{vessel}/status"),
            Self::Position { vessel } => write!(f, "{PREFIX}/{vessel}/position"),
            Self::Config { vessel } => write!(f, "{PREFIX}/{vessel}/config"),
            Self::ConfigAck { vessel } => write!(f, "{PREFIX}/{vessel}/config/ack"),
        }
    }
}

/// The subscription filters a shore instance uses: every vessel's ship →
/// shore messages, as an MQTT shared subscription in `group` (several
/// instances with the same group split the load).
pub fn shore_filters(group: &str) -> [String; 4] {
    [
        format!("$share/{group}/{PREFIX}/+/thumb/+"),
        format!("$share/{group}/{PREFIX}/+/status"),
        format!("$share/{group}/{PREFIX}/+/position"),
        format!("$share/{group}/{PREFIX}/+/config/ack"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v(s: &str) -> VesselName {
        VesselName::parse(s).unwrap()
    }

    #[test]
    fn builds_and_parses_every_topic() {
        let vessel = v("aurora-7");
        let camera = CameraId::parse("mast").unwrap();
        let cases = [
            (
                Topic::Thumb {
                    vessel: vessel.clone(),
                    camera,
                },
                "seaframe/v1/aurora-7/thumb/mast",
            ),
            (
                Topic::Status {
                    vessel: vessel.clone(),
                },
                "seaframe/v1/aurora-7/status",
            ),
            (
                Topic::Position {
                    vessel: vessel.clone(),
                },
                "seaframe/v1/aurora-7/position",
            ),
            (
                Topic::Config {
                    vessel: vessel.clone(),
                },
                "seaframe/v1/aurora-7/config",
            ),
            (
                Topic::ConfigAck { vessel },
                "seaframe/v1/aurora-7/config/ack",
            ),
        ];
        for (topic, text) in cases {
            assert_eq!(topic.to_string(), text);
            assert_eq!(Topic::parse(text).unwrap(), topic);
        }
    }

    #[test]
    fn refuses_what_is_not_ours() {
        assert!(matches!(
            Topic::parse("other/v1/a/status"),
            Err(TopicError::Foreign(_))
        ));
        assert!(matches!(
            Topic::parse("seaframe/v2/a/status"),
            Err(TopicError::Foreign(_))
        ));
        assert!(matches!(
            Topic::parse("seaframe/v1/a/thumb"),
            Err(TopicError::Unknown(_))
        ));
        assert!(matches!(
            Topic::parse("seaframe/v1/a/thumb/b/c"),
            Err(TopicError::Unknown(_))
        ));
        assert!(matches!(
            Topic::parse("seaframe/v1/../status"),
            Err(TopicError::BadName {
                field: "vessel",
                ..
            })
        ));
        assert!(matches!(
            Topic::parse("seaframe/v1/a/thumb/+"),
            Err(TopicError::BadName {
                field: "camera",
                ..
            })
        ));
        assert!(matches!(
            Topic::parse("seaframe/v1"),
            Err(TopicError::Foreign(_))
        ));
    }

    #[test]
    fn shore_filters_are_shared_subscriptions() {
        for f in shore_filters("shore") {
            assert!(f.starts_with("$share/shore/seaframe/v1/+/"), "{f}");
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_round_trips(s in "[a-z0-9/+#.-]{0,60}") {
            if let Ok(t) = Topic::parse(&s) {
                prop_assert_eq!(t.to_string(), s);
            }
        }
    }
}
