//! The config the agent runs on, as people see it (`check-config`,
//! `GET /api/v1/config`): every key with its value, secrets redacted, and
//! where it came from; what is kept of pushes (the overlay in effect, the
//! last good one, whether a link change is on trial) and their history;
//! and anything set aside at start. Shared between the config task, which
//! replaces it after every push, and the API, which reads it.

use std::sync::{Arc, RwLock};

use serde_json::{Value, json};

use crate::adapters::config::pushed::Pushed;
use crate::base::config::Config;
use crate::base::config::layered::{explain, origins_json};

#[derive(Debug, Clone)]
pub struct InEffect {
    pub config: Config,
    /// The operator's file (the base every overlay is laid over).
    pub file_text: crate::base::config::Secret,
    pub pushed: Pushed,
    /// What start-up set aside, and why.
    pub notes: Vec<String>,
}

pub type SharedInEffect = Arc<RwLock<InEffect>>;

impl InEffect {
    /// The JSON of `GET /api/v1/config`.
    pub fn to_json(&self) -> Value {
        let lines = explain(
            &self.config,
            self.file_text.expose(),
            self.pushed.active.as_ref(),
        );
        json!({
            "config": origins_json(&lines),
            "push": {
                "active_version": self.pushed.active.as_ref().map(|o| o.version),
                "on_trial": self.pushed.on_trial,
                "good_version": self.pushed.good.as_ref().map(|o| o.version),
                "handled_version": self.pushed.handled,
            },
            "history": self.pushed.history.iter().rev().collect::<Vec<_>>(),
            "notes": self.notes,
        })
    }
}
