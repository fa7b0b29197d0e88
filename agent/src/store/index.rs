//! STUB (helper C replaces): the SQLite index.
use std::path::{Path, PathBuf};

use seaframe_wire::CameraId;

use super::{FramePage, FrameQuery, FrameRow, StoreError};
use crate::frame::Frame;

#[derive(Debug)]
pub struct Index {
    path: PathBuf,
}

impl Index {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self { path: path.to_owned() })
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn insert_batch(&self, _frames: &[(&Frame, u64)]) -> Result<(), StoreError> {
        todo!()
    }
    pub fn query(&self, _q: &FrameQuery) -> Result<FramePage, StoreError> {
        todo!()
    }
    pub fn frame(&self, _id: i64) -> Result<Option<FrameRow>, StoreError> {
        todo!()
    }
    pub fn max_seq(&self, _camera: &CameraId) -> Result<Option<u64>, StoreError> {
        todo!()
    }
    pub fn count_by_camera(&self) -> Result<Vec<(CameraId, u64)>, StoreError> {
        todo!()
    }
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        todo!()
    }
}
