//! What the store's users share without IO: the dated folder layout of the
//! frames (`layout`) and the store's health as a value (`health`).
pub mod health;
pub mod layout;
