//! `kquic-agent`: serves the kernel's QUIC handshake requests (see the library documentation
//! and Documentation/networking/kquic-agent.rst).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use log::{error, info, warn};
use tokio::sync::{mpsc, watch};

use kquic_agent::agent::{Agent, Settings};
use kquic_agent::config::{self, Config, Credentials, LogLevel};
use kquic_agent::handshake::{QuicHandshaker, TlsContext};
use kquic_agent::{genl, keys, nl, notify};

/// Handshake agent for in-kernel QUIC users: answers the kernel's net/handshake requests for
/// QUIC sockets.
#[derive(Parser, Debug)]
#[command(name = "kquic-agent", version)]
struct Args {
    /// Configuration file (TOML). Default: /etc/kquic/kquic-agent.toml if it exists,
    /// built-in defaults otherwise.
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Stay in the foreground (as under systemd); otherwise the agent detaches.
    #[arg(short, long)]
    foreground: bool,
    /// More log output (repeat for more), on top of agent.log_level.
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Read the configuration and every file it names, report, and exit (0 if usable).
    #[arg(long)]
    check_config: bool,
}

/// Exit status for an unusable configuration.
const EXIT_CONFIG: u8 = 1;
/// Exit status when the kernel side cannot be reached.
const EXIT_RUNTIME: u8 = 2;

fn load(args: &Args) -> Result<(Config, Credentials, String), String> {
    let (cfg, origin) = match &args.config {
        Some(p) => (
            Config::load(p).map_err(|e| e.to_string())?,
            p.display().to_string(),
        ),
        None => {
            let p = PathBuf::from(config::DEFAULT_PATH);
            if p.exists() {
                (
                    Config::load(&p).map_err(|e| e.to_string())?,
                    p.display().to_string(),
                )
            } else {
                (Config::default(), "built-in defaults".to_owned())
            }
        }
    };
    let creds = Credentials::load(&cfg).map_err(|e| e.to_string())?;
    Ok((cfg, creds, origin))
}

/// syslog priority of a level, for journald's `<N>` prefixes.
fn priority(l: log::Level) -> u8 {
    match l {
        log::Level::Error => 3,
        log::Level::Warn => 4,
        log::Level::Info => 6,
        log::Level::Debug | log::Level::Trace => 7,
    }
}

fn init_logging(level: LogLevel) {
    // Under systemd stderr goes to the journal, which reads a "<N>" priority prefix.
    let journal = std::env::var_os("JOURNAL_STREAM").is_some();
    let mut b = env_logger::Builder::new();
    b.filter_level(level.filter());
    // Libraries speak at debug level only when asked for trace.
    if level < LogLevel::Trace {
        for noisy in ["neli", "rustls"] {
            b.filter_module(noisy, log::LevelFilter::Warn);
        }
    }
    b.target(env_logger::Target::Stderr);
    b.format(move |f, r| {
        if journal {
            writeln!(f, "<{}>{}", priority(r.level()), r.args())
        } else {
            writeln!(
                f,
                "kquic-agent: {}: {}",
                r.level().as_str().to_lowercase(),
                r.args()
            )
        }
    });
    b.init();
}

fn describe(cfg: &Config, creds: &Credentials) -> String {
    let yes = |b: bool| if b { "yes" } else { "no" };
    format!(
        "handler class {}, up to {} handshakes, timeouts {}/{} ms (default/max), \
         client CA: {}, client certificate: {}, server certificate: {}, client \
         verification: {}, {} PSK(s) (handshakes through {}), keyrings to link: {:?}",
        cfg.agent.handler_class,
        cfg.limits.max_handshakes,
        cfg.limits.default_timeout_ms,
        cfg.limits.max_timeout_ms,
        match &creds.client_roots {
            Some(r) => format!("{} certificate(s)", r.len()),
            None => "system bundle".into(),
        },
        yes(creds.client_cert.is_some()),
        yes(creds.server_cert.is_some()),
        yes(creds.server_client_roots.is_some()),
        creds.psks.len(),
        cfg.psk.library,
        cfg.keyring.link,
    )
}

/// Detaches from the terminal: fork, the parent exits, the child starts a new session.
/// Must run before any thread exists.
fn detach() -> std::io::Result<()> {
    // SAFETY: called from main before the runtime or any other thread is started, so the child
    // is a complete copy of a single-threaded process.
    match unsafe { libc::fork() } {
        -1 => Err(std::io::Error::last_os_error()),
        0 => {
            // SAFETY: plain system call, in the child.
            if unsafe { libc::setsid() } < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        }
        // SAFETY: the parent leaves at once, without running destructors or atexit handlers
        // that belong to the child now.
        _ => unsafe { libc::_exit(0) },
    }
}

async fn serve(cfg: Config, creds: Credentials) -> Result<(), String> {
    let class = cfg.agent.handler_class;
    let group = if class == genl::handler_class::TLSHD {
        genl::MCGRP_TLSHD
    } else {
        return Err(format!(
            "handler class {class} has no known multicast group"
        ));
    };
    let fam = nl::resolve(group).await.map_err(|e| e.to_string())?;
    info!(
        "family {:?} id {}, group {group:?} id {}",
        genl::FAMILY_NAME,
        fam.id,
        fam.group
    );
    let transport =
        nl::NetlinkTransport::open(fam.id).map_err(|e| format!("request socket: {e}"))?;
    let transport_fd = transport.raw_fd();
    let handshaker = QuicHandshaker::new(TlsContext::new(&cfg, creds), &cfg.psk.library);
    let agent = Agent::new(
        transport,
        handshaker,
        Settings {
            class,
            limits: cfg.limits.clone(),
        },
    );
    let fds = agent.fds();
    fds.reserve(transport_fd);

    let (ev_tx, ev_rx) = mpsc::channel(256);
    let (sd_tx, sd_rx) = watch::channel(false);
    let (fd_tx, fd_rx) = tokio::sync::oneshot::channel();
    let listener = tokio::spawn(nl::listen(fam, class, ev_tx, move |fd| {
        let _ = fd_tx.send(fd);
    }));
    match fd_rx.await {
        Ok(fd) => fds.reserve(fd),
        Err(_) => {
            return Err(match listener.await {
                Ok(Err(e)) => format!("notification socket: {e}"),
                _ => "notification socket: listener ended".into(),
            })
        }
    }

    let signals = tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            error!("cannot install signal handlers");
            return;
        };
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        info!("{name}: stopping");
        let _ = notify::notify("STOPPING=1");
        let _ = sd_tx.send(true);
    });

    if let Err(e) = notify::notify("READY=1") {
        warn!("sd_notify READY=1: {e}");
    }
    info!("ready: serving handshake requests of class {class}");
    agent.run(ev_rx, sd_rx).await;
    listener.abort();
    signals.abort();
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let (cfg, creds, origin) = match load(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kquic-agent: configuration: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if args.check_config {
        println!("{origin}: OK: {}", describe(&cfg, &creds));
        return ExitCode::SUCCESS;
    }
    init_logging(cfg.agent.log_level.more_verbose(args.verbose));
    info!("configuration from {origin}: {}", describe(&cfg, &creds));
    for k in &cfg.keyring.link {
        match keys::link_keyring_by_name(k) {
            Ok(s) => info!("keyring {k:?} ({s:#x}) linked into the process keyring"),
            Err(e) => warn!("keyring {k:?}: {e}"),
        }
    }
    if !args.foreground {
        if let Err(e) = detach() {
            error!("detaching: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("kquic-agent")
        .max_blocking_threads(cfg.limits.max_handshakes * 2 + 8)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            error!("runtime: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    match rt.block_on(serve(cfg, creds)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}
