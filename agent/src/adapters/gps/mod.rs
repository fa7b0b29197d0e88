//! Where positions come from: the reader task and its sources (`reader`:
//! serial, TCP, UDP, gpsd), a recorded log (`replay`) and Signal K
//! (`signalk`). They feed `base::gps`.
pub mod reader;
pub mod replay;
pub mod signalk;
