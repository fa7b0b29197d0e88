//! A camera's sequence numbers: increasing and never handed out twice, across
//! any restart. Frames still in the stream at a restart are not in the index,
//! so the index's highest number is not enough: numbers are reserved in the
//! index ([`Store::reserve_seq`]) a block at a time, before any of the block
//! is used, and numbering resumes above the reservation.

use std::sync::Arc;

use seaframe_wire::CameraId;

use crate::adapters::store::{Store, StoreError};

/// Numbers reserved at a time (one small index write per block).
pub const BLOCK: u64 = 1000;

#[derive(Debug)]
pub struct Numbering {
    camera: CameraId,
    next: u64,
    /// Numbers below this are reserved.
    reserved_below: u64,
    /// `None`: nothing kept across restarts (tests that need no store).
    store: Option<Arc<Store>>,
}

impl Numbering {
    /// Resumes `camera`'s numbering from `store` and reserves a block.
    pub async fn resume(camera: CameraId, store: Arc<Store>) -> Result<Self, StoreError> {
        let (s, id) = (Arc::clone(&store), camera.clone());
        let next = tokio::task::spawn_blocking(move || s.next_seq(&id))
            .await
            .map_err(|e| StoreError::IndexWrite {
                message: e.to_string(),
            })??;
        let mut numbering = Self {
            camera,
            next,
            reserved_below: next,
            store: Some(store),
        };
        numbering.reserve().await;
        Ok(numbering)
    }

    /// Numbers from `first`, kept nowhere.
    pub fn starting_at(camera: CameraId, first: u64) -> Self {
        Self {
            camera,
            next: first,
            reserved_below: u64::MAX,
            store: None,
        }
    }

    /// The next number (reserving the next block first when needed).
    pub async fn take(&mut self) -> u64 {
        if self.next >= self.reserved_below {
            self.reserve().await;
        }
        self.next += 1;
        self.next - 1
    }

    /// Reserves up to `next + BLOCK`. A failed reservation (the index
    /// unwritable) is logged and numbering goes on: capture never stops
    /// for it, and the next block is tried again.
    async fn reserve(&mut self) {
        let Some(store) = &self.store else { return };
        let below = self.next + BLOCK;
        let (s, id) = (Arc::clone(store), self.camera.clone());
        match tokio::task::spawn_blocking(move || s.reserve_seq(&id, below)).await {
            Ok(Ok(())) => self.reserved_below = below,
            Ok(Err(e)) => {
                tracing::warn!(camera = %self.camera, "cannot reserve sequence numbers: {e}");
                self.reserved_below = self.next + 1;
            }
            Err(e) => {
                tracing::warn!(camera = %self.camera, "cannot reserve sequence numbers: {e}");
                self.reserved_below = self.next + 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn numbers_resume_above_every_reservation() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let cam: CameraId = "bow".parse().unwrap();
        let mut first = Numbering::resume(cam.clone(), Arc::clone(&store))
            .await
            .unwrap();
        for want in 0..=BLOCK + 5 {
            assert_eq!(first.take().await, want);
        }
        // A restart (nothing indexed): above both blocks reserved so far.
        let mut again = Numbering::resume(cam.clone(), Arc::clone(&store))
            .await
            .unwrap();
        assert_eq!(again.take().await, 2 * BLOCK);
        // Another camera has its own numbers.
        let mut other = Numbering::resume("mast".parse().unwrap(), store)
            .await
            .unwrap();
        assert_eq!(other.take().await, 0);
    }
}
