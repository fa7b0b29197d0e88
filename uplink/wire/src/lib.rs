//! seaframe-wire: what ship and shore must agree on, with no IO and no async
//! runtime. Today: the validated names ([`VesselName`], [`CameraId`]) that
//! every path on disk and every MQTT topic is built from. The thumbnail
//! envelope and topic parsing join it with the uplink.

mod name;

pub use name::{CameraId, NameError, VesselName};
