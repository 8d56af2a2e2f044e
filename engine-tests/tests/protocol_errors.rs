//! Protocol violations by an authentic peer close the connection with the right transport
//! error code (RFC 9000 §20.1). Packets are forged with the peer's real 1-RTT keys, which the
//! fake handshake lets the test derive.

use quic_hostcrypto::HostCrypto;
use quic_proto::codec::Writer;
use quic_proto::conn::CloseSource;
use quic_proto::crypto::{CipherSuite, DirectionalKeys, Version, TAG_LEN};
use quic_proto::error::TransportError;
use quic_proto::packet::{write_short, ShortHeader};
use quic_sim::{Setup, Sim};

const S: u64 = 1_000_000;

/// Sends `frames` to the client (or the server) in a 1-RTT packet protected with the other
/// side's key, and returns the close the receiver reported.
fn violate(seed: u64, to_server: bool, frames: &[u8], reserved_bits: bool) -> (u64, u64) {
    violate_full(seed, to_server, frames, reserved_bits, |_| {})
}

fn violate_with(
    seed: u64,
    to_server: bool,
    frames: &[u8],
    tweak: impl FnOnce(&mut Setup),
) -> (u64, u64) {
    violate_full(seed, to_server, frames, false, tweak)
}

fn violate_full(
    seed: u64,
    to_server: bool,
    frames: &[u8],
    reserved_bits: bool,
    tweak: impl FnOnce(&mut Setup),
) -> (u64, u64) {
    let mut setup = Setup::fake(seed);
    tweak(&mut setup);
    let mut sim = Sim::new(setup);
    assert!(sim.handshake(5 * S));
    sim.run_for(S);
    let pkt = forge(&sim, to_server, 0, 1_000_000, frames, reserved_bits);
    sim.inject(to_server, pkt);
    let close = local_close(&mut sim, to_server);
    // The peer hears about it too.
    let until = sim.now + 5 * S;
    let other_closed = sim.run_until(until, |s| {
        let o = if to_server { &s.client } else { &s.server };
        o.closed.is_some()
    });
    assert!(other_closed);
    close
}

fn code(e: TransportError) -> u64 {
    e.code()
}

#[test]
fn unknown_frame_type() {
    let (c, _) = violate(1, false, &[0x21], false);
    assert_eq!(c, code(TransportError::FrameEncodingError));
}

#[test]
fn reserved_bits_set() {
    let (c, _) = violate(2, false, &[0x01], true);
    assert_eq!(c, code(TransportError::ProtocolViolation));
}

#[test]
fn ack_of_a_packet_never_sent() {
    // ACK largest 900000, delay 0, no more ranges, first range 0.
    let (c, ft) = violate(
        3,
        false,
        &[0x02, 0x80, 0x0d, 0xbb, 0xa0, 0x00, 0x00, 0x00],
        false,
    );
    assert_eq!(c, code(TransportError::ProtocolViolation));
    assert_eq!(ft, 0x02);
}

#[test]
fn stream_frame_on_a_stream_we_never_opened() {
    // STREAM (with FIN) on stream 2: a client-initiated unidirectional stream the client
    // never opened; sent to the client.
    let (c, ft) = violate(4, false, &[0x09, 0x02, b'x'], false);
    assert_eq!(c, code(TransportError::StreamStateError));
    assert_eq!(ft & !0x07, 0x08, "a STREAM frame type");
}

#[test]
fn stream_beyond_the_stream_limit() {
    // Stream 4 * 100 + 1 = 401: the server's 101st bidirectional stream, beyond the limit.
    let (c, _) = violate(5, false, &[0x08, 0x41, 0x91, b'x'], false);
    assert_eq!(c, code(TransportError::StreamLimitError));
}

#[test]
fn data_beyond_flow_control() {
    // STREAM on server stream 1 at offset 2^20 (beyond 256 KiB of stream credit).
    let (c, _) = violate(
        6,
        false,
        &[0x0e, 0x01, 0x80, 0x10, 0x00, 0x00, 0x01, b'x'],
        false,
    );
    assert_eq!(c, code(TransportError::FlowControlError));
}

#[test]
fn handshake_done_from_a_client() {
    let (c, ft) = violate(7, true, &[0x1e], false);
    assert_eq!(c, code(TransportError::ProtocolViolation));
    assert_eq!(ft, 0x1e);
}

#[test]
fn new_token_from_a_client() {
    let (c, _) = violate(8, true, &[0x07, 0x01, 0xaa], false);
    assert_eq!(c, code(TransportError::ProtocolViolation));
}

#[test]
fn too_many_connection_ids() {
    // Eight NEW_CONNECTION_IDs with sequence numbers 100.. (limit 8 incl. those held).
    let mut f = Vec::new();
    for i in 0..8u8 {
        f.extend_from_slice(&[0x18, 0x40, 100 + i, 0x00, 8]);
        f.extend_from_slice(&[0xc0 + i; 8]);
        f.extend_from_slice(&[i; 16]);
    }
    let (c, _) = violate(9, false, &f, false);
    assert_eq!(c, code(TransportError::ConnectionIdLimitError));
}

#[test]
fn retire_of_an_id_never_issued() {
    let (c, _) = violate(10, false, &[0x19, 0x40, 0xff], false);
    assert_eq!(c, code(TransportError::ProtocolViolation));
}

#[test]
fn max_streams_above_2_pow_60() {
    let (c, _) = violate(
        11,
        false,
        &[0x12, 0xdf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        false,
    );
    assert_eq!(c, code(TransportError::FrameEncodingError));
}

#[test]
fn datagram_larger_than_allowed() {
    // A DATAGRAM frame larger than the client's max_datagram_frame_size (1100 > 1000).
    let mut f = vec![0x31, 0x44, 0x4c];
    f.extend_from_slice(&[0u8; 1100]);
    let (c, ft) = violate_with(13, false, &f, |s| {
        s.client.transport_params.max_datagram_frame_size = 1000
    });
    assert_eq!(c, code(TransportError::ProtocolViolation));
    assert_eq!(ft, 0x30);
}

/// A 1-RTT packet from `sim`'s client (`from_client`) or server, protected with generation
/// `generation` of its 1-RTT key (key phase = generation parity), carrying `frames` (and
/// with a reserved bit set if `reserved_bits`).
fn forge(
    sim: &Sim,
    from_client: bool,
    generation: u32,
    pn: u64,
    frames: &[u8],
    reserved_bits: bool,
) -> Vec<u8> {
    let (sender, receiver) = if from_client {
        (&sim.client, &sim.server)
    } else {
        (&sim.server, &sim.client)
    };
    let secret = sender
        .tls
        .as_ref()
        .unwrap()
        .app_secret(from_client)
        .unwrap();
    let dcid = receiver.conn().local_cids().next().unwrap().1;
    let mut keys = DirectionalKeys::<HostCrypto>::new(
        &HostCrypto,
        CipherSuite::Aes128Gcm,
        Version::V1,
        &secret,
    )
    .unwrap();
    for _ in 0..generation {
        keys.packet = keys.packet.next(&HostCrypto).unwrap();
    }
    let mut buf = [0u8; 1200];
    let mut w = Writer::new(&mut buf);
    let phase = generation % 2 == 1;
    let layout = write_short(
        &mut w,
        &ShortHeader { dcid, spin: false },
        phase,
        pn,
        4,
        true,
    )
    .unwrap();
    w.bytes(frames).unwrap();
    // Enough payload for header protection's sample.
    w.zeros(20).unwrap();
    let end = w.position() + TAG_LEN;
    if reserved_bits {
        buf[0] |= 0x08;
    }
    keys.seal_packet(&mut buf[..end], layout.pn_offset, pn)
        .unwrap();
    buf[..end].to_vec()
}

/// Runs until `receiver_is_server`'s side closed and returns its close (code, frame type).
fn local_close(sim: &mut Sim, receiver_is_server: bool) -> (u64, u64) {
    let until = sim.now + 5 * S;
    assert!(sim.run_until(until, |s| {
        let h = if receiver_is_server {
            &s.server
        } else {
            &s.client
        };
        h.closed.is_some()
    }));
    let h = if receiver_is_server {
        &sim.server
    } else {
        &sim.client
    };
    let info = h.closed.as_ref().unwrap();
    assert_eq!(info.source, CloseSource::Local);
    (info.code, info.frame_type)
}

/// The peer's first key update needs no acknowledgment of its phase-0 packets: right after
/// the handshake, before the server acknowledged anything of the client's 1-RTT packets, it
/// is accepted (RFC 9001 §6.1 asks for one only before a subsequent update).
#[test]
fn first_key_update_right_after_the_handshake() {
    let mut sim = Sim::new(Setup::fake(42));
    assert!(sim.handshake(5 * S));
    sim.inject(true, forge(&sim, true, 1, 1_000_000, &[0x01], false));
    sim.run_for(S);
    assert!(sim.server.closed.is_none(), "{:?}", sim.server.closed);
    assert!(sim.server.conn().key_phase(), "the server followed");
}

/// One key update by the peer is fine; a second one before we acknowledged any packet of the
/// first new phase is KEY_UPDATE_ERROR (RFC 9001 §6.1, §6.5).
#[test]
fn consecutive_key_updates_without_acknowledgment() {
    let mut sim = Sim::new(Setup::fake(40));
    assert!(sim.handshake(5 * S));
    sim.run_for(S);
    // Generation 1: a valid update by the "client"; the server follows.
    sim.inject(true, forge(&sim, true, 1, 1_000_000, &[0x01], false));
    sim.run_for(S);
    assert!(sim.server.closed.is_none(), "a single update is valid");
    assert!(sim.server.conn().key_phase(), "the server followed");
    // Generations 2 and 3 arrive together: the second update comes before the server
    // acknowledged anything of generation 2.
    sim.inject(true, forge(&sim, true, 2, 1_000_010, &[0x01], false));
    sim.inject(true, forge(&sim, true, 3, 1_000_011, &[0x01], false));
    let (c, _) = local_close(&mut sim, true);
    assert_eq!(c, code(TransportError::KeyUpdateError));
}

/// While the client's update waits for an answer, a packet still in the server's old phase
/// acknowledges a packet the client sent with the new keys: KEY_UPDATE_ERROR (RFC 9001 §6.2).
#[test]
fn old_keys_acknowledging_a_packet_with_newer_keys() {
    use quic_proto::crypto::unprotect_header;
    use quic_proto::packet::parse;
    use std::sync::{Arc, Mutex};
    let mut sim = Sim::new(Setup::fake(41));
    assert!(sim.handshake(5 * S));
    sim.run_for(S);
    // From now on the server hears nothing: it never sees the new phase.
    let captured: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let sink = captured.clone();
    sim.drop_filter = Some(Box::new(move |from_client, d: &[u8]| {
        if from_client {
            sink.lock().unwrap().push(d.to_vec());
        }
        from_client
    }));
    sim.client.conn_mut().key_update().unwrap();
    let id = sim
        .client
        .conn_mut()
        .stream_open(quic_proto::stream::Dir::Bidi)
        .unwrap();
    sim.client.send(id, b"new phase", false);
    sim.run_for(100_000);
    // The packet number of the client's last packet (new keys), read through its header
    // protection.
    let secret = sim.client.tls.as_ref().unwrap().app_secret(true).unwrap();
    let keys = DirectionalKeys::<HostCrypto>::new(
        &HostCrypto,
        CipherSuite::Aes128Gcm,
        Version::V1,
        &secret,
    )
    .unwrap();
    let mut last = captured
        .lock()
        .unwrap()
        .last()
        .cloned()
        .expect("client sent");
    let cid_len = sim.server.conn().local_cids().next().unwrap().1.len();
    let pn_offset = parse(&last, cid_len, false).unwrap().pn_offset;
    let hdr = unprotect_header(&keys.header, &mut last, pn_offset, None).unwrap();
    assert!(hdr.key_phase, "sent with the new keys");
    // ACK frame: largest = that packet, delay 0, no more ranges, first range 0.
    let mut ack = vec![0x02];
    let mut b = [0u8; 8];
    let mut w = Writer::new(&mut b);
    w.varint(hdr.packet_number).unwrap();
    let n = w.position();
    ack.extend_from_slice(&b[..n]);
    ack.extend_from_slice(&[0, 0, 0]);
    sim.inject(false, forge(&sim, false, 0, 1_000_000, &ack, false));
    let (c, ft) = local_close(&mut sim, false);
    assert_eq!(c, code(TransportError::KeyUpdateError));
    assert_eq!(ft, 0x02);
}

/// NEW_CONNECTION_ID frames below Retire Prior To each need a RETIRE_CONNECTION_ID. A peer
/// that keeps sending them and never acknowledges our retirements cannot make that list grow
/// without bound: past the number we track (RFC 9000 §5.1.2 asks for at least twice our
/// active_connection_id_limit) it is CONNECTION_ID_LIMIT_ERROR.
#[test]
fn retirements_never_acknowledged_hit_the_connection_id_limit() {
    let mut sim = Sim::new(Setup::fake(77));
    assert!(sim.handshake(5 * S));
    sim.run_for(S);
    // The "server" never hears from the client again: nothing of ours is acknowledged.
    sim.drop_filter = Some(Box::new(|from_client, _d: &[u8]| from_client));
    let ncid = |f: &mut Vec<u8>, seq: u32, rpt: u32, cid: u8| {
        f.push(0x18);
        f.extend_from_slice(&(0x8000_0000u32 | seq).to_be_bytes());
        f.extend_from_slice(&(0x8000_0000u32 | rpt).to_be_bytes());
        f.push(8);
        f.extend_from_slice(&[cid; 8]);
        f.extend_from_slice(&[0x5a; 16]);
    };
    let big = (1u32 << 30) - 1;
    let mut f = Vec::new();
    ncid(&mut f, big, big, 0xaa);
    let mut pn = 1_000_000u64;
    sim.inject(false, forge(&sim, false, 0, pn, &f, false));
    sim.run_for(10_000);
    assert!(sim.client.closed.is_none(), "{:?}", sim.client.closed);
    let mut seq = 0u32;
    for _ in 0..20 {
        pn += 1;
        let mut f = Vec::new();
        for _ in 0..20 {
            ncid(&mut f, seq, 0, 0xbb);
            seq += 1;
        }
        sim.inject(false, forge(&sim, false, 0, pn, &f, false));
        sim.run_for(20_000);
        if sim.client.closed.is_some() {
            break;
        }
    }
    let (c, ft) = local_close(&mut sim, false);
    assert_eq!(c, code(TransportError::ConnectionIdLimitError));
    assert_eq!(ft, 0x18);
    assert!(seq <= 100, "closed only after {seq} retirements");
}

/// A packet whose STREAM frame is not stored (the stream's reassembly is too fragmented) is
/// processed but not acknowledged; a replay of it is still a duplicate: its DATAGRAM is
/// delivered once (RFC 9000 §12.3).
#[test]
fn unacknowledged_packet_is_not_processed_twice() {
    let mut setup = Setup::fake(43);
    setup.server.transport_params.max_datagram_frame_size = 1200;
    setup.client.transport_params.max_datagram_frame_size = 1200;
    let mut sim = Sim::new(setup);
    assert!(sim.handshake(5 * S));
    sim.run_for(S);
    // One-byte STREAM frames at every other offset of stream 0: 1,200 gaps, more than a
    // stream keeps (1,024).
    let frame = |off: u16| [0x0e, 0x00, 0x40 | (off >> 8) as u8, off as u8, 0x01, 0x61];
    let mut pn = 1_000_000u64;
    for p in 0..8u16 {
        let mut f = Vec::new();
        for i in 0..150u16 {
            f.extend_from_slice(&frame(2 * (150 * p + i)));
        }
        sim.inject(true, forge(&sim, true, 0, pn, &f, false));
        pn += 1;
        sim.run_for(10_000);
    }
    assert!(sim.server.closed.is_none(), "{:?}", sim.server.closed);
    let before = sim.server.datagrams.len();
    // A DATAGRAM, then one more gap the stream cannot keep.
    let mut f = vec![0x31, 5];
    f.extend_from_slice(b"hello");
    f.extend_from_slice(&frame(2 * 1300));
    let pkt = forge(&sim, true, 0, pn, &f, false);
    sim.inject(true, pkt.clone());
    sim.run_for(10_000);
    assert_eq!(sim.server.datagrams.len(), before + 1);
    sim.inject(true, pkt);
    sim.run_for(10_000);
    assert_eq!(
        sim.server.datagrams.len(),
        before + 1,
        "replay delivered again"
    );
    assert!(sim.server.closed.is_none(), "{:?}", sim.server.closed);
}
