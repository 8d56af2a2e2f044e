//! Closing, draining, idle timeout, keepalive, stateless reset, key update and datagrams.

use quic_proto::conn::{CloseSource, DatagramError, Event};
use quic_proto::error::TransportError;
use quic_proto::stream::Dir;
use quic_sim::{Setup, Sim};

const S: u64 = 1_000_000;

fn connected(seed: u64) -> Sim {
    let mut sim = Sim::new(Setup::new(seed));
    assert!(sim.handshake(5 * S));
    sim
}

fn exchange(sim: &mut Sim, msg: &[u8]) {
    let id = sim.client.conn_mut().stream_open(Dir::Bidi).unwrap();
    sim.client.send(id, msg, true);
    let until = sim.now + 10 * S;
    assert!(sim.run_until(until, |s| s.server.fins.contains(&id.raw())));
    assert_eq!(sim.server.received[&id.raw()], msg);
    sim.server.send(id, msg, true);
    let until = sim.now + 10 * S;
    assert!(sim.run_until(until, |s| s.client.fins.contains(&id.raw())));
}

#[test]
fn client_closes_with_application_code_and_phrase() {
    let mut sim = connected(50);
    sim.client.conn_mut().close(true, 42, 0, b"bye now");
    let until = sim.now + 5 * S;
    assert!(sim.run_until(until, |s| s.server.closed.is_some()));
    let info = sim.server.closed.as_ref().unwrap();
    assert_eq!(info.source, CloseSource::Peer);
    assert!(info.app);
    assert_eq!(info.code, 42);
    assert_eq!(&info.reason[..], b"bye now");
    let mine = sim.client.closed.as_ref().unwrap();
    assert_eq!(mine.source, CloseSource::Local);
    // Closing and draining periods end; then both are silent.
    let until = sim.now + 10 * S;
    assert!(sim.run_until(until, |s| s.client.conn().is_drained()
        && s.server.conn().is_drained()));
    assert_eq!(sim.client.conn_mut().poll_timeout(), None);
}

#[test]
fn server_closes_with_transport_code() {
    let mut sim = connected(51);
    let code = TransportError::ProtocolViolation.code();
    sim.server.conn_mut().close(false, code, 0x08, b"no thanks");
    let until = sim.now + 5 * S;
    assert!(sim.run_until(until, |s| s.client.closed.is_some()));
    let info = sim.client.closed.as_ref().unwrap();
    assert_eq!(info.source, CloseSource::Peer);
    assert!(!info.app);
    assert_eq!(info.code, code);
    assert_eq!(info.frame_type, 0x08);
    assert_eq!(&info.reason[..], b"no thanks");
}

#[test]
fn closing_endpoint_answers_packets_with_close() {
    let mut sim = connected(52);
    // The close is lost: the client, still sending, gets it again in answer.
    sim.s2c.params.down = true;
    sim.server.conn_mut().close(true, 1, 0, b"");
    sim.run_for(10_000);
    sim.s2c.params.down = false;
    let id = sim.client.conn_mut().stream_open(Dir::Bidi).unwrap();
    sim.client.send(id, b"anyone there?", false);
    let until = sim.now + 5 * S;
    assert!(sim.run_until(until, |s| s.client.closed.is_some()));
    assert_eq!(sim.client.closed.as_ref().unwrap().code, 1);
}

#[test]
fn close_during_handshake() {
    let mut sim = Sim::new(Setup::new(53));
    let until = 15_000;
    sim.run_until(until, |s| s.server.conn.is_some());
    sim.server.conn_mut().close(true, 77, 0, b"go away");
    let until = sim.now + 5 * S;
    assert!(sim.run_until(until, |s| s.client.closed.is_some()));
    // Before 1-RTT an application close becomes APPLICATION_ERROR (RFC 9000 §10.2.3).
    let info = sim.client.closed.as_ref().unwrap();
    assert!(!info.app);
    assert_eq!(info.code, TransportError::ApplicationError.code());
}

#[test]
fn idle_timeout_closes_both_sides() {
    let mut setup = Setup::new(54);
    setup.client.transport_params.max_idle_timeout = 2_000;
    setup.server.transport_params.max_idle_timeout = 1_000;
    let mut sim = Sim::new(setup);
    assert!(sim.handshake(5 * S));
    let start = sim.now;
    let until = sim.now + 10 * S;
    assert!(sim.run_until(until, |s| s.client.closed.is_some()
        && s.server.closed.is_some()));
    for h in [&sim.client, &sim.server] {
        assert_eq!(h.closed.as_ref().unwrap().source, CloseSource::IdleTimeout);
    }
    // The smaller of the two timeouts applies.
    assert!(
        sim.now - start >= 900_000 && sim.now - start <= 1_200_000,
        "{}",
        sim.now - start
    );
}

#[test]
fn keepalive_keeps_an_idle_connection() {
    let mut setup = Setup::new(55);
    setup.client.transport_params.max_idle_timeout = 1_000;
    setup.server.transport_params.max_idle_timeout = 1_000;
    setup.client.keepalive_interval = 300_000;
    let mut sim = Sim::new(setup);
    assert!(sim.handshake(5 * S));
    sim.run_for(10 * S);
    assert!(sim.client.closed.is_none() && sim.server.closed.is_none());
    exchange(&mut sim, b"still here");
}

#[test]
fn stateless_reset_is_detected() {
    stateless_reset_case(false, 8);
    stateless_reset_case(false, 0);
}

/// Unprotected 1-RTT packets never fail to open, and with zero-length connection IDs every
/// short header is ours: the reset must be spotted before its bytes are read as frames.
#[test]
fn stateless_reset_is_detected_with_disable_1rtt_encryption() {
    stateless_reset_case(true, 8);
    stateless_reset_case(true, 0);
}

fn stateless_reset_case(plain: bool, client_cid_len: usize) {
    let mut setup = Setup::new(56);
    setup.client.transport_params.disable_1rtt_encryption = plain;
    setup.server.transport_params.disable_1rtt_encryption = plain;
    setup.client.cid_len = client_cid_len;
    let mut sim = Sim::new(setup);
    assert!(sim.handshake(5 * S));
    assert_eq!(sim.client.conn().is_1rtt_unprotected(), plain);
    exchange(&mut sim, b"before");
    // The server loses its state; the client's next packet draws a stateless reset.
    sim.server_forgot = true;
    let id = sim.client.conn_mut().stream_open(Dir::Bidi).unwrap();
    sim.client.send(id, b"after the reboot", false);
    let until = sim.now + 5 * S;
    assert!(sim.run_until(until, |s| s.client.closed.is_some()));
    assert!(sim.stateless_resets >= 1);
    assert_eq!(
        sim.client.closed.as_ref().unwrap().source,
        CloseSource::StatelessReset
    );
    let until = sim.now + 5 * S;
    assert!(sim.run_until(until, |s| s.client.conn().is_drained()));
}

#[test]
fn key_update_both_sides() {
    let mut sim = connected(57);
    exchange(&mut sim, b"phase 0");
    sim.client.conn_mut().key_update().unwrap();
    // A second update must wait for the first to be acknowledged.
    assert!(sim.client.conn_mut().key_update().is_err());
    exchange(&mut sim, b"phase 1");
    assert!(sim.client.conn().key_phase());
    assert!(sim.server.conn().key_phase());
    assert_eq!(
        sim.client
            .count(|e| matches!(e, Event::KeyUpdate { phase: true })),
        1
    );
    assert_eq!(
        sim.server
            .count(|e| matches!(e, Event::KeyUpdate { phase: true })),
        1
    );
    // Now the server initiates.
    sim.run_for(S);
    sim.server.conn_mut().key_update().unwrap();
    exchange(&mut sim, b"phase 0 again");
    assert!(!sim.client.conn().key_phase());
    assert!(!sim.server.conn().key_phase());
    // Repeatedly, with data in flight and reordering.
    sim.c2s.params.jitter = 5_000;
    sim.s2c.params.jitter = 5_000;
    for i in 0..6 {
        sim.run_for(S);
        let who = if i % 2 == 0 {
            &mut sim.client
        } else {
            &mut sim.server
        };
        who.conn_mut().key_update().unwrap();
        exchange(&mut sim, &[i as u8; 3000]);
    }
    sim.run_for(S);
    assert_eq!(sim.client.conn().stats().key_updates, 8);
    assert_eq!(sim.server.conn().stats().key_updates, 8);
}

#[test]
fn datagrams_both_ways_and_too_large() {
    let mut sim = connected(58);
    let max = sim.client.conn().datagram_max_size();
    assert!(max > 1000 && max < 1200, "max datagram {max}");
    sim.client
        .conn_mut()
        .datagram_send(b"unreliable hello")
        .unwrap();
    sim.server
        .conn_mut()
        .datagram_send(&vec![9u8; max])
        .unwrap();
    assert_eq!(
        sim.client.conn_mut().datagram_send(&vec![0u8; max + 1]),
        Err(DatagramError::TooLarge)
    );
    let until = sim.now + 5 * S;
    assert!(sim.run_until(until, |s| !s.server.datagrams.is_empty()
        && !s.client.datagrams.is_empty()));
    assert_eq!(sim.server.datagrams[0], b"unreliable hello");
    assert_eq!(sim.client.datagrams[0], vec![9u8; max]);
}

#[test]
fn datagrams_refused_when_peer_does_not_accept_them() {
    let mut setup = Setup::new(59);
    setup.server.transport_params.max_datagram_frame_size = 0;
    let mut sim = Sim::new(setup);
    assert!(sim.handshake(5 * S));
    assert_eq!(
        sim.client.conn_mut().datagram_send(b"x"),
        Err(DatagramError::Unsupported)
    );
}

/// Runs a connection where the client and the server ask for disable_1rtt_encryption as
/// given, sends a recognisable message each way over a link with some loss, and returns
/// whether each side negotiated it and whether the message was readable on the wire.
fn plaintext_run(client: bool, server: bool) -> (bool, bool, bool) {
    use std::sync::{Arc, Mutex};
    let mut setup = Setup::new(60);
    setup.client.transport_params.disable_1rtt_encryption = client;
    setup.server.transport_params.disable_1rtt_encryption = server;
    setup.c2s.loss = 20_000;
    setup.s2c.loss = 20_000;
    let mut sim = Sim::new(setup);
    let wire: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let sink = wire.clone();
    sim.drop_filter = Some(Box::new(move |_, d: &[u8]| {
        sink.lock().unwrap().push(d.to_vec());
        false
    }));
    assert!(sim.handshake(10 * S));
    let msg: Vec<u8> = b"readable on the wire? "
        .iter()
        .copied()
        .cycle()
        .take(200_000)
        .collect();
    exchange(&mut sim, &msg);
    assert_eq!(sim.client.received.values().next().unwrap(), &msg);
    let needle = b"readable on the wire? readable";
    let seen = wire
        .lock()
        .unwrap()
        .iter()
        .any(|d| d.windows(needle.len()).any(|w| w == needle));
    let (c, s) = (
        sim.client.conn().is_1rtt_unprotected(),
        sim.server.conn().is_1rtt_unprotected(),
    );
    if c {
        assert!(
            sim.client.conn_mut().key_update().is_err(),
            "no keys to update"
        );
    }
    (c, s, seen)
}

/// disable_1rtt_encryption (lxin/quic's extension): only when both sides ask for it do 1-RTT
/// packets go without protection; the transfer stays intact (with loss) either way.
#[test]
fn disable_1rtt_encryption_only_when_both_ask() {
    assert_eq!(plaintext_run(true, true), (true, true, true));
    assert_eq!(plaintext_run(true, false), (false, false, false));
    assert_eq!(plaintext_run(false, true), (false, false, false));
    assert_eq!(plaintext_run(false, false), (false, false, false));
}

/// A client that has sent nothing yet (a kernel consumer's socket waiting for the handshake
/// agent) has no idle timer: it cannot time out before its first packet, however long the
/// wait.
#[test]
fn no_idle_timeout_before_the_first_packet() {
    let mut setup = Setup::new(57);
    setup.client.transport_params.max_idle_timeout = 1_000;
    setup.server.transport_params.max_idle_timeout = 1_000;
    let mut sim = Sim::new(setup);
    let conn = sim.client.conn_mut();
    assert_eq!(conn.stats().packets_sent, 0);
    assert_eq!(
        conn.poll_timeout(),
        None,
        "a timer before anything was sent"
    );
    conn.on_timeout(60 * S);
    assert!(!conn.is_closed(), "closed without ever sending");
    // Later, the handshake still completes (idle_timeout_closes_both_sides covers the timer
    // once packets flow).
    assert!(sim.handshake(65 * S));
    assert!(sim.client.closed.is_none());
}
