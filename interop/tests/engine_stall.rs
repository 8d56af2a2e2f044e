//! Engine bug hunt (memory to memory, deterministic losses): the client loses some of its
//! handshake datagrams while it already has 1-RTT data in flight. The handshake must still
//! complete. This once stalled until the idle timeout: the lost Finished waited for congestion
//! window behind 1-RTT packets and no PTO was armed (application-data PTOs are skipped before
//! confirmation); the loss detector now probes the Handshake space in that case.

mod common;

use std::time::{Duration, Instant};

use common::kquic::{client_tls, server_tls};
use quic_hostcrypto::HostCrypto;
use quic_interop::certs::TestCert;
use quic_interop::mempair::Pair;
use quic_interop::peer::engine_config;
use quic_proto::stream::Dir;

/// Drops the client's long-header datagrams whose index (after its first flight) has its bit
/// set in `client_mask`, and the server's whose bit is set in `server_mask`. Returns how the
/// run ended.
fn run(
    cert: &TestCert,
    resume: &quic::tls::TlsConfig,
    client_mask: u32,
    server_mask: u32,
) -> Result<(), String> {
    let stls = server_tls(cert, None);
    let mut p = Pair::new(HostCrypto, &engine_config(), resume, &stls)?;
    let (mut ci, mut si) = (0u32, 0u32);
    p.loss = Some(Box::new(move |to_server, d: &[u8]| {
        if d.first().is_none_or(|b| b & 0x80 == 0) {
            return false;
        }
        let (i, mask) = if to_server {
            ci += 1;
            (ci - 1, client_mask)
        } else {
            si += 1;
            (si - 1, server_mask)
        };
        i < 32 && mask & (1 << i) != 0
    }));
    let data = vec![7u8; 64 * 1024];
    let mut stream = None;
    let mut written = 0;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if p.client.tls.complete() && stream.is_none() {
            stream = p.client.conn.stream_open(Dir::Bidi).ok();
        }
        if let Some(id) = stream {
            if written < data.len() {
                written += p
                    .client
                    .conn
                    .stream_write(id, &data[written..], false)
                    .unwrap_or(0);
            }
        }
        if p.client.conn.is_handshake_confirmed() && p.server.tls.complete() {
            return Ok(());
        }
        if p.client.conn.is_closed() || p.server.conn.is_closed() {
            return Err("closed".into());
        }
        if p.step()? == 0 {
            p.idle();
        }
    }
    let now = p.now();
    Err(format!(
        "stalled: client complete {} confirmed {} poll_timeout {:?} (now {now}) stats {:?}; \
         server complete {} poll_timeout {:?} stats {:?}",
        p.client.tls.complete(),
        p.client.conn.is_handshake_confirmed(),
        p.client.conn.poll_timeout(),
        p.client.conn.stats(),
        p.server.tls.complete(),
        p.server.conn.poll_timeout(),
        p.server.conn.stats(),
    ))
}

/// The client's first two long-header datagrams after its first flight (its Handshake flight
/// with the Finished, then the PTO probe) are lost while it already sends 1-RTT stream data.
/// Seen: the Finished is declared lost, its retransmission waits for congestion window
/// (bytes_in_flight 18584 of 1-RTT data the server cannot process yet > cwnd 10164), and no PTO
/// is armed (poll_timeout is the idle deadline): client and server wait until the idle timeout.
#[test]
fn lost_client_finished_is_retransmitted_with_1rtt_in_flight() {
    let cert = TestCert::generate();
    let tls = client_tls(&cert, false, None);
    run(&cert, &tls, 0b11, 0).unwrap();
}

/// The same, over a range of loss patterns of the handshake datagrams of both sides.
#[test]
fn handshake_survives_lost_handshake_datagrams_with_1rtt_in_flight() {
    let cert = TestCert::generate();
    let tls = client_tls(&cert, false, None);
    let mut stalls = Vec::new();
    for client_mask in 0..16u32 {
        for server_mask in [0u32, 1, 2, 4] {
            if let Err(e) = run(&cert, &tls, client_mask, server_mask) {
                stalls.push(format!(
                    "client mask {client_mask:#06b} server mask {server_mask:#b}: {e}"
                ));
            }
        }
    }
    assert!(
        stalls.is_empty(),
        "{} stalls:\n{}",
        stalls.len(),
        stalls.join("\n")
    );
}
