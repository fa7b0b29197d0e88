//! Where the test data checked in with the workspace is: the GPSD NMEA
//! captures in `tests/data/nmea/` (see the README there). Paths only; the
//! files are never written.

use std::path::PathBuf;

/// `tests/data/nmea/` of this checkout.
pub fn nmea_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/nmea")
}

/// The capture `name` (e.g. `"hemi.log"`) in [`nmea_dir`]; panics, naming
/// it, when the checkout does not have it.
pub fn nmea_log(name: &str) -> PathBuf {
    let path = nmea_dir().join(name);
    assert!(
        path.is_file(),
        "{} is not in the checkout (tests/data/nmea/)",
        path.display()
    );
    path
}
