//! The disk watch without IO: which folders to watch (`targets`), the
//! events it folds (`events`) and its counters (`counters`).
pub mod counters;
pub mod events;
pub mod targets;
