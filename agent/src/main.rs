//! `seaframe-agent`: the command line. Parses arguments, sets up tracing,
//! loads the config and hands over to `app::run`. Exit codes: 0 success,
//! 1 a runtime failure, 2 a bad config or command line.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use seaframe_agent::adapters::config::files;
use seaframe_agent::adapters::onvif;
use seaframe_agent::adapters::store::Store;
use seaframe_agent::adapters::store::lock::DataDirLock;
use seaframe_agent::adapters::video::{self, Video, VideoRequest};
use seaframe_agent::app;
use seaframe_agent::base::config::Config;
use seaframe_agent::init;
use seaframe_wire::timestamp::Timestamp;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    name = "seaframe-agent",
    version,
    about = "seaframe on-board agent: cameras → disk + index → API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the agent until SIGTERM/SIGINT (a second signal exits at once).
    Run {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Parses and validates a config file and the files it names, with the
    /// overlay pushed from shore kept in its data directory; prints every
    /// problem (exit 2), or the config in effect with where each key came
    /// from (secrets redacted).
    CheckConfig {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Writes an MP4 (H.264) of a camera's frames in a time range.
    Export {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        #[arg(long)]
        camera: String,
        /// RFC 3339, `YYYY/MM/DD HH:MM:SS` (UTC) or Unix ms.
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        /// Each frame for 1/fps s; omitted: real time.
        #[arg(long)]
        fps: Option<u32>,
        #[arg(long, value_name = "FILE.mp4")]
        out: String,
    },
    /// Rebuilds the index from the frames on disk (their paths and EXIF);
    /// refused while an agent runs on the same data directory.
    Reindex {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Sets up a freshly installed board: writes the operator's config
    /// (vessel, the shore's broker, cameras given or found by ONVIF
    /// discovery), checked before it is written.
    Init {
        /// Where to write it.
        #[arg(long, value_name = "FILE", default_value = "/etc/seaframe/agent.toml")]
        config: PathBuf,
        /// The vessel's name: [a-z0-9-], 1..32.
        #[arg(long)]
        vessel: String,
        /// Where frames, index and queue live (default /var/lib/seaframe).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// The shore's broker, e.g. mqtts://<vessel>:<password>@broker:8883.
        #[arg(long, value_name = "URL")]
        mqtt_url: Option<String>,
        /// The CA that signed the broker's certificate (PEM).
        #[arg(long, value_name = "FILE")]
        ca_file: Option<PathBuf>,
        /// The vessel's client certificate and key (PEM), both or neither.
        #[arg(long, value_name = "FILE", requires = "client_key")]
        client_cert: Option<PathBuf>,
        #[arg(long, value_name = "FILE", requires = "client_cert")]
        client_key: Option<PathBuf>,
        /// A camera, as ID=SOURCE (repeatable), e.g. bridge=v4l2:/dev/video0.
        #[arg(long = "camera", value_name = "ID=SOURCE", value_parser = parse_camera)]
        cameras: Vec<(String, String)>,
        /// Also add the ONVIF cameras that answer a discovery probe.
        #[arg(long)]
        discover: bool,
        /// ONVIF user and password for --discover.
        #[arg(long, requires = "password")]
        user: Option<String>,
        #[arg(long, requires = "user")]
        password: Option<String>,
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Finds ONVIF cameras (WS-Discovery) and prints `[[cameras]]` entries
    /// for them (RTSP preferred, snapshot URL as fallback); devices that
    /// fail are listed with the reason. Exit 0 even when none answered.
    Discover {
        /// How long to wait for answers to the probe; each device then gets
        /// as long again for its questions (e.g. 3s, 500ms).
        #[arg(long, default_value = "3s", value_parser = onvif::parse_timeout)]
        timeout: Duration,
        /// ONVIF user (WS-Security digest); put into the printed URLs.
        #[arg(long, requires = "password")]
        user: Option<String>,
        /// Its password: sent only as a digest, printed in the URLs (where
        /// the config wants it), never logged.
        #[arg(long, requires = "user")]
        password: Option<String>,
        /// Also probe this host by unicast (port 3702 unless given).
        #[arg(long = "host", value_name = "HOST[:PORT]")]
        hosts: Vec<onvif::ProbeTarget>,
        /// Ask this device service URL directly, without discovery.
        #[arg(long = "xaddr", value_name = "URL", value_parser = parse_xaddr)]
        xaddrs: Vec<url::Url>,
        /// Do not send the multicast probe (239.255.255.250:3702).
        #[arg(long)]
        no_multicast: bool,
    },
}

fn parse_camera(s: &str) -> Result<(String, String), String> {
    let (id, source) = s
        .split_once('=')
        .ok_or_else(|| "expected ID=SOURCE, e.g. bridge=v4l2:/dev/video0".to_owned())?;
    Ok((id.to_owned(), source.to_owned()))
}

fn parse_xaddr(s: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(s).map_err(|e| format!("{s:?}: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(format!(
            "{s:?}: expected http://host[:port]/onvif/device_service"
        ));
    }
    Ok(url)
}

/// Exit code for a bad config or command line.
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_CONFIG } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal, never into journald.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match cli.command {
        Command::Discover {
            timeout,
            user,
            password,
            hosts,
            xaddrs,
            no_multicast,
        } => {
            let options = onvif::Options {
                multicast: !no_multicast,
                targets: hosts,
                xaddrs,
                timeout,
                credentials: user
                    .zip(password)
                    .map(|(user, password)| onvif::Credentials { user, password }),
            };
            if !options.multicast && options.targets.is_empty() && options.xaddrs.is_empty() {
                eprintln!("--no-multicast needs --host or --xaddr: there is nothing to ask");
                return ExitCode::from(EXIT_CONFIG);
            }
            let found = match app::runtime() {
                Ok(rt) => rt.block_on(onvif::discover(&options)),
                Err(e) => {
                    eprintln!("discover failed: {e:#}");
                    return ExitCode::FAILURE;
                }
            };
            print!(
                "{}",
                found.render(options.credentials.as_ref(), options.timeout)
            );
            ExitCode::SUCCESS
        }
        Command::CheckConfig { config } => check_config(&config),
        Command::Init {
            config,
            vessel,
            data_dir,
            mqtt_url,
            ca_file,
            client_cert,
            client_key,
            cameras,
            discover,
            user,
            password,
            force,
        } => {
            let options = init::InitOptions {
                vessel,
                data_dir,
                mqtt_url,
                ca_file,
                client_cert_file: client_cert,
                client_key_file: client_key,
                cameras,
            };
            let credentials = user
                .zip(password)
                .map(|(user, password)| onvif::Credentials { user, password });
            init(&config, &options, discover.then_some(credentials), force)
        }
        Command::Export {
            config,
            camera,
            from,
            to,
            fps,
            out,
        } => {
            let cfg = match files::load(&config) {
                Ok(cfg) => cfg,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(EXIT_CONFIG);
                }
            };
            let request = (|| {
                let camera = camera
                    .parse()
                    .map_err(|e| format!("--camera {camera:?}: {e}"))?;
                let from = Timestamp::parse_user(&from).map_err(|e| format!("--from: {e}"))?;
                let to = Timestamp::parse_user(&to).map_err(|e| format!("--to: {e}"))?;
                if from >= to {
                    return Err("--from must be before --to".to_owned());
                }
                let out = video::export_path(&out)?;
                Ok((
                    VideoRequest {
                        camera,
                        from,
                        to,
                        fps,
                    },
                    out,
                ))
            })();
            let (request, out) = match request {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(EXIT_CONFIG);
                }
            };
            match export(&cfg, request, &out) {
                Ok(bytes) => {
                    println!("wrote {} ({bytes} bytes)", out.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("export failed: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Reindex { config } => {
            let cfg = match files::load(&config) {
                Ok(cfg) => cfg,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(EXIT_CONFIG);
                }
            };
            let _lock = match DataDirLock::acquire(&cfg.data_dir) {
                Ok(lock) => lock,
                Err(e) => {
                    eprintln!(
                        "reindex refused: {e} (the agent repairs the last hour at every start)"
                    );
                    return ExitCode::FAILURE;
                }
            };
            let reindexed = Store::open(&cfg.data_dir).and_then(|store| {
                let report = store.reconcile(None)?;
                store.flush()?;
                Ok(report)
            });
            match reindexed {
                Ok(r) => {
                    println!(
                        "reindexed {}: {} frame files, {} indexed anew, {} rows without a file dropped, \
                         {} unreadable files left alone, {} empty folders removed",
                        cfg.data_dir.display(),
                        r.files_seen,
                        r.files_indexed,
                        r.rows_dropped,
                        r.files_unreadable,
                        r.dirs_removed
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("reindex failed: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Run { config } => {
            let cfg = match files::load(&config) {
                Ok(cfg) => cfg,
                Err(e) => {
                    eprintln!("{e}");
                    if !config.exists() {
                        eprintln!(
                            "not configured yet: set the board up with `seaframe-agent init --vessel NAME \
                             --mqtt-url URL [--ca-file FILE] [--camera ID=SOURCE]... [--discover]` \
                             (README, \"Installing on a board\")"
                        );
                    }
                    return ExitCode::from(EXIT_CONFIG);
                }
            };
            match run(cfg, app::StartOptions::default()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!("seaframe-agent failed: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// `init`: the config written, or every problem (exit 2).
fn init(
    path: &std::path::Path,
    options: &init::InitOptions,
    discover: Option<Option<onvif::Credentials>>,
    force: bool,
) -> ExitCode {
    let discovered = match discover {
        None => None,
        Some(credentials) => {
            let timeout = Duration::from_secs(3);
            let probe = onvif::Options {
                multicast: true,
                targets: Vec::new(),
                xaddrs: Vec::new(),
                timeout,
                credentials,
            };
            match app::runtime() {
                Ok(rt) => {
                    let found = rt.block_on(onvif::discover(&probe));
                    Some(found.render(probe.credentials.as_ref(), timeout))
                }
                Err(e) => {
                    eprintln!("discovery failed: {e:#}");
                    return ExitCode::FAILURE;
                }
            }
        }
    };
    let written = init::render(options, discovered.as_deref())
        .map_err(|e| (e, EXIT_CONFIG))
        .and_then(|text| {
            init::write(path, &text, force)
                .map(|()| text)
                .map_err(|e| (e, 1))
        });
    match written {
        Ok(text) => {
            let cfg = Config::from_toml(&text, "written").ok();
            println!(
                "wrote {} (vessel {}, {} camera(s), {}).\n\
                 Check it: seaframe-agent check-config --config {0}\n\
                 Start it: systemctl enable --now seaframe-agent",
                path.display(),
                options.vessel,
                cfg.as_ref().map_or(0, |c| c.cameras.len()),
                cfg.as_ref().and_then(|c| c.uplink.as_ref()).map_or(
                    "no uplink".to_owned(),
                    |u| format!(
                        "uplink to {}",
                        seaframe_agent::base::config::redact_url(u.mqtt_url.expose())
                    )
                ),
            );
            ExitCode::SUCCESS
        }
        Err((e, code)) => {
            eprintln!("nothing written:\n{e}");
            ExitCode::from(code)
        }
    }
}

/// `check-config`: the file (every problem, exit 2), the files it names,
/// then the overlay pushed from shore, and the config in effect.
fn check_config(path: &std::path::Path) -> ExitCode {
    use seaframe_agent::adapters::config::files::check_files;
    use seaframe_agent::adapters::config::pushed::Pushed;
    use seaframe_agent::base::config::layered;
    let file = match files::load(path) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let problems = check_files(&file);
    if !problems.is_empty() {
        eprintln!("{}: {} problem(s):", path.display(), problems.len());
        for p in problems {
            eprintln!("  {p}");
        }
        return ExitCode::from(EXIT_CONFIG);
    }
    // Read only: nothing is set aside or written by a check.
    let (mut pushed, unreadable) = Pushed::load_read_only(&file.data_dir);
    let (cfg, notes) = pushed.resolve(&file);
    println!(
        "{}: ok (vessel {}, {} camera(s))",
        path.display(),
        cfg.vessel,
        cfg.cameras.len()
    );
    match &pushed.active {
        Some(o) => println!(
            "pushed from shore: version {}{} ({})",
            o.version,
            if pushed.on_trial { ", on trial" } else { "" },
            Pushed::path(&file.data_dir).display()
        ),
        None => println!("pushed from shore: nothing in effect"),
    }
    for note in notes.iter().chain(&unreadable) {
        println!("warning: {note}");
    }
    println!("\nin effect (secrets redacted):");
    print!(
        "{}",
        layered::render(&layered::explain(
            &cfg,
            file.text.expose(),
            pushed.active.as_ref()
        ))
    );
    ExitCode::SUCCESS
}

/// Encodes a range into a file; returns its size. Nothing is written for
/// an empty range, and a failed export leaves no file (it is written
/// beside `out` and renamed over it when complete).
fn export(cfg: &Config, request: VideoRequest, out: &std::path::Path) -> anyhow::Result<u64> {
    let store = std::sync::Arc::new(Store::open(&cfg.data_dir)?);
    if !request.has_frames(&store)? {
        anyhow::bail!(
            "no frames of camera {} from {} to {}: nothing written",
            request.camera,
            request.from.to_rfc3339(),
            request.to.to_rfc3339()
        );
    }
    let partial = out.with_extension("mp4.partial");
    let written = app::runtime()?.block_on(async {
        let (video, mut stdout) = Video::start(store, request)?;
        let mut file = tokio::fs::File::create(&partial).await?;
        let bytes = tokio::io::copy(&mut stdout, &mut file).await?;
        file.sync_all().await?;
        drop(video);
        anyhow::ensure!(bytes > 0, "ffmpeg wrote nothing");
        tokio::fs::rename(&partial, out).await?;
        Ok(bytes)
    });
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
}

fn run(cfg: Config, options: app::StartOptions) -> anyhow::Result<()> {
    app::runtime()?.block_on(async {
        let shutdown = CancellationToken::new();
        let signals = tokio::spawn(watch_signals(shutdown.clone()));
        let result = app::run(cfg, options, shutdown).await;
        signals.abort();
        result
    })
}

/// First SIGTERM or SIGINT: cancel `shutdown` (orderly stop). Second: exit now.
async fn watch_signals(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; SIGTERM will kill the agent abruptly");
        return;
    };
    for n in 0.. {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        if n == 0 {
            tracing::info!("signal received: stopping (send again to exit at once)");
            shutdown.cancel();
        } else {
            tracing::warn!("second signal: exiting at once");
            std::process::exit(130);
        }
    }
}
