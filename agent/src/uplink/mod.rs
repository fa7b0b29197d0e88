//! The uplink: 1-fps thumbnails of stored frames, kept in an on-disk outbox
//! and published to the shore over MQTT when the link allows, with the
//! ship's status and track; configuration pushed from shore comes back the
//! same way.

pub mod outbox;
pub mod thumbnail;
