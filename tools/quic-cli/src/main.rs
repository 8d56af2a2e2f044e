//! `quic`: an ncat/socat-style tool over kernel QUIC sockets (`IPPROTO_QUIC`, quic.ko), with
//! the TLS 1.3 handshake run in userspace by libquic (rustls).
//!
//! - `quic listen`: accept connections, copy each one's first client stream to stdout and
//!   answer with stdin (or `--echo`);
//! - `quic connect`: send stdin on a new stream, print the reply;
//! - `quic gen-cert`: a self-signed certificate for tests;
//! - `quic demo`: a server thread and a client in one process, streams verified by SHA-256.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod cert;
mod common;
mod connect;
mod demo;
mod listen;
mod psk;

/// Default ALPN of `listen`, `connect` and `demo`.
const DEFAULT_ALPN: &str = "kquic";

#[derive(Parser, Debug)]
#[command(
    name = "quic",
    version,
    about = "ncat-style tool over kernel QUIC sockets (IPPROTO_QUIC, quic.ko)",
    after_help = "Examples:\n  \
        quic gen-cert --out /tmp/qc\n  \
        quic listen --addr 127.0.0.1:4433 --cert /tmp/qc/cert.pem --key /tmp/qc/key.pem > out\n  \
        quic connect 127.0.0.1:4433 --ca /tmp/qc/cert.pem --stats < in\n  \
        quic demo --streams 8"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Accept connections; copy each one's first client stream to stdout, answer with stdin
    /// (when it is not a terminal) or echo the data back (--echo)
    Listen(ListenArgs),
    /// Connect; send stdin on a new bidirectional stream (FIN at end of input), print the
    /// reply
    Connect(ConnectArgs),
    /// Write cert.pem and key.pem: a self-signed ECDSA P-256 certificate
    GenCert(GenCertArgs),
    /// Server thread and client on loopback in one process: handshake, streams echoed and
    /// verified by SHA-256, transfer rate, close
    Demo(DemoArgs),
}

/// Options of both ends of a connection.
#[derive(Args, Debug)]
struct ConnOpts {
    /// ALPN protocols, comma separated, in preference order
    #[arg(long, default_value = DEFAULT_ALPN, value_name = "LIST")]
    alpn: String,
    /// QUIC version 2 (RFC 9369): QUIC_SOCKOPT_CONFIG.version = QUIC_VERSION_V2
    #[arg(long)]
    v2: bool,
    /// Print bytes moved, seconds and MB/s to stderr at the end
    #[arg(long)]
    stats: bool,
    /// Print addresses and what the handshake negotiated to stderr
    #[arg(short, long)]
    verbose: bool,
    /// Handshake timeout, seconds (SO_RCVTIMEO while it runs)
    #[arg(long, default_value_t = 10, value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
    /// Pre-shared key mode: `identity:hexkey` lines (lxin/quic's PSK file format; the client
    /// uses the first). The handshake runs in libquic's C library (GnuTLS), loaded at run time:
    /// libquic.so.1, or the path in QUIC_LIBQUIC
    #[arg(long, value_name = "FILE")]
    psk: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct ListenArgs {
    /// Address to listen on
    #[arg(long, default_value = "0.0.0.0:4433", value_name = "ADDR:PORT")]
    addr: String,
    /// Certificate chain, PEM
    #[arg(long, value_name = "FILE", required_unless_present = "psk")]
    cert: Option<PathBuf>,
    /// Private key, PEM
    #[arg(long, value_name = "FILE", required_unless_present = "psk")]
    key: Option<PathBuf>,
    /// Connections to serve, one after another, before exiting
    #[arg(long, default_value_t = 1, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    count: u32,
    /// Send each client's data back to it instead of stdin
    #[arg(long)]
    echo: bool,
    #[command(flatten)]
    conn: ConnOpts,
}

#[derive(Args, Debug)]
struct ConnectArgs {
    /// Server address
    #[arg(value_name = "ADDR:PORT")]
    target: String,
    /// Trust the CA certificates of this PEM file (default: the system's CA bundle)
    #[arg(long, value_name = "FILE", conflicts_with_all = ["insecure", "psk"])]
    ca: Option<PathBuf>,
    /// Do not verify the server's certificate (tests only)
    #[arg(long)]
    insecure: bool,
    /// Server name sent as SNI and checked in its certificate (default: the host of ADDR)
    #[arg(long, value_name = "NAME")]
    sni: Option<String>,
    #[command(flatten)]
    conn: ConnOpts,
}

#[derive(Args, Debug)]
struct GenCertArgs {
    /// Directory for cert.pem and key.pem (created if missing)
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Certificate name (also valid for localhost, 127.0.0.1 and ::1)
    #[arg(long, default_value = "localhost")]
    name: String,
}

#[derive(Args, Debug)]
struct DemoArgs {
    /// Concurrent bidirectional streams
    #[arg(long, default_value_t = 4, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=100))]
    streams: u16,
    /// Total bytes sent by the client, split over the streams (suffixes K, M, G: binary)
    #[arg(long, default_value = "8M", value_name = "N", value_parser = parse_size)]
    bytes: u64,
    /// Over IPv6 loopback ([::1]) instead of 127.0.0.1
    #[arg(long)]
    v6: bool,
    /// QUIC version 2 (RFC 9369)
    #[arg(long)]
    v2: bool,
    /// ALPN protocol
    #[arg(long, default_value = DEFAULT_ALPN)]
    alpn: String,
}

/// A byte count: a number with an optional binary suffix (`4096`, `512K`, `8M`, `8MiB`, `1G`).
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (digits, shift) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 10),
        Some((i, 'm' | 'M')) => (&t[..i], 20),
        Some((i, 'g' | 'G')) => (&t[..i], 30),
        _ => (t, 0),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a byte count (e.g. 4096, 512K, 8M)"))?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("{s:?} is too large"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.cmd {
        Cmd::Listen(a) => listen::run(&a),
        Cmd::Connect(a) => connect::run(&a),
        Cmd::GenCert(a) => cert::write_cert(&a.out, &a.name).map(|(c, k)| {
            eprintln!("quic: wrote {} and {}", c.display(), k.display());
        }),
        Cmd::Demo(a) => demo::run(&a),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quic: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("quic").chain(args.iter().copied()))
    }

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn listen_defaults_and_options() {
        let Cmd::Listen(a) = parse(&["listen", "--cert", "c.pem", "--key", "k.pem"])
            .unwrap()
            .cmd
        else {
            panic!("not listen");
        };
        assert_eq!(a.addr, "0.0.0.0:4433");
        assert_eq!((a.count, a.echo), (1, false));
        assert_eq!(a.conn.alpn, DEFAULT_ALPN);
        assert!(!a.conn.v2 && !a.conn.stats);
        let Cmd::Listen(a) = parse(&[
            "listen", "--addr", "[::1]:9", "--cert", "c", "--key", "k", "--alpn", "h3,smbd",
            "--v2", "--count", "3", "--echo", "--stats",
        ])
        .unwrap()
        .cmd
        else {
            panic!("not listen");
        };
        assert_eq!((a.addr.as_str(), a.count, a.echo), ("[::1]:9", 3, true));
        assert!(a.conn.v2 && a.conn.stats);
        assert_eq!(a.conn.alpn, "h3,smbd");
        // A certificate is required, unless --psk.
        assert!(parse(&["listen", "--key", "k"]).is_err());
        assert!(parse(&["listen", "--psk", "p"]).is_ok());
        assert!(parse(&["listen", "--cert", "c", "--key", "k", "--count", "0"]).is_err());
    }

    #[test]
    fn connect_options() {
        let Cmd::Connect(a) = parse(&["connect", "127.0.0.1:4433", "--ca", "ca.pem"])
            .unwrap()
            .cmd
        else {
            panic!("not connect");
        };
        assert_eq!(a.target, "127.0.0.1:4433");
        assert_eq!(a.ca, Some(PathBuf::from("ca.pem")));
        assert!(!a.insecure && a.sni.is_none());
        assert!(parse(&["connect", "h:1", "--ca", "x", "--insecure"]).is_err());
        assert!(parse(&["connect"]).is_err());
        let Cmd::Connect(a) = parse(&["connect", "h:1", "--insecure", "--sni", "n", "--v2"])
            .unwrap()
            .cmd
        else {
            panic!("not connect");
        };
        assert!(a.insecure && a.conn.v2);
        assert_eq!(a.sni.as_deref(), Some("n"));
    }

    #[test]
    fn demo_and_gen_cert_options() {
        let Cmd::Demo(a) = parse(&["demo"]).unwrap().cmd else {
            panic!("not demo");
        };
        assert_eq!((a.streams, a.bytes, a.v6), (4, 8 << 20, false));
        let Cmd::Demo(a) = parse(&["demo", "--v6", "--streams", "8", "--bytes", "1M"])
            .unwrap()
            .cmd
        else {
            panic!("not demo");
        };
        assert_eq!((a.streams, a.bytes, a.v6), (8, 1 << 20, true));
        assert!(parse(&["demo", "--streams", "0"]).is_err());
        assert!(parse(&["demo", "--streams", "101"]).is_err());
        let Cmd::GenCert(g) = parse(&["gen-cert", "--out", "/tmp/x"]).unwrap().cmd else {
            panic!("not gen-cert");
        };
        assert_eq!(
            (g.out, g.name.as_str()),
            (PathBuf::from("/tmp/x"), "localhost")
        );
        assert!(parse(&["gen-cert"]).is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("512K"), Ok(512 << 10));
        assert_eq!(parse_size("8M"), Ok(8 << 20));
        assert_eq!(parse_size("8MiB"), Ok(8 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert_eq!(parse_size("10B"), Ok(10));
        assert!(parse_size("").is_err());
        assert!(parse_size("M").is_err());
        assert!(parse_size("-1").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
        assert!(parse_size("18446744073709551615G").is_err());
    }
}
