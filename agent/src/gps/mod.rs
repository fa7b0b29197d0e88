//! Position and time from the ship's GPS: the IO-free NMEA parser
//! (`nmea`), the fix assembler (`fix`), the timeline that tags frames
//! (`timeline`), and the sources that feed them.

pub mod fix;
pub mod nmea;
