//! Memory-to-memory benchmark of our engine: a client and a server connection on one thread
//! (one core), no sockets. Measures bulk goodput with real packet protection (HostCrypto),
//! with the null backend (engine cost alone, still going through the protection code with a
//! copy and a zero tag) and with disable_1rtt_encryption negotiated (1-RTT packets without
//! protection, lxin/quic's extension), packets per second, and full handshakes (rustls, ECDSA
//! P-256 certificate) per second. Prints a table.
//!
//! ```text
//! kquic-bench [--mb N] [--handshakes N]
//! ```

use std::process::ExitCode;
use std::time::{Duration, Instant};

use quic::tls::{Cipher, TlsConfig};
use quic_hostcrypto::HostCrypto;
use quic_interop::certs::TestCert;
use quic_interop::mempair::Pair;
use quic_interop::nullcrypto::NullCrypto;
use quic_interop::peer::engine_config;
use quic_proto::conn::{Config, Event};
use quic_proto::crypto::Crypto;
use quic_proto::stream::Dir;

struct Tls {
    client: TlsConfig,
    server: TlsConfig,
}

fn tls(cert: &TestCert, cipher: Cipher) -> Tls {
    let server = TlsConfig::server()
        .cert_der(vec![cert.cert_der.clone()])
        .key_der(cert.key())
        .alpn_protocols([b"bench"])
        .ciphers(&[cipher])
        .build()
        .expect("server TLS config");
    let client = TlsConfig::client()
        .ca_der(cert.cert_der.clone())
        .server_name("localhost")
        .alpn_protocols([b"bench"])
        .ciphers(&[cipher])
        .no_session_cache()
        .build()
        .expect("client TLS config");
    Tls { client, server }
}

fn bench_engine(plain: bool) -> Config {
    let mut c = engine_config();
    // One core does both ends: pacing would only add idle waits to the measurement.
    c.pacing = false;
    c.transport_params.disable_1rtt_encryption = plain;
    c
}

/// How the 1-RTT packets of a row are protected.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// HostCrypto with the row's cipher.
    Protected,
    /// NullCrypto: the protection code runs, with a copy and a zero tag.
    Null,
    /// disable_1rtt_encryption on both sides: no protection code at all for 1-RTT.
    Plain,
}

struct Bulk {
    bytes: u64,
    elapsed: Duration,
    datagrams: u64,
    packets: u64,
}

/// Client sends `bytes` on one stream; the server reads and discards them.
fn bulk<C: Crypto + Clone>(crypto: C, t: &Tls, bytes: u64, plain: bool) -> Result<Bulk, String> {
    let engine = bench_engine(plain);
    let mut p = Pair::new(crypto, &engine, &t.client, &t.server)?;
    p.handshake(100_000)?;
    if p.client.conn.is_1rtt_unprotected() != plain {
        return Err("disable_1rtt_encryption not negotiated as asked".into());
    }
    let id = p
        .client
        .conn
        .stream_open(Dir::Bidi)
        .map_err(|e| format!("{e}"))?;
    let chunk = vec![0x5au8; 256 * 1024];
    let mut sent = 0u64;
    let mut received = 0u64;
    let mut fin = false;
    let mut rbuf = vec![0u8; 256 * 1024];
    let start = Instant::now();
    let d0 = p.datagrams;
    let deadline = start + Duration::from_secs(120);
    while !fin {
        if Instant::now() > deadline {
            return Err(format!(
                "bulk transfer stalled at {received} of {bytes} bytes"
            ));
        }
        while sent < bytes {
            let n = (bytes - sent).min(chunk.len() as u64) as usize;
            let last = sent + n as u64 == bytes;
            let w = p
                .client
                .conn
                .stream_write(id, &chunk[..n], last)
                .map_err(|e| format!("write: {e}"))?;
            sent += w as u64;
            if w < n {
                break;
            }
        }
        while let Some(ev) = p.client.conn.poll_event() {
            if let Event::Closed(i) = ev {
                return Err(format!("client closed: {i:?}"));
            }
        }
        while let Some(ev) = p.server.conn.poll_event() {
            match ev {
                Event::StreamReadable(sid) => loop {
                    let r = p
                        .server
                        .conn
                        .stream_read(sid, &mut rbuf)
                        .map_err(|e| format!("read: {e}"))?;
                    received += r.len as u64;
                    if r.fin {
                        fin = true;
                        break;
                    }
                    if r.len == 0 {
                        break;
                    }
                },
                Event::Closed(i) => return Err(format!("server closed: {i:?}")),
                _ => {}
            }
        }
        if p.step()? == 0 {
            p.idle();
        }
    }
    if received != bytes {
        return Err(format!("received {received} of {bytes}"));
    }
    Ok(Bulk {
        bytes,
        elapsed: start.elapsed(),
        datagrams: p.datagrams - d0,
        packets: p.client.conn.stats().packets_sent + p.server.conn.stats().packets_sent,
    })
}

fn handshakes(t: &Tls, n: u32) -> Result<Duration, String> {
    let engine = bench_engine(false);
    let start = Instant::now();
    for _ in 0..n {
        let mut p = Pair::new(HostCrypto, &engine, &t.client, &t.server)?;
        p.handshake(100_000)?;
    }
    Ok(start.elapsed())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut mb = 200u64;
    let mut hs = 200u32;
    let mut i = 0;
    while i < args.len() {
        let v = args.get(i + 1).and_then(|v| v.parse::<u64>().ok());
        match (args[i].as_str(), v) {
            ("--mb", Some(v)) => mb = v.max(1),
            ("--handshakes", Some(v)) => hs = v.clamp(1, 100_000) as u32,
            _ => {
                eprintln!("usage: kquic-bench [--mb N] [--handshakes N]");
                return ExitCode::from(2);
            }
        }
        i += 2;
    }
    let cert = TestCert::generate();
    let bytes = mb << 20;
    println!("kquic engine, memory to memory on one core ({mb} MiB one way per row, no sockets)");
    println!();
    println!("| backend | cipher | goodput (Gbit/s) | packets/s | datagrams | time (s) |");
    println!("|---|---|---|---|---|---|");
    let rows: [(&str, Cipher, Mode); 5] = [
        ("HostCrypto", Cipher::Aes128Gcm, Mode::Protected),
        ("HostCrypto", Cipher::Aes256Gcm, Mode::Protected),
        ("HostCrypto", Cipher::Chacha20Poly1305, Mode::Protected),
        ("NullCrypto", Cipher::Aes128Gcm, Mode::Null),
        ("HostCrypto", Cipher::Aes128Gcm, Mode::Plain),
    ];
    let mut failed = false;
    for (name, cipher, mode) in rows {
        let t = tls(&cert, cipher);
        let r = match mode {
            Mode::Null => bulk(NullCrypto, &t, bytes, false),
            Mode::Protected => bulk(HostCrypto, &t, bytes, false),
            Mode::Plain => bulk(HostCrypto, &t, bytes, true),
        };
        let label = match mode {
            Mode::Null => "none (copy + zero tag)".to_string(),
            Mode::Protected => format!("{cipher:?}"),
            Mode::Plain => "none (disable_1rtt_encryption)".to_string(),
        };
        match r {
            Ok(b) => {
                let s = b.elapsed.as_secs_f64();
                println!(
                    "| {name} | {label} | {:.2} | {:.0} | {} | {:.2} |",
                    b.bytes as f64 * 8.0 / s / 1e9,
                    b.packets as f64 / s,
                    b.datagrams,
                    s
                );
            }
            Err(e) => {
                failed = true;
                println!("| {name} | {label} | failed: {e} | | | |");
            }
        }
    }
    println!();
    let t = tls(&cert, Cipher::Aes128Gcm);
    match handshakes(&t, hs) {
        Ok(d) => println!(
            "handshakes (rustls, ECDSA P-256, AES-128-GCM, HostCrypto): {hs} in {:.2} s = {:.0}/s",
            d.as_secs_f64(),
            f64::from(hs) / d.as_secs_f64()
        ),
        Err(e) => {
            failed = true;
            println!("handshakes: failed: {e}");
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
