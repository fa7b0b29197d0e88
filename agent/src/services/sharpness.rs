//! How sharp a frame is: the variance of the Laplacian of its luma, on a
//! decode at 1/8 to 1/2 scale (at least [`LUMA_WIDTH_PX`] wide). Higher is
//! sharper; values compare frames of one camera, not across cameras.
//!
//! Measured once per frame, by the [`Scorer`]: the storage workers offer it
//! each frame they stored, and on a thread of its own it measures a sample
//! (at most [`SCORED_PER_S`] frames per camera-second, every frame at low
//! frame rates) and writes the score into the index, so that
//! `per-second?pick=sharpest` is a query. A decode costs milliseconds of
//! CPU and a few MB of buffers: one thread keeps both bounded, and a full
//! queue skips the frame rather than slowing storage. Unmeasured frames keep
//! no score and are never picked over a measured one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use seaframe_wire::CameraId;

use crate::adapters::store::Store;
use crate::base::frame::Frame;
use crate::base::picture::{Picture, PictureError};
use seaframe_wire::timestamp::Timestamp;

/// The narrowest luma the Laplacian is taken on.
pub const LUMA_WIDTH_PX: u16 = 160;

/// How many frames per camera-second are measured, at most.
pub const SCORED_PER_S: i64 = 2;
/// Frames waiting to be measured, at most (beyond: skipped).
const QUEUE_FRAMES: usize = 16;

/// The variance of the 4-neighbour Laplacian of `jpeg`'s downscaled luma.
pub fn measure(jpeg: &[u8]) -> Result<f32, PictureError> {
    let picture = Picture::decode_scaled(jpeg, LUMA_WIDTH_PX)?;
    Ok(laplacian_variance(
        &picture.luma(),
        picture.width,
        picture.height,
    ))
}

/// The variance of the Laplacian over the interior pixels of a grey image
/// (0 for an image too small to have an interior).
pub fn laplacian_variance(luma: &[u8], width: usize, height: usize) -> f32 {
    if width < 3 || height < 3 || luma.len() < width * height {
        return 0.0;
    }
    let (mut sum, mut sum_sq, mut n) = (0i64, 0i64, 0i64);
    for y in 1..height - 1 {
        let up = &luma[(y - 1) * width..y * width];
        let row = &luma[y * width..(y + 1) * width];
        let down = &luma[(y + 1) * width..(y + 2) * width];
        for x in 1..width - 1 {
            let l = i64::from(up[x])
                + i64::from(down[x])
                + i64::from(row[x - 1])
                + i64::from(row[x + 1])
                - 4 * i64::from(row[x]);
            sum += l;
            sum_sq += l * l;
            n += 1;
        }
    }
    let mean = sum as f64 / n as f64;
    (sum_sq as f64 / n as f64 - mean * mean) as f32
}

/// Decides which frames are measured: per camera, a frame at least
/// 1/[`SCORED_PER_S`] s after the last measured one. Shared by all workers.
#[derive(Debug, Default)]
pub struct Sampler {
    last_scored_ns: Mutex<HashMap<CameraId, i64>>,
}

impl Sampler {
    /// Whether to measure this frame (and, if so, remember it as measured).
    pub fn take(&self, camera: &CameraId, captured_at: Timestamp) -> bool {
        const GAP_NS: i64 = 1_000_000_000 / SCORED_PER_S;
        let at = captured_at.unix_nanos();
        let mut last = self.last_scored_ns.lock().expect("sampler lock poisoned");
        match last.get_mut(camera) {
            // A frame from before the last measured one (workers run
            // side by side) is measured only when it is a second away.
            Some(prev) if (at - *prev).abs() < GAP_NS => false,
            Some(prev) => {
                *prev = (*prev).max(at);
                true
            }
            None => {
                last.insert(camera.clone(), at);
                true
            }
        }
    }
}

/// One frame to measure.
struct Job {
    camera: CameraId,
    captured_at: Timestamp,
    seq: u64,
    jpeg: Bytes,
}

/// What the measuring thread is sent.
enum Msg {
    Measure(Job),
    /// Measure what is queued, then end.
    Stop,
}

/// Measures sampled frames on its own thread and indexes the scores.
/// [`Scorer::stop`] ends the thread after the frames in its queue and
/// joins it (the pipeline's shutdown, after the workers and before the
/// index is flushed).
#[derive(Debug)]
pub struct Scorer {
    sampler: Sampler,
    jobs: SyncSender<Msg>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Sampled frames skipped because the queue was full.
    pub skipped: AtomicU64,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Job({} {})", self.camera, self.seq)
    }
}

impl Scorer {
    /// Starts the measuring thread, writing into `store`'s index.
    pub fn start(store: Arc<Store>) -> std::io::Result<Arc<Self>> {
        let (jobs, queue) = sync_channel::<Msg>(QUEUE_FRAMES);
        let thread = std::thread::Builder::new()
            .name("sharpness".into())
            .spawn(move || {
                for msg in queue {
                    let Msg::Measure(job) = msg else {
                        return;
                    };
                    let score = match measure(&job.jpeg) {
                        Ok(s) => s,
                        Err(e) => {
                            tracing::debug!(camera = %job.camera, seq = job.seq, "no sharpness: {e}");
                            continue;
                        }
                    };
                    if let Err(e) = store.set_sharpness(&job.camera, job.captured_at, job.seq, score) {
                        tracing::warn!("indexing a sharpness: {e}");
                    }
                }
            })?;
        Ok(Arc::new(Self {
            sampler: Sampler::default(),
            jobs,
            thread: Mutex::new(Some(thread)),
            skipped: AtomicU64::new(0),
        }))
    }

    /// Measures the frames already queued, then ends the thread and waits
    /// for it. Blocking: call from `spawn_blocking`. Frames offered after
    /// are not measured.
    pub fn stop(&self) {
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        let Some(thread) = thread else {
            return; // stopped before
        };
        // Waits for room behind the queued frames; fails only if the thread
        // is gone already (a panic), and then there is nothing to wait for.
        if self.jobs.send(Msg::Stop).is_ok() && thread.join().is_err() {
            tracing::warn!("the sharpness thread panicked");
        }
    }

    /// A frame was stored: measure it if the sampler takes it and the
    /// queue has room. Never blocks.
    pub fn offer(&self, frame: &Frame) {
        if !self.sampler.take(&frame.camera, frame.captured_at) {
            return;
        }
        let job = Job {
            camera: frame.camera.clone(),
            captured_at: frame.captured_at,
            seq: frame.seq,
            jpeg: frame.jpeg.clone(),
        };
        match self.jobs.try_send(Msg::Measure(job)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.skipped.fetch_add(1, Ordering::Relaxed);
            }
            // The thread ended (stopped, or a panic): frames simply go
            // unmeasured.
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(width: usize, height: usize, f: impl Fn(usize, usize) -> u8) -> Vec<u8> {
        (0..height)
            .flat_map(|y| (0..width).map(move |x| (x, y)))
            .map(|(x, y)| f(x, y))
            .collect()
    }

    #[test]
    fn flat_and_linear_images_have_no_laplacian() {
        assert_eq!(laplacian_variance(&image(8, 8, |_, _| 77), 8, 8), 0.0);
        let ramp = image(8, 8, |x, y| (x * 3 + y * 5) as u8);
        assert_eq!(laplacian_variance(&ramp, 8, 8), 0.0);
        assert_eq!(laplacian_variance(&[1, 2], 2, 1), 0.0);
    }

    #[test]
    fn fine_detail_scores_higher_than_coarse() {
        let coarse = image(32, 32, |x, _| if x < 16 { 0 } else { 255 });
        let fine = image(32, 32, |x, y| if (x + y) % 2 == 0 { 0 } else { 255 });
        assert!(laplacian_variance(&fine, 32, 32) > 10.0 * laplacian_variance(&coarse, 32, 32));
    }

    #[test]
    fn a_blurred_jpeg_scores_lower_than_the_sharp_one() {
        use jpeg_encoder::{ColorType, Encoder};
        let encode = |pixels: &[u8]| {
            let mut out = Vec::new();
            Encoder::new(&mut out, 90)
                .encode(pixels, 640, 480, ColorType::Luma)
                .unwrap();
            out
        };
        let sharp = image(
            640,
            480,
            |x, y| if (x / 8 + y / 8) % 2 == 0 { 20 } else { 230 },
        );
        // A 9-pixel horizontal box blur of the same checkerboard.
        let blurred = image(640, 480, |x, y| {
            let sum: u32 = (x.saturating_sub(4)..(x + 5).min(640))
                .map(|xx| u32::from(sharp[y * 640 + xx]))
                .sum();
            (sum / 9) as u8
        });
        let (s, b) = (
            measure(&encode(&sharp)).unwrap(),
            measure(&encode(&blurred)).unwrap(),
        );
        assert!(s > 2.0 * b, "sharp {s} blurred {b}");
    }

    #[test]
    fn samples_at_most_two_frames_per_camera_second() {
        let sampler = Sampler::default();
        let a = CameraId::parse("a").unwrap();
        let b = CameraId::parse("b").unwrap();
        // 30 fps for two seconds on camera a: 4 measured.
        let taken = (0..60)
            .filter(|i| sampler.take(&a, Timestamp::from_unix_nanos(i * 33_333_333)))
            .count();
        assert_eq!(taken, 4);
        // Another camera is sampled on its own.
        assert!(sampler.take(&b, Timestamp::from_unix_nanos(0)));
        // 2 fps: every frame.
        let c = CameraId::parse("c").unwrap();
        assert!((0..10).all(|i| sampler.take(&c, Timestamp::from_unix_nanos(i * 500_000_000))));
    }

    #[test]
    fn stop_measures_what_is_queued_then_joins_the_thread() {
        use crate::adapters::store::FrameQuery;
        use crate::base::clock::ClockSource;
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let mut jpeg = Vec::new();
        jpeg_encoder::Encoder::new(&mut jpeg, 80)
            .encode(
                &image(64, 48, |x, y| ((x * 7 + y * 13) % 256) as u8),
                64,
                48,
                jpeg_encoder::ColorType::Luma,
            )
            .unwrap();
        let camera = CameraId::parse("bow").unwrap();
        // One frame a second: the sampler takes each.
        let frames: Vec<Frame> = (0..6)
            .map(|i| Frame {
                camera: camera.clone(),
                seq: i,
                captured_at: Timestamp::from_unix_millis(1_764_000_000_000 + i as i64 * 1000),
                width: 64,
                height: 48,
                jpeg: Bytes::from(jpeg.clone()),
                clock: ClockSource::System,
                position: None,
                sharpness: None,
            })
            .collect();
        assert!(store.put_batch(&frames).iter().all(Result::is_ok));
        let scorer = Scorer::start(Arc::clone(&store)).unwrap();
        for f in &frames {
            scorer.offer(f);
        }
        scorer.stop();
        let page = store
            .query(&FrameQuery {
                camera: None,
                from: Timestamp::from_unix_millis(0),
                to: Timestamp::from_unix_millis(i64::MAX / 2),
                limit: 100,
                after: None,
            })
            .unwrap();
        assert_eq!(page.frames.len(), 6);
        let skipped = scorer.skipped.load(Ordering::Relaxed) as usize;
        let scored = page.frames.iter().filter(|f| f.sharpness.is_some()).count();
        assert_eq!(
            scored + skipped,
            6,
            "every frame offered is measured or counted"
        );
        assert!(scored > 0);
        // Stopped: a second stop returns at once; later frames go unmeasured.
        scorer.stop();
        scorer.offer(&frames[0]);
    }
}
