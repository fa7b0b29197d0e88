//! `seaframe-shore`: tracing → config → runtime → [`seaframe_shore::app::run`].
//! The first SIGTERM/SIGINT stops the shore in order; a second exits at once.
//! `account …` manages the accounts in the index the config names.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use seaframe_shore::adapters::config::Config;
use seaframe_shore::adapters::index::Index;
use seaframe_shore::base::auth::role::Role;
use seaframe_shore::services::auth::accounts;
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
    /// Make the fleet CA and, signed by it, the broker's certificate and the
    /// shore's and the admin's client certificates (docs/deploy.md).
    PkiInit {
        /// The PKI directory (made; existing files are never overwritten).
        #[arg(long)]
        dir: PathBuf,
        /// A name or address vessels reach the broker by (repeat for more).
        #[arg(long = "broker-host", required = true)]
        broker_hosts: Vec<String>,
    },
    /// Enroll a vessel: its certificate, its agent's [uplink] config, and
    /// its role at the broker (publish under its own prefix, read its config).
    Enroll {
        /// The vessel's name (the agent's `vessel`).
        vessel: String,
        /// The PKI directory made by `pki-init`.
        #[arg(long)]
        pki: PathBuf,
        /// The broker as vessels reach it: mqtts://host:port.
        #[arg(long)]
        broker_url: String,
        /// Where to write `<vessel>/` (certificate, key, CA, uplink.toml).
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// Where the files will be on the vessel (paths in the agent config).
        #[arg(long, default_value = "/etc/seaframe/tls")]
        vessel_dir: PathBuf,
        /// Only write the files; do not add the vessel at the broker.
        #[arg(long, conflicts_with = "broker_only")]
        files_only: bool,
        /// Only add the vessel at the broker (its files were written before).
        #[arg(long)]
        broker_only: bool,
    },
    /// Copy a shore's blobs and index to another shore's stores (e.g. from
    /// disk and SQLite to S3 and PostgreSQL). Stop the source shore first;
    /// running it again copies only what is new. Exits non-zero when the counts
    /// differ at the end, naming what.
    Migrate {
        /// The config of the shore to copy from.
        #[arg(long)]
        from: PathBuf,
        /// The config of the shore to copy to.
        #[arg(long)]
        to: PathBuf,
    },
    /// Manage the accounts (kept in the index the config names).
    Account {
        #[command(subcommand)]
        action: AccountCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AccountCommand {
    /// Add an account. Prints a generated password (once), or reads the
    /// password from the first line of stdin with --password-stdin (never
    /// from the command line, where other users could read it).
    Add {
        name: String,
        /// viewer (reads), operator (also pushes configs) or admin (also
        /// manages accounts).
        #[arg(long)]
        role: Role,
        #[arg(long)]
        password_stdin: bool,
        #[arg(long)]
        config: PathBuf,
    },
    /// List the accounts with their roles, API tokens and live sessions.
    List {
        #[arg(long)]
        config: PathBuf,
    },
    /// Remove an account with its API tokens and sessions.
    Remove {
        name: String,
        #[arg(long)]
        config: PathBuf,
    },
    /// Issue a new API token for an account and print it (once).
    Token {
        name: String,
        #[arg(long)]
        config: PathBuf,
    },
}

impl AccountCommand {
    fn config(&self) -> &PathBuf {
        match self {
            Self::Add { config, .. }
            | Self::List { config }
            | Self::Remove { config, .. }
            | Self::Token { config, .. } => config,
        }
    }
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(seaframe_shore::logging::filter())
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::ExampleConfig => {
            print!("{}", seaframe_shore::adapters::config::EXAMPLE);
            Ok(())
        }
        Command::CheckConfig { config } => {
            let cfg = Config::load(&config)?;
            let problems = seaframe_shore::adapters::tls::check_files(&cfg.mqtt);
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
            for w in cfg.warnings() {
                eprintln!("warning: {w}");
            }
            if !cfg.api.listen.ip().is_loopback() {
                small_runtime()?.block_on(warn_without_accounts(&cfg));
            }
            println!("{}: ok", config.display());
            Ok(())
        }
        Command::PkiInit { dir, broker_hosts } => {
            let pki = seaframe_shore::adapters::pki::Pki::init(&dir, &broker_hosts)?;
            println!(
                "{}: ca.pem (every party's CA), ca.key (keep it here), broker.pem/.key, shore.pem/.key ({}), admin.pem/.key ({})",
                pki.dir().display(),
                seaframe_shore::adapters::pki::SHORE_IDENTITY,
                seaframe_shore::adapters::pki::ADMIN_IDENTITY
            );
            Ok(())
        }
        Command::Enroll {
            vessel,
            pki,
            broker_url,
            out,
            vessel_dir,
            files_only,
            broker_only,
        } => {
            let vessel = seaframe_wire::VesselName::parse(&vessel)
                .map_err(|e| anyhow::anyhow!("vessel {vessel:?}: {e}"))?;
            let pki = seaframe_shore::adapters::pki::Pki::open(&pki)?;
            if !broker_only {
                let enrolled = seaframe_shore::services::enroll::write_files(
                    &pki,
                    &vessel,
                    &broker_url,
                    &out,
                    &vessel_dir,
                )?;
                println!(
                    "{vessel}: files in {} — copy them to {} on the vessel; its config:\n\n{}",
                    enrolled.dir.display(),
                    vessel_dir.display(),
                    enrolled.snippet
                );
            }
            if !files_only {
                small_runtime()?
                    .block_on(seaframe_shore::services::enroll::add_to_broker(&pki, &broker_url, &vessel))
                    .context("adding the vessel at the broker (its files are written: retry this step with --broker-only)")?;
                println!(
                    "{vessel}: added at the broker (role {})",
                    seaframe_shore::services::enroll::role_name(&vessel)
                );
            }
            Ok(())
        }
        Command::Migrate { from, to } => {
            let from = Config::load(&from)?;
            let to = Config::load(&to)?;
            seaframe_shore::services::migrate::refuse_same(&from, &to)?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .context("building the runtime")?;
            runtime.block_on(migrate(&from, &to))
        }
        Command::Account { action } => {
            let cfg = Config::load(action.config())?;
            small_runtime()?.block_on(account(&cfg, action))
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

fn small_runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("building the runtime")
}

async fn open_index(cfg: &Config) -> Result<std::sync::Arc<dyn Index>> {
    let url = cfg
        .index_url()
        .map_err(|e| anyhow::anyhow!("index.url: {e}"))?;
    seaframe_shore::adapters::index::open(&url)
        .await
        .context("opening the index")
}

/// `check-config` with a listen address beyond loopback: the shore will
/// not start without an account, so say so now.
async fn warn_without_accounts(cfg: &Config) {
    let listen = cfg.api.listen;
    let count = match open_index(cfg).await {
        Ok(index) => index.count_accounts().await.map_err(anyhow::Error::from),
        Err(e) => Err(e),
    };
    match count {
        Ok(0) => eprintln!(
            "warning: api.listen: {listen} is beyond loopback and the index holds no account: \
             the shore will refuse to start; add one with \
             `seaframe-shore account add <name> --role admin --config <file>`"
        ),
        Ok(_) => {}
        Err(e) => eprintln!(
            "warning: api.listen: {listen} is beyond loopback, and the accounts could not be \
             counted ({e:#}); the shore refuses to start without one"
        ),
    }
}

async fn migrate(from: &Config, to: &Config) -> Result<()> {
    use seaframe_shore::services::migrate::{Side, run};
    let source = Side::open(from, "--from").await?;
    let target = Side::open(to, "--to").await?;
    println!("copying {} → {}", source.blobs, target.blobs);
    let report = run(&source, &target).await?;
    print!("{report}");
    let mismatches = report.mismatches();
    if !mismatches.is_empty() {
        for m in &mismatches {
            eprintln!("differs: {m}");
        }
        anyhow::bail!(
            "{} count(s) differ (was the source shore still running? run migrate again)",
            mismatches.len()
        );
    }
    println!("verified: every count matches");
    Ok(())
}

async fn account(cfg: &Config, action: AccountCommand) -> Result<()> {
    let index = open_index(cfg).await?;
    match action {
        AccountCommand::Add {
            name,
            role,
            password_stdin,
            ..
        } => {
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .read_line(&mut line)
                    .context("reading the password from stdin")?;
                Some(line.trim_end_matches(['\r', '\n']).to_owned())
            } else {
                None
            };
            let generated = accounts::add(&*index, &name, role, password).await?;
            println!("added account {name} ({role})");
            if let Some(p) = generated {
                println!("password (shown once): {p}");
            }
        }
        AccountCommand::List { .. } => {
            println!(
                "{:<32} {:<9} {:>6} {:>8}  created",
                "name", "role", "tokens", "sessions"
            );
            for a in accounts::list(&*index).await? {
                println!(
                    "{:<32} {:<9} {:>6} {:>8}  {}",
                    a.name,
                    a.role,
                    a.tokens,
                    a.sessions,
                    seaframe_shore::base::when::rfc3339_ns(a.created_at_ns)
                );
            }
        }
        AccountCommand::Remove { name, .. } => {
            accounts::remove(&*index, &name).await?;
            println!("removed account {name} with its tokens and sessions");
        }
        AccountCommand::Token { name, .. } => {
            let token = accounts::new_token(&*index, &name).await?;
            eprintln!(
                "a new API token for {name} (shown once; send it as Authorization: Bearer …):"
            );
            println!("{token}");
        }
    }
    Ok(())
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
