//! Any bytes through the JPEG structure check: never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = seaframe_agent::base::jpeg::inspect(data);
});
