//! Packet-protection throughput of the core on the host backend.
//!
//! Run: `cargo run --release -p quic-hostcrypto --example protect_bench [seconds-per-cell]`
//!
//! For each suite and packet size (1-RTT short header, 8-byte DCID, 2-byte packet number) it
//! measures the full seal path (AEAD + header protection), seal followed by open, and the
//! header-protection mask alone, and prints MB/s (10^6 bytes of packet per second; for the mask,
//! of 16-byte samples) plus packets or masks per second.

use std::hint::black_box;
use std::time::{Duration, Instant};

use quic_hostcrypto::HostCrypto;
use quic_proto::crypto::{CipherSuite, ConfidentialityCounter, DirectionalKeys, Version};

const PN_OFFSET: usize = 9;

fn suite_name(s: CipherSuite) -> &'static str {
    match s {
        CipherSuite::Aes128Gcm => "AES-128-GCM",
        CipherSuite::Aes256Gcm => "AES-256-GCM",
        CipherSuite::Aes128Ccm => "AES-128-CCM",
        CipherSuite::Chacha20Poly1305 => "ChaCha20-Poly1305",
    }
}

/// Runs `f` in batches until `budget` has elapsed; returns (calls, elapsed).
fn run(budget: Duration, mut f: impl FnMut()) -> (u64, Duration) {
    // Warm up.
    for _ in 0..64 {
        f();
    }
    let start = Instant::now();
    let mut n = 0u64;
    loop {
        for _ in 0..256 {
            f();
        }
        n += 256;
        let el = start.elapsed();
        if el >= budget {
            return (n, el);
        }
    }
}

fn rate(bytes_per_call: usize, (n, el): (u64, Duration)) -> (f64, f64) {
    let secs = el.as_secs_f64();
    let calls = n as f64 / secs;
    (calls * bytes_per_call as f64 / 1e6, calls)
}

fn keys(suite: CipherSuite) -> DirectionalKeys<HostCrypto> {
    let secret = vec![0x42u8; suite.hash().output_len()];
    let mut k = DirectionalKeys::new(&HostCrypto, suite, Version::V1, &secret).expect("keys");
    // Benchmarks seal far more than a real key would.
    k.packet
        .set_usage(ConfidentialityCounter::with_limit(u64::MAX));
    k
}

fn main() {
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(0.4);
    let budget = Duration::from_secs_f64(secs);
    println!(
        "{:<18} {:>6} {:>11} {:>10} {:>16} {:>11} {:>11} {:>10}",
        "suite",
        "bytes",
        "seal MB/s",
        "seal kpps",
        "seal+open MB/s",
        "s+o kpps",
        "hp MB/s",
        "hp Mmask/s"
    );
    for suite in CipherSuite::ALL {
        for size in [1200usize, 1452] {
            let mut tx = keys(suite);
            let rx = keys(suite);
            let mut template = vec![0u8; size];
            template[0] = 0x41; // short header, 2-byte packet number
            for (i, b) in template.iter_mut().enumerate().skip(PN_OFFSET + 2) {
                *b = i as u8;
            }
            let mut buf = template.clone();
            let mut pn = 0u64;

            let seal = run(budget, || {
                buf.copy_from_slice(&template);
                tx.seal_packet(&mut buf, PN_OFFSET, pn & 0xffff)
                    .expect("seal");
                pn += 1;
                black_box(&buf);
            });

            let seal_open = run(budget, || {
                buf.copy_from_slice(&template);
                let p = pn & 0xffff;
                tx.seal_packet(&mut buf, PN_OFFSET, p).expect("seal");
                let opened = rx
                    .open_packet(&mut buf, PN_OFFSET, p.checked_sub(1))
                    .expect("open");
                black_box(opened);
                pn += 1;
            });

            let mut sample = [7u8; 16];
            let hp = run(budget, || {
                let m = tx.header.mask(black_box(&sample)).expect("mask");
                sample[0] ^= m[0];
                black_box(m);
            });

            let (seal_mb, seal_pps) = rate(size, seal);
            let (so_mb, so_pps) = rate(size, seal_open);
            let (hp_mb, hp_ps) = rate(16, hp);
            println!(
                "{:<18} {:>6} {:>11.0} {:>10.0} {:>16.0} {:>11.0} {:>11.0} {:>10.1}",
                suite_name(suite),
                size,
                seal_mb,
                seal_pps / 1e3,
                so_mb,
                so_pps / 1e3,
                hp_mb,
                hp_ps / 1e6
            );
        }
    }
}
