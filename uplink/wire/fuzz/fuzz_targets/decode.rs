//! Any bytes through the thumbnail decoder and topic parser: never a panic,
//! and whatever decodes re-encodes to a payload that decodes the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seaframe_wire::{Thumb, Topic};

fuzz_target!(|data: &[u8]| {
    if let Ok(thumb) = Thumb::decode(data) {
        let again = thumb.encode().expect("a decoded thumbnail encodes");
        assert_eq!(Thumb::decode(&again).expect("re-encoded decodes"), thumb);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Topic::parse(text);
    }
});
