//! The feed's fleet-health part: every alert raised or cleared goes out
//! as an `alert` event, `{vessel, camera, kind, since, detail, state:
//! "raised"|"cleared"}` (a vessel's `health` and `alerts` also ride in its
//! `vessel` events, as `GET /vessels` lists them). Like the rest of the
//! feed it compares the index with what it saw last, so a client of any
//! instance sees the alerts whichever instance evaluated them.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::base::alerts::{Alert, AlertKind};
use crate::services::views::{AlertView, FleetHealthView};

/// The feed's `alert` event: the alert as the API shows it, and whether
/// it was `raised` or `cleared`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct AlertEvent {
    #[serde(flatten)]
    pub alert: AlertView,
    pub state: &'static str,
}

/// The alerts the feed saw last, by key.
#[derive(Debug, Default)]
pub(super) struct AlertsSeen(BTreeMap<(String, String, AlertKind), Alert>);

impl AlertsSeen {
    pub(super) fn new(view: &FleetHealthView) -> Self {
        Self(view.alerts().map(|a| (a.key(), a.clone())).collect())
    }

    /// The `alert` events since the last call: raised, then cleared.
    pub(super) fn changes(&mut self, view: &FleetHealthView) -> Vec<AlertEvent> {
        let now = Self::new(view);
        let event = |a: &Alert, state| AlertEvent {
            alert: AlertView::from(a),
            state,
        };
        let mut out: Vec<AlertEvent> = now
            .0
            .iter()
            .filter(|(k, _)| !self.0.contains_key(*k))
            .map(|(_, a)| event(a, "raised"))
            .collect();
        out.extend(
            self.0
                .iter()
                .filter(|(k, _)| !now.0.contains_key(*k))
                .map(|(_, a)| event(a, "cleared")),
        );
        *self = now;
        out
    }
}
