//! Any bytes through the stream framer, the NMEA parser and the epoch
//! assembler: never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seaframe_agent::base::gps::fix::Assembler;
use seaframe_agent::base::gps::framer::{Framed, Framer};
use seaframe_agent::base::gps::nmea;

fuzz_target!(|data: &[u8]| {
    let mut assembler = Assembler::default();
    Framer::default().push(data, |framed| {
        if let Framed::Sentence(line) = framed {
            if let Ok(Some(sentence)) = nmea::parse(line) {
                for epoch in assembler.push(&sentence) {
                    let _ = epoch.fix();
                }
            }
        }
    });
    let _ = assembler.finish().map(|e| e.fix());
});
