//! The vessel's side of the link to shore, its outside things: the MQTT
//! session (`broker`) and the on-disk outbox of thumbnails (`outbox`).
pub mod broker;
pub mod outbox;
