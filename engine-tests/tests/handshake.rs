//! Handshakes between two engines over the simulated link: versions, Retry, tokens, loss,
//! anti-amplification, 0-RTT.

use quic_proto::conn::{CloseSource, Config, Event, VersionList};
use quic_proto::packet::{VERSION_1, VERSION_2};
use quic_proto::stream::Dir;
use quic_sim::pki::pki;
use quic_sim::{LinkParams, Setup, Sim, TlsSetup};

const S: u64 = 1_000_000;

fn echo_check(sim: &mut Sim) {
    let id = sim.client.conn_mut().stream_open(Dir::Bidi).unwrap();
    sim.client.send(id, b"ping", true);
    let until = sim.now + 20 * S;
    assert!(sim.run_until(until, |s| s.server.fins.contains(&id.raw())));
    assert_eq!(sim.server.received[&id.raw()], b"ping");
}

#[test]
fn handshake_v1() {
    let mut sim = Sim::new(Setup::new(1));
    assert!(sim.handshake(5 * S), "handshake did not complete");
    // One round trip for the Initial flight, one for the client's Finished and
    // HANDSHAKE_DONE: 2 RTT of 20 ms.
    assert!(sim.now <= 60_000, "took {} us", sim.now);
    assert_eq!(sim.client.conn().version(), VERSION_1);
    assert_eq!(sim.server.conn().version(), VERSION_1);
    assert_eq!(sim.client.count(|e| *e == Event::HandshakeConfirmed), 1);
    assert_eq!(sim.server.count(|e| *e == Event::HandshakeConfirmed), 1);
    // Both sides issued connection IDs to each other.
    assert!(
        sim.server
            .count(|e| matches!(e, Event::LocalCidIssued { .. }))
            >= 1
    );
    echo_check(&mut sim);
}

#[test]
fn handshake_v2() {
    let mut setup = Setup::new(11);
    setup.client.version = VERSION_2;
    setup.client.versions = VersionList::new(&[VERSION_2]).unwrap();
    let mut sim = Sim::new(setup);
    assert!(sim.handshake(5 * S));
    assert_eq!(sim.client.conn().version(), VERSION_2);
    assert_eq!(sim.server.conn().version(), VERSION_2);
    echo_check(&mut sim);
}

#[test]
fn compatible_version_negotiation_v1_to_v2() {
    let mut setup = Setup::new(12);
    setup.client.version = VERSION_1;
    setup.client.versions = VersionList::new(&[VERSION_1, VERSION_2]).unwrap();
    setup.server.versions = VersionList::new(&[VERSION_2, VERSION_1]).unwrap();
    let mut sim = Sim::new(setup);
    assert!(sim.handshake(5 * S));
    assert_eq!(sim.server.conn().version(), VERSION_2);
    assert_eq!(sim.client.conn().version(), VERSION_2);
    let vi = sim
        .client
        .conn()
        .peer_transport_params()
        .unwrap()
        .version_information;
    assert_eq!(vi.unwrap().chosen, VERSION_2);
    echo_check(&mut sim);
}

#[test]
fn no_switch_when_client_does_not_offer_v2() {
    let mut setup = Setup::new(13);
    setup.client.versions = VersionList::new(&[VERSION_1]).unwrap();
    setup.server.versions = VersionList::new(&[VERSION_2, VERSION_1]).unwrap();
    let mut sim = Sim::new(setup);
    assert!(sim.handshake(5 * S));
    assert_eq!(sim.client.conn().version(), VERSION_1);
    assert_eq!(sim.server.conn().version(), VERSION_1);
}

#[test]
fn version_negotiation_aborts_then_retry_succeeds() {
    let mut setup = Setup::new(14);
    setup.client.version = VERSION_2;
    setup.server.versions = VersionList::new(&[VERSION_1]).unwrap();
    let mut sim = Sim::new(setup);
    let until = 5 * S;
    assert!(sim.run_until(until, |s| s.client.closed.is_some()));
    assert_eq!(sim.version_negotiations, 1);
    let info = sim.client.closed.as_ref().unwrap();
    let CloseSource::VersionNegotiation { retry_with } = info.source else {
        panic!("closed by {:?}", info.source)
    };
    assert_eq!(retry_with, Some(VERSION_1));
    assert!(sim.server.conn.is_none());

    // A new connection with the version the server offered.
    let mut setup = Setup::new(15);
    setup.client.version = retry_with.unwrap();
    setup.server.versions = VersionList::new(&[VERSION_1]).unwrap();
    let mut sim = Sim::new(setup);
    assert!(sim.handshake(5 * S));
}

#[test]
fn retry_then_handshake() {
    let mut setup = Setup::new(16);
    setup.server.validate_peer_address = true;
    let mut sim = Sim::new(setup);
    assert!(sim.handshake(5 * S));
    assert_eq!(sim.retries, 1);
    let tp = sim.client.conn().peer_transport_params().unwrap();
    assert!(tp.retry_source_connection_id.is_some());
    echo_check(&mut sim);
}

/// The Retry token expires before the client's second Initial arrives (the server's
/// lifetime is shorter than a round trip): the server refuses at once with INVALID_TOKEN
/// instead of leaving the client to time out, and the client reports the peer's close.
#[test]
fn expired_retry_token_is_refused_with_invalid_token() {
    let mut setup = Setup::new(17);
    setup.server.validate_peer_address = true;
    setup.server.retry_token_lifetime = 1_000;
    let mut sim = Sim::new(setup);
    assert!(sim.run_until(2 * S, |s| s.client.closed.is_some()));
    assert!(
        sim.now < 200_000,
        "refused within a few round trips, took {} us",
        sim.now
    );
    assert_eq!(sim.retries, 1);
    assert_eq!(sim.refusals, 1);
    let info = sim.client.closed.as_ref().unwrap();
    assert_eq!(info.source, CloseSource::Peer);
    assert!(!info.app);
    assert_eq!(info.code, 0x0b, "INVALID_TOKEN");
    assert!(!sim.client.confirmed());
    assert!(sim.server.conn.is_none(), "the server kept no state");
}

#[test]
fn new_token_is_reused_to_skip_retry() {
    let mut setup = Setup::new(17);
    setup.server.validate_peer_address = true;
    let mut sim = Sim::new(setup);
    assert!(sim.handshake(5 * S));
    sim.run_for(S);
    assert_eq!(sim.retries, 1);
    let token = sim
        .client
        .tokens
        .first()
        .cloned()
        .expect("NEW_TOKEN received");

    let mut setup = Setup::new(18);
    setup.server.validate_peer_address = true;
    setup.token = Some(token);
    let mut sim = Sim::new(setup);
    assert!(sim.handshake(5 * S));
    assert_eq!(sim.retries, 0, "a valid token must skip the Retry");

    // A token presented from another address is not accepted: Retry again.
    let mut setup = Setup::new(19);
    setup.server.validate_peer_address = true;
    setup.token = Some(b"garbage that is not a token".to_vec());
    let mut sim = Sim::new(setup);
    assert!(sim.handshake(5 * S));
    assert_eq!(sim.retries, 1);
}

fn lossy(seed: u64, loss_ppm: u32) -> Sim {
    let mut setup = Setup::new(seed);
    setup.c2s = LinkParams {
        loss: loss_ppm,
        ..LinkParams::default()
    };
    setup.s2c = setup.c2s.clone();
    Sim::new(setup)
}

#[test]
fn handshake_with_5_percent_loss() {
    for seed in 0..20 {
        let mut sim = lossy(100 + seed, 50_000);
        assert!(
            sim.handshake(30 * S),
            "seed {seed}: no handshake by {}",
            sim.now
        );
        echo_check(&mut sim);
    }
}

#[test]
fn handshake_with_30_percent_loss() {
    for seed in 0..20 {
        let mut sim = lossy(200 + seed, 300_000);
        assert!(
            sim.handshake(60 * S),
            "seed {seed}: no handshake by {}",
            sim.now
        );
        echo_check(&mut sim);
    }
}

#[test]
fn anti_amplification_limit_is_respected() {
    let mut setup = Setup::new(20);
    // A big certificate flight cannot leave before the client proves its address.
    setup.c2s.loss = 0;
    let mut sim = Sim::new(setup);
    // Let the client's first Initial through, then cut the client off.
    let until = 15_000;
    sim.run_until(until, |s| s.server.conn.is_some());
    assert!(sim.server.conn.is_some());
    sim.c2s.params.down = true;
    sim.run_for(10 * S);
    assert!(sim.server.rx_bytes >= 1200);
    assert!(
        sim.server.tx_bytes <= 3 * sim.server.rx_bytes,
        "server sent {} bytes for {} received",
        sim.server.tx_bytes,
        sim.server.rx_bytes
    );
    // Restored: the handshake completes.
    sim.c2s.params.down = false;
    assert!(sim.handshake(30 * S));
}

fn resumption_configs(server_early: bool) -> (quic::tls::TlsConfig, quic::tls::TlsConfig) {
    let c = pki().client("h3").early_data(true).build().unwrap();
    let s = pki().server("h3").early_data(server_early).build().unwrap();
    (c, s)
}

fn first_connection(ctls: &quic::tls::TlsConfig, stls: &quic::tls::TlsConfig, seed: u64) -> Config {
    let mut setup = Setup::new(seed);
    setup.tls = TlsSetup::Rustls {
        client: ctls.clone(),
        server: stls.clone(),
    };
    let server_cfg = setup.server.clone();
    let mut sim = Sim::new(setup);
    assert!(sim.handshake(5 * S));
    // Let the NewSessionTicket arrive.
    sim.run_for(S);
    assert!(sim.client.tls.as_ref().unwrap().tickets_received() > 0);
    server_cfg
}

#[test]
fn zero_rtt_accepted() {
    let (ctls, stls) = resumption_configs(true);
    first_connection(&ctls, &stls, 30);
    let mut setup = Setup::new(31);
    setup.tls = TlsSetup::Rustls {
        client: ctls,
        server: stls,
    };
    let mut sim = Sim::new(setup);
    assert!(sim.client.conn().early_data_active(), "0-RTT not offered");
    let id = sim.client.conn_mut().stream_open(Dir::Bidi).unwrap();
    sim.client.send(id, b"early data", true);
    let until = 5 * S;
    assert!(sim.run_until(until, |s| s.server.fins.contains(&id.raw())));
    // Delivered within one round trip: before the client even completed the handshake.
    let done = sim.client.completed_at;
    assert!(
        sim.now <= 40_000,
        "0-RTT data at {} (client done {:?})",
        sim.now,
        done
    );
    assert_eq!(sim.server.received[&id.raw()], b"early data");
    assert!(sim.server.conn().early_data_active());
    assert!(sim.handshake(5 * S));
}

#[test]
fn zero_rtt_rejected_data_is_resent() {
    let (ctls, stls) = resumption_configs(true);
    first_connection(&ctls, &stls, 32);
    // A server that lost its session cache cannot accept the early data.
    let (_, fresh) = resumption_configs(true);
    let mut setup = Setup::new(33);
    setup.tls = TlsSetup::Rustls {
        client: ctls,
        server: fresh,
    };
    let mut sim = Sim::new(setup);
    assert!(sim.client.conn().early_data_active());
    let id = sim.client.conn_mut().stream_open(Dir::Bidi).unwrap();
    sim.client.send(id, b"early data, resent", true);
    let until = 5 * S;
    assert!(sim.run_until(until, |s| s.server.fins.contains(&id.raw())));
    assert_eq!(sim.server.received[&id.raw()], b"early data, resent");
    assert!(!sim.server.conn().early_data_active());
    assert!(sim.handshake(5 * S));
}

#[test]
fn slow_tls_stack_on_both_sides() {
    let mut sim = Sim::new(Setup::new(21));
    // The server's TLS is busy when the ClientHello arrives, the client's when the server's
    // flight arrives: the CRYPTO data and the packets waiting for keys are kept.
    sim.server.tls_paused = true;
    sim.run_for(50_000);
    sim.server.tls_paused = false;
    sim.client.tls_paused = true;
    sim.run_for(100_000);
    assert!(!sim.client.confirmed());
    sim.client.tls_paused = false;
    // The client's glue reports the end of the handshake late: HANDSHAKE_DONE arrives first.
    sim.client.defer_complete = true;
    sim.run_for(200_000);
    assert!(sim.server.confirmed());
    assert!(!sim.client.confirmed());
    sim.client.defer_complete = false;
    assert!(sim.handshake(5 * S));
    echo_check(&mut sim);
}

/// Runs a handshake where the client starts a 256 KiB upload as soon as its handshake completes
/// (1-RTT data in flight before confirmation), dropping the long-header datagrams (after the
/// client's first flight) whose index has its bit set in the side's mask. Returns the outcome.
fn handshake_with_upload(seed: u64, client_mask: u32, server_mask: u32) -> Result<(), String> {
    let mut sim = Sim::new(Setup::new(seed));
    let (mut ci, mut si) = (0u32, 0u32);
    sim.drop_filter = Some(Box::new(move |from_client, d: &[u8]| {
        if d.first().is_none_or(|b| b & 0x80 == 0) {
            return false;
        }
        let (i, mask) = if from_client {
            ci += 1;
            // The first flight (ClientHello) always goes through.
            if ci == 1 {
                return false;
            }
            (ci - 2, client_mask)
        } else {
            si += 1;
            (si - 1, server_mask)
        };
        i < 32 && mask & (1 << i) != 0
    }));
    let data = vec![0x5a_u8; 256 * 1024];
    let mut stream = None;
    let done = sim.run_until(20 * S, |s| {
        if stream.is_none() && s.client.completed_at.is_some() {
            let id = s.client.conn_mut().stream_open(Dir::Bidi).unwrap();
            s.client.send(id, &data, true);
            stream = Some(id);
        }
        stream.is_some_and(|id| s.server.fins.contains(&id.raw()))
            && s.client.confirmed()
            && s.server.confirmed()
    });
    if !done {
        return Err(format!(
            "not done by {} us: client confirmed {}, server confirmed {}, client timeout {:?}, \
             client stats {:?}",
            sim.now,
            sim.client.confirmed(),
            sim.server.confirmed(),
            sim.client.conn().poll_timeout(),
            sim.client.conn().stats(),
        ));
    }
    let id = stream.unwrap();
    if sim.server.received[&id.raw()] != data {
        return Err("upload corrupted".into());
    }
    Ok(())
}

/// The client's Handshake flight carrying its Finished, then its probe, are lost while 1-RTT
/// data fills the congestion window: the loss detector must still probe the Handshake space
/// (application-data PTOs are skipped before confirmation, so without that no timer is armed
/// and the handshake waits for the idle timeout).
#[test]
fn lost_client_finished_with_1rtt_data_in_flight() {
    handshake_with_upload(40, 0b11, 0).unwrap();
}

/// Every pattern of losing the first four client and three server long-header datagrams
/// while the client uploads before confirmation.
#[test]
fn handshake_loss_patterns_with_early_1rtt_data() {
    let mut failures = Vec::new();
    for client_mask in 0..16u32 {
        for server_mask in [0u32, 1, 2, 4, 7] {
            if let Err(e) = handshake_with_upload(41, client_mask, server_mask) {
                failures.push(format!(
                    "client {client_mask:#06b} server {server_mask:#05b}: {e}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A 1200-byte 0-RTT packet under the key the test installs as the server's early secret.
fn forged_zero_rtt(dcid: quic_proto::cid::ConnectionId, pn: u64, secret: &[u8]) -> Vec<u8> {
    use quic_hostcrypto::HostCrypto;
    use quic_proto::codec::Writer;
    use quic_proto::crypto::{CipherSuite, DirectionalKeys, Version, TAG_LEN};
    use quic_proto::packet::{write_long, LongHeader, LongType};
    let mut keys = DirectionalKeys::<HostCrypto>::new(
        &HostCrypto,
        CipherSuite::Aes128Gcm,
        Version::V1,
        secret,
    )
    .unwrap();
    let mut buf = [0u8; 1200];
    let mut w = Writer::new(&mut buf);
    let hdr = LongHeader {
        version: VERSION_1,
        dcid,
        scid: quic_proto::cid::ConnectionId::new(&[9; 8]).unwrap(),
        token: &[],
    };
    let layout = write_long(&mut w, LongType::ZeroRtt, &hdr, pn, 4, 2, true).unwrap();
    w.u8(0x01).unwrap();
    let pos = w.position();
    w.zeros(1200 - TAG_LEN - pos).unwrap();
    layout.set_length(&mut buf, 1200).unwrap();
    keys.seal_packet(&mut buf, layout.pn_offset, pn).unwrap();
    buf.to_vec()
}

/// A 0-RTT packet that waits for its key is counted once towards the anti-amplification
/// budget (on arrival), not again when it is processed: towards an address that never
/// answers, the server sends at most 3x what it received either way.
#[test]
fn buffered_packets_count_once_for_anti_amplification() {
    use quic_proto::conn::Level;
    use quic_proto::crypto::CipherSuite;
    const EARLY: [u8; 32] = [0x42; 32];
    for late_key in [false, true] {
        let mut sim = Sim::new(Setup::fake(90));
        // Only the client's first Initial gets through.
        let mut first = true;
        sim.drop_filter = Some(Box::new(move |from_client, _d: &[u8]| {
            let drop = from_client && !first;
            first &= !from_client;
            drop
        }));
        let until = sim.now + S;
        assert!(sim.run_until(until, |s| s.server.conn.is_some()));
        let dcid = sim.server.conn().original_dcid();
        let install = |sim: &mut Sim| {
            sim.server
                .conn_mut()
                .install_secret_suite(Level::Early, false, CipherSuite::Aes128Gcm, &EARLY)
                .unwrap()
        };
        if !late_key {
            install(&mut sim);
        }
        sim.inject(true, forged_zero_rtt(dcid, 0, &EARLY));
        sim.run_for(1);
        if late_key {
            install(&mut sim);
        }
        let id = sim.server.conn_mut().stream_open(Dir::Uni).unwrap();
        sim.server.send(id, &[1u8; 200_000], true);
        sim.run_for(3 * S);
        let (rx, tx) = (sim.server.rx_bytes, sim.server.tx_bytes);
        assert_eq!(rx, 2400, "late key {late_key}");
        assert!(
            tx <= 3 * rx,
            "late key {late_key}: sent {tx} for {rx} received"
        );
    }
}
