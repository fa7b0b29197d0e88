//! Any bytes through the NMEA parser and the epoch assembler: never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seaframe_agent::gps::fix::Assembler;
use seaframe_agent::gps::nmea;

fuzz_target!(|data: &[u8]| {
    let mut assembler = Assembler::default();
    for line in data.split(|&b| b == b'\n') {
        if let Ok(Some(sentence)) = nmea::parse(line) {
            if let Some(epoch) = assembler.push(&sentence) {
                let _ = epoch.fix();
            }
        }
    }
    let _ = assembler.finish().fix();
});
