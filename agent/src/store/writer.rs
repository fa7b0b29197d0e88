//! STUB (helper C replaces): atomic file writes.
use std::path::Path;

use super::StoreError;
use crate::frame::Frame;

pub fn create_dir_all(_dir: &Path) -> Result<(), StoreError> {
    todo!()
}
pub fn remove_stale_tmp(_dir: &Path) -> Result<(), StoreError> {
    todo!()
}
/// Bytes written per frame.
pub fn write_batch(_frames_dir: &Path, _frames: &[Frame]) -> Vec<Result<u64, StoreError>> {
    todo!()
}
