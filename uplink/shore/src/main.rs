//! `seaframe-shore`: tracing → config → runtime → [`seaframe_shore::app::run`].
//! The first SIGTERM/SIGINT stops the shore in order; a second exits at once.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use seaframe_shore::config::Config;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Parser)]
#[command(
    version,
    about = "seaframe shore service: fleet thumbnails over MQTT → index → HTTP"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the service.
    Serve {
        #[arg(long)]
        config: PathBuf,
    },
    /// Check a config file and print every problem.
    CheckConfig {
        #[arg(long)]
        config: PathBuf,
    },
    /// Print the example config (every key with its default).
    ExampleConfig,
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::ExampleConfig => {
            print!("{}", seaframe_shore::config::EXAMPLE);
            Ok(())
        }
        Command::CheckConfig { config } => {
            let cfg = Config::load(&config)?;
            let problems = seaframe_shore::tls::check_files(&cfg.mqtt);
            if !problems.is_empty() {
                for p in &problems {
                    eprintln!("{}: {p}", config.display());
                }
                anyhow::bail!(
                    "{}: {} problem(s) with files",
                    config.display(),
                    problems.len()
                );
            }
            println!("{}: ok", config.display());
            Ok(())
        }
        Command::Serve { config } => {
            let cfg = Config::load(&config)?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .context("building the runtime")?;
            runtime.block_on(serve(cfg))
        }
    }
}

async fn serve(cfg: Config) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(cfg.api.listen)
        .await
        .with_context(|| format!("listening on {}", cfg.api.listen))?;
    let shutdown = CancellationToken::new();
    let signals = shutdown.clone();
    let watcher = async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        tracing::info!("stopping (again to exit at once)");
        signals.cancel();
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        tracing::warn!("second signal: exiting now");
        std::process::exit(130);
        #[allow(unreachable_code)]
        Ok::<(), std::io::Error>(())
    };
    tokio::select! {
        r = seaframe_shore::app::run(cfg, listener, shutdown.clone()) => r,
        r = watcher => r.context("installing signal handlers"),
    }
}
