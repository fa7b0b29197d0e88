//! A stage: a group of tasks started together and stopped together, in
//! the order the process supervisor ([`crate::app`]) states.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

/// How long shutdown waits for each stage.
const STAGE_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A group of tasks stopped together. Clones share the tasks and token.
#[derive(Debug, Clone)]
pub struct Stage {
    name: &'static str,
    pub(crate) token: CancellationToken,
    tracker: TaskTracker,
}

impl Stage {
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            token: CancellationToken::new(),
            tracker: TaskTracker::new(),
        }
    }

    /// Spawns a task of this stage in a span; if it fails, `failed` is cancelled.
    pub fn spawn<F>(&self, span: tracing::Span, failed: &CancellationToken, task: F)
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let failed = failed.clone();
        let name = self.name;
        self.tracker.spawn(
            async move {
                if let Err(e) = task.await {
                    tracing::error!(stage = name, "stage failed: {e:#}");
                    failed.cancel();
                }
            }
            .instrument(span),
        );
    }

    pub async fn stop(&self) {
        self.token.cancel();
        self.tracker.close();
        if tokio::time::timeout(STAGE_STOP_TIMEOUT, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                stage = self.name,
                "did not stop within {STAGE_STOP_TIMEOUT:?}"
            );
        }
    }
}
