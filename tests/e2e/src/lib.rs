//! seaframe-e2e holds no code: its tests (in `tests/`) run a ship (the
//! agent, in-process) and a shore (in-process) against a real broker.
