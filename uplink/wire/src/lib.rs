//! seaframe-wire: what ship and shore must agree on, with no IO and no async
//! runtime: the validated names ([`VesselName`], [`CameraId`]) that every
//! path and topic is built from, the MQTT [`Topic`]s, the binary thumbnail
//! envelope ([`Thumb`]), the JPEG check both ends run ([`jpeg`]) and the JSON
//! messages; and the vocabulary both ends speak in their APIs: instants and
//! the ways people write them ([`timestamp`]), places on the Earth ([`geo`]);
//! and how both ends wait between attempts ([`backoff`]).
//! `docs/wire.md` documents the bytes.

pub mod backoff;
mod envelope;
pub mod geo;
pub mod jpeg;
pub mod message;
mod name;
pub mod overlay;
pub mod timestamp;
mod topic;
pub mod track;

pub use envelope::{
    Clock, DecodeError, EncodeError, MAX_PAYLOAD_BYTES, Thumb, ThumbMeta, ThumbPosition, VERSION,
};
pub use name::{CameraId, NameError, VesselName};
pub use topic::{PREFIX, Topic, TopicError, shore_filters};
