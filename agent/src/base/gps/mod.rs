//! Position and time from the ship's GPS: the IO-free stream framer
//! (`framer`), NMEA parser (`nmea`) and epoch assembler (`fix`), the timeline that tags frames
//! (`timeline`), the shared state (`state`), the recorder of the track into
//! the index (`recorder`), and the reader task with its
//! sources (`reader`: serial, TCP, UDP, gpsd; `replay`; `signalk`), all feeding lines
//! through `feed`.

pub mod feed;
pub mod fix;
pub mod framer;
pub mod nmea;
pub mod state;
pub mod timeline;
