//! STUB: wiring of the stages (being written by the integrator).
use tokio_util::sync::CancellationToken;

use crate::config::Config;

pub async fn run(_cfg: Config, _shutdown: CancellationToken) -> anyhow::Result<()> {
    anyhow::bail!("the agent is not wired yet")
}
