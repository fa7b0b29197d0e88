//! The hand-off between capture tasks and the stream producer: a bounded
//! queue that drops its *oldest* frame when full, so that fresh frames win
//! while Redis is slow or away. Every drop is counted on its camera.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::base::frame::Frame;
use crate::base::metrics::Metrics;

/// Cheap to clone; all clones share one queue.
#[derive(Debug, Clone)]
pub struct Handoff {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    frames: Mutex<VecDeque<Frame>>,
    capacity: usize,
    ready: Notify,
    metrics: Arc<Metrics>,
}

impl Handoff {
    /// A hand-off holding at most `capacity` frames (at least 1).
    pub fn new(capacity: usize, metrics: Arc<Metrics>) -> Self {
        Self {
            inner: Arc::new(Inner {
                frames: Mutex::new(VecDeque::with_capacity(capacity.max(1))),
                capacity: capacity.max(1),
                ready: Notify::new(),
                metrics,
            }),
        }
    }

    /// Queues `frame`, dropping (and counting) the oldest one when full.
    /// Never blocks the capture task.
    pub fn push(&self, frame: Frame) {
        let dropped = {
            let mut q = self.inner.frames.lock().expect("handoff lock poisoned");
            let dropped = if q.len() >= self.inner.capacity {
                q.pop_front()
            } else {
                None
            };
            q.push_back(frame);
            self.inner
                .metrics
                .handoff_len
                .store(q.len() as u64, Ordering::Relaxed);
            dropped
        };
        if let Some(old) = dropped {
            self.inner
                .metrics
                .camera(&old.camera)
                .dropped
                .fetch_add(1, Ordering::Relaxed);
        }
        self.inner.ready.notify_one();
    }

    /// Puts frames that could not be sent back at the front, in order, so
    /// that an error never loses them (the oldest may be dropped, counted).
    pub fn unpop(&self, frames: Vec<Frame>) {
        let mut dropped = Vec::new();
        {
            let mut q = self.inner.frames.lock().expect("handoff lock poisoned");
            for frame in frames.into_iter().rev() {
                if q.len() >= self.inner.capacity {
                    dropped.push(frame);
                } else {
                    q.push_front(frame);
                }
            }
            self.inner
                .metrics
                .handoff_len
                .store(q.len() as u64, Ordering::Relaxed);
        }
        for old in dropped {
            self.inner
                .metrics
                .camera(&old.camera)
                .dropped
                .fetch_add(1, Ordering::Relaxed);
        }
        self.inner.ready.notify_one();
    }

    /// Waits until at least one frame is queued, then takes up to `max`.
    pub async fn pop_batch(&self, max: usize) -> Vec<Frame> {
        loop {
            let notified = self.inner.ready.notified();
            {
                let mut q = self.inner.frames.lock().expect("handoff lock poisoned");
                if !q.is_empty() {
                    let n = q.len().min(max.max(1));
                    let batch: Vec<Frame> = q.drain(..n).collect();
                    self.inner
                        .metrics
                        .handoff_len
                        .store(q.len() as u64, Ordering::Relaxed);
                    return batch;
                }
            }
            notified.await;
        }
    }

    /// Takes everything queued now, without waiting (for shutdown).
    pub fn drain(&self) -> Vec<Frame> {
        let mut q = self.inner.frames.lock().expect("handoff lock poisoned");
        let all = q.drain(..).collect();
        self.inner.metrics.handoff_len.store(0, Ordering::Relaxed);
        all
    }

    pub fn len(&self) -> usize {
        self.inner
            .frames
            .lock()
            .expect("handoff lock poisoned")
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use seaframe_wire::CameraId;
    use seaframe_wire::timestamp::Timestamp;

    fn frame(seq: u64) -> Frame {
        Frame::new(
            CameraId::parse("a").unwrap(),
            seq,
            Timestamp::from_unix_millis(seq as i64),
            crate::base::clock::ClockSource::System,
            1,
            1,
            Bytes::new(),
        )
    }

    #[tokio::test]
    async fn full_handoff_drops_the_oldest_and_counts_it() {
        let metrics = Arc::new(Metrics::default());
        let h = Handoff::new(3, Arc::clone(&metrics));
        for seq in 0..5 {
            h.push(frame(seq));
        }
        let seqs: Vec<u64> = h.pop_batch(10).await.iter().map(|f| f.seq).collect();
        assert_eq!(seqs, [2, 3, 4]);
        let id = CameraId::parse("a").unwrap();
        assert_eq!(metrics.camera(&id).dropped.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn unpop_restores_order() {
        let h = Handoff::new(10, Arc::new(Metrics::default()));
        h.push(frame(3));
        h.unpop(vec![frame(1), frame(2)]);
        let seqs: Vec<u64> = h.pop_batch(10).await.iter().map(|f| f.seq).collect();
        assert_eq!(seqs, [1, 2, 3]);
    }
}
