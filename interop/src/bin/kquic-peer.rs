//! Our QUIC engine over UDP on loopback, speaking the interop protocol
//! (`quic_interop::workload`).
//!
//! ```text
//! kquic-peer server [--listen 127.0.0.1:4433] [--cert C --key K | --cert-out DIR] [--retry]
//!                   [--versions v1,v2] [--cipher aes128|aes256|chacha] [--seconds S]
//! kquic-peer client --server ADDR --ca C [--streams M] [--up BYTES] [--down BYTES]
//!                   [--datagrams D] [--key-update] [--zero-rtt] [--version v1|v2]
//!                   [--cipher ...] [--migrate-after BYTES] [--timeout S]
//! ```
//! Without `--cert`, the server makes a self-signed certificate for localhost and writes it to
//! `--cert-out` (default: a temporary directory) for clients to trust. `--zero-rtt` connects
//! twice, the second time sending the requests in 0-RTT. The client exits 0 only if every
//! stream checked out.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use quic::tls::{
    Cipher, ServerResumption, TlsConfig, TlsConfigBuilder, QUIC_VERSION_V1, QUIC_VERSION_V2,
};
use quic_interop::certs::TestCert;
use quic_interop::peer::{run_client, ClientConfig, Server, ServerConfig};
use quic_interop::workload::{Job, ALPN};

/// Applies `--cipher` (when given) and builds the TLS configuration; the exit code on error.
fn finish_tls(tls: TlsConfigBuilder, cipher_arg: Option<&str>) -> Result<TlsConfig, ExitCode> {
    let tls = match cipher_arg {
        Some(c) => tls.ciphers(&[cipher(c).ok_or_else(usage)?]),
        None => tls,
    };
    tls.build().map_err(|e| {
        eprintln!("kquic-peer: TLS: {e}");
        ExitCode::FAILURE
    })
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: kquic-peer server [--listen ADDR] [--cert C --key K | --cert-out DIR] [--retry] \
         [--versions v1,v2] [--cipher aes128|aes256|chacha] [--seconds S]\n       \
         kquic-peer client --server ADDR --ca C [--streams M] [--up N] [--down N] \
         [--datagrams D] [--key-update] [--zero-rtt] [--version v1|v2] [--cipher ..] \
         [--migrate-after N] [--timeout S]"
    );
    ExitCode::from(2)
}

fn version(s: &str) -> Option<u32> {
    match s {
        "v1" => Some(QUIC_VERSION_V1),
        "v2" => Some(QUIC_VERSION_V2),
        _ => None,
    }
}

fn cipher(s: &str) -> Option<Cipher> {
    match s {
        "aes128" => Some(Cipher::Aes128Gcm),
        "aes256" => Some(Cipher::Aes256Gcm),
        "chacha" => Some(Cipher::Chacha20Poly1305),
        _ => None,
    }
}

#[derive(Default)]
struct Args {
    flags: Vec<String>,
    values: Vec<(String, String)>,
}

impl Args {
    fn parse(args: &[String], flags: &[&str]) -> Option<Self> {
        let mut a = Self::default();
        let mut i = 0;
        while i < args.len() {
            if flags.contains(&args[i].as_str()) {
                a.flags.push(args[i].clone());
                i += 1;
            } else if args[i].starts_with("--") && i + 1 < args.len() {
                a.values.push((args[i].clone(), args[i + 1].clone()));
                i += 2;
            } else {
                return None;
            }
        }
        Some(a)
    }

    fn flag(&self, f: &str) -> bool {
        self.flags.iter().any(|x| x == f)
    }

    fn get(&self, k: &str) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }

    fn num(&self, k: &str, default: u64) -> Option<u64> {
        match self.get(k) {
            Some(v) => v.parse().ok(),
            None => Some(default),
        }
    }
}

fn server(args: &[String]) -> ExitCode {
    let Some(a) = Args::parse(args, &["--retry"]) else {
        return usage();
    };
    let mut tls = TlsConfig::server()
        .alpn_protocols([ALPN])
        .early_data(true)
        .resumption(ServerResumption::Stateful { capacity: 1024 });
    match (a.get("--cert"), a.get("--key")) {
        (Some(c), Some(k)) => tls = tls.cert_file(c).key_file(k),
        (None, None) => {
            let cert = TestCert::generate();
            let dir = a.get("--cert-out").map(PathBuf::from).unwrap_or_else(|| {
                std::env::temp_dir().join(format!("kquic-peer-{}", std::process::id()))
            });
            match cert.write_pem(&dir) {
                Ok((c, _)) => println!("certificate {}", c.display()),
                Err(e) => {
                    eprintln!("kquic-peer: {e}");
                    return ExitCode::FAILURE;
                }
            }
            tls = tls
                .cert_der(vec![cert.cert_der.clone()])
                .key_der(cert.key());
        }
        _ => return usage(),
    }
    let tls = match finish_tls(tls, a.get("--cipher")) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let mut cfg = ServerConfig::new(tls);
    if let Some(l) = a.get("--listen") {
        match l.parse() {
            Ok(l) => cfg.listen = l,
            Err(_) => return usage(),
        }
    }
    cfg.engine.validate_peer_address = a.flag("--retry");
    if let Some(v) = a.get("--versions") {
        let list: Option<Vec<u32>> = v.split(',').map(version).collect();
        match list.and_then(|l| quic_proto::conn::VersionList::new(&l)) {
            Some(l) => cfg.engine.versions = l,
            None => return usage(),
        }
    }
    let Some(secs) = a.num("--seconds", 3600) else {
        return usage();
    };
    cfg.lifetime = Duration::from_secs(secs);
    let server = match Server::start(cfg) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kquic-peer: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening {}", server.addr());
    std::thread::sleep(Duration::from_secs(secs));
    match server.stop() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kquic-peer: {e}");
            ExitCode::FAILURE
        }
    }
}

fn client(args: &[String]) -> ExitCode {
    let Some(a) = Args::parse(args, &["--key-update", "--zero-rtt"]) else {
        return usage();
    };
    let (Some(server), Some(ca)) = (
        a.get("--server").and_then(|s| s.parse().ok()),
        a.get("--ca"),
    ) else {
        return usage();
    };
    let (Some(streams), Some(up), Some(down), Some(dgrams), Some(timeout)) = (
        a.num("--streams", 1),
        a.num("--up", 1000),
        a.num("--down", 1000),
        a.num("--datagrams", 0),
        a.num("--timeout", 60),
    ) else {
        return usage();
    };
    let tls = TlsConfig::client()
        .ca_file(ca)
        .server_name("localhost")
        .alpn_protocols([ALPN])
        .early_data(a.flag("--zero-rtt"));
    let tls = match finish_tls(tls, a.get("--cipher")) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let job = Job {
        streams: streams as usize,
        up,
        down,
        datagrams: dgrams as u32,
        key_update: a.flag("--key-update"),
    };
    let mut cfg = ClientConfig::new(server, tls, job);
    cfg.timeout = Duration::from_secs(timeout);
    cfg.migrate_after = a.get("--migrate-after").and_then(|v| v.parse().ok());
    if let Some(v) = a.get("--version") {
        let Some(v) = version(v) else {
            return usage();
        };
        cfg.version = v;
    }
    let runs = if a.flag("--zero-rtt") { 2 } else { 1 };
    for run in 0..runs {
        cfg.zero_rtt = run == 1;
        match run_client(&cfg) {
            Ok(r) => println!(
                "ok: {} streams, {:.1} Mbit/s, handshake {:?}, datagrams {}/{}, key updates {}, \
                 version {:#x}, cipher {:?}, resumed {}, 0-RTT {:?}",
                r.progress.streams_ok,
                r.mbps(&job),
                r.handshake.unwrap_or_default(),
                r.progress.datagrams_echoed,
                job.datagrams,
                r.progress.key_updates_done,
                r.version,
                r.cipher,
                r.resumed,
                r.zero_rtt
            ),
            Err(e) => {
                eprintln!("kquic-peer: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("server") => server(&args[1..]),
        Some("client") => client(&args[1..]),
        _ => usage(),
    }
}
