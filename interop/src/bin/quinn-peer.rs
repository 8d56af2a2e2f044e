//! quinn's side of the interop protocol (`quic_interop::workload`) as a program, so that
//! peers outside this process (`quic.ko` in the VM, the aioquic programs) can meet it.
//!
//! ```text
//! quinn-peer server --listen ADDR --cert-out DIR [--max-conns N] [--retry]
//! quinn-peer client --server ADDR --ca FILE [--streams N] [--up BYTES] [--down BYTES]
//!                   [--timeout S]
//! quinn-peer cert --out DIR
//! ```
//!
//! The server makes a self-signed certificate (for `localhost`, `127.0.0.1` and `::1`), writes
//! `cert.pem` and `key.pem` into `--cert-out`, prints `ready` once it listens, and serves until
//! killed, or until `--max-conns` connections have ended (then it exits 0 only if no stream
//! failed). The client connects with server name `localhost`, runs `--streams` concurrent
//! streams of `--up` request and `--down` response bytes, closes, and exits 0 only if every
//! stream checked out. `cert` just writes a fresh certificate and key like the server's (for
//! a server of another stack, e.g. the aioquic program). Loopback addresses only.

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use quic_interop::certs::TestCert;
use quic_interop::cli::{loopback_any_port, Args};
use quic_interop::quinn_peer::{QuinnClient, QuinnServer, ServerOpts};
use quic_interop::workload::Job;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

const USAGE: &str = "usage: quinn-peer server --listen ADDR --cert-out DIR [--max-conns N] \
                     [--retry]\n       \
                     quinn-peer client --server ADDR --ca FILE [--streams N] [--up BYTES] \
                     [--down BYTES] [--timeout S]\n       \
                     quinn-peer cert --out DIR";

/// How long a closing endpoint may take to tell its peers.
const DRAIN: Duration = Duration::from_secs(3);

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))
}

fn server(args: &[String]) -> Result<(), String> {
    let a = Args::parse(args, &["--retry"]).ok_or(USAGE)?;
    if !a.only(&["--listen", "--cert-out", "--max-conns", "--retry"]) {
        return Err(USAGE.into());
    }
    let listen = a.loopback_addr("--listen")?;
    let dir = a.required("--cert-out")?;
    let max_conns: u64 = a.parsed("--max-conns", 0)?;
    let cert = TestCert::generate();
    cert.write_pem(dir.as_ref())
        .map_err(|e| format!("writing the certificate to {dir}: {e}"))?;
    let opts = ServerOpts {
        retry: a.flag("--retry"),
        zero_rtt: false,
    };
    let rt = runtime()?;
    rt.block_on(async move {
        let s = QuinnServer::start_on(&cert, opts, listen).map_err(|e| e.to_string())?;
        eprintln!("quinn-peer: listening on {}", s.addr);
        println!("ready");
        let _ = std::io::stdout().flush();
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if max_conns > 0 && s.closed.load(Ordering::Relaxed) >= max_conns {
                break;
            }
        }
        s.endpoint.close(0u32.into(), b"done");
        let _ = tokio::time::timeout(DRAIN, s.endpoint.wait_idle()).await;
        let (ok, failed) = (
            s.streams_ok.load(Ordering::Relaxed),
            s.streams_failed.load(Ordering::Relaxed),
        );
        println!(
            "served {} connections: {ok} streams ok, {failed} failed",
            s.closed.load(Ordering::Relaxed)
        );
        if failed > 0 {
            return Err(format!("{failed} streams failed"));
        }
        Ok(())
    })
}

fn client(args: &[String]) -> Result<(), String> {
    let a = Args::parse(args, &[]).ok_or(USAGE)?;
    if !a.only(&[
        "--server",
        "--ca",
        "--streams",
        "--up",
        "--down",
        "--timeout",
    ]) {
        return Err(USAGE.into());
    }
    let server = a.loopback_addr("--server")?;
    let ca_path = a.required("--ca")?;
    let ca = CertificateDer::from_pem_file(ca_path).map_err(|e| format!("{ca_path}: {e}"))?;
    let job = Job {
        streams: a.parsed("--streams", 1)?,
        up: a.parsed("--up", 1000)?,
        down: a.parsed("--down", 1000)?,
        datagrams: 0,
        key_update: false,
    };
    let timeout = Duration::from_secs(a.parsed("--timeout", 60)?);
    let rt = runtime()?;
    rt.block_on(async move {
        let start = Instant::now();
        let c = QuinnClient::new_bound(&ca, false, loopback_any_port(&server))
            .map_err(|e| e.to_string())?;
        let r = tokio::time::timeout(timeout, c.run(server, job, false)).await;
        // Let the CONNECTION_CLOSE go out before the process ends.
        let _ = tokio::time::timeout(DRAIN, c.endpoint.wait_idle()).await;
        let r = match r {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => return Err(format!("{server}: {e}")),
            Err(_) => return Err(format!("{server}: not done after {timeout:?}")),
        };
        if r.streams_ok != job.streams {
            return Err(format!("{} of {} streams ok", r.streams_ok, job.streams));
        }
        println!(
            "ok: {} streams of {} B up / {} B down, handshake {:?}, {:.1} Mbit/s, {:?} in all",
            r.streams_ok,
            job.up,
            job.down,
            r.handshake,
            r.mbps(&job),
            start.elapsed()
        );
        Ok(())
    })
}

fn cert(args: &[String]) -> Result<(), String> {
    let a = Args::parse(args, &[]).ok_or(USAGE)?;
    if !a.only(&["--out"]) {
        return Err(USAGE.into());
    }
    let dir = a.required("--out")?;
    let (c, k) = TestCert::generate()
        .write_pem(dir.as_ref())
        .map_err(|e| format!("writing the certificate to {dir}: {e}"))?;
    println!("{} {}", c.display(), k.display());
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = match args.first().map(String::as_str) {
        Some("server") => server(&args[1..]),
        Some("client") => client(&args[1..]),
        Some("cert") => cert(&args[1..]),
        _ => Err(USAGE.into()),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e == USAGE => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("quinn-peer: {e}");
            ExitCode::FAILURE
        }
    }
}
