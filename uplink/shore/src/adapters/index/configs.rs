//! What remote configuration asks of the index, behind its own trait
//! ([`ConfigStore`], a supertrait of [`super::Index`]): each vessel's desired
//! overlay by version ([`crate::base::desired`]), and the acks the vessel sent back.

use seaframe_wire::VesselName;
use seaframe_wire::message::ConfigAck;

#[cfg(doc)]
use crate::adapters::index::{ACK_HISTORY_LEN, IndexError};
use crate::adapters::index::{ConfigChange, ConfigState, Fut, ReceivedAck};

pub trait ConfigStore {
    /// Keeps `ack` as the vessel's last and in its history (trimmed to
    /// [`ACK_HISTORY_LEN`]), in one transaction. Idempotent: a repeat of
    /// the newest ack is ignored.
    fn store_ack<'a>(
        &'a self,
        vessel: &'a VesselName,
        ack: &'a ConfigAck,
        received_at_ns: i64,
    ) -> Fut<'a, ()>;
    /// The vessel's newest acks, newest first (at most [`ACK_HISTORY_LEN`]).
    fn ack_history<'a>(&'a self, vessel: &'a VesselName) -> Fut<'a, Vec<ReceivedAck>>;
    /// Stores `desired` (a normalised overlay) whole as the next version
    /// and returns it (1 for the first).
    fn put_config<'a>(
        &'a self,
        vessel: &'a VesselName,
        desired: &'a serde_json::Value,
    ) -> Fut<'a, u64>;
    /// Folds `patch` into the stored overlay ([`crate::base::desired::fold`]) and
    /// stores the result as the next version, reading and writing in one
    /// transaction that holds the vessel's row. [`IndexError::Refused`]
    /// (nothing stored) when the result would be too large.
    fn patch_config<'a>(
        &'a self,
        vessel: &'a VesselName,
        patch: &'a serde_json::Value,
    ) -> Fut<'a, ConfigChange>;
    fn config<'a>(&'a self, vessel: &'a VesselName) -> Fut<'a, Option<ConfigState>>;
    /// Every vessel's config state, by vessel (for the feed's `config` events).
    fn configs(&self) -> Fut<'_, Vec<(VesselName, ConfigState)>>;
}
