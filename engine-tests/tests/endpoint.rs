//! The endpoint's decisions on datagrams no connection claimed, and address validation
//! tokens.

use std::net::SocketAddr;

use quic_hostcrypto::HostCrypto;
use quic_proto::cid::ConnectionId;
use quic_proto::codec::Writer;
use quic_proto::conn::token::{self, TokenInfo};
use quic_proto::conn::{Config, Key32, VersionList};
use quic_proto::endpoint::{self, Decision};
use quic_proto::packet::{parse, write_long, Header, LongHeader, LongType, VERSION_1, VERSION_2};
use quic_sim::SimRng;

fn cid(b: &[u8]) -> ConnectionId {
    ConnectionId::new(b).unwrap()
}

fn config() -> Config {
    let mut c = Config::new();
    c.token_key = Key32([3; 32]);
    c.reset_key = Key32([4; 32]);
    c
}

/// A datagram holding an Initial header of `version` padded to `len` bytes.
fn initial(version: u32, dcid: &[u8], token: &[u8], len: usize) -> Vec<u8> {
    if !quic_proto::packet::is_supported_version(version) {
        // Only the invariant header fields (RFC 8999) of an unknown version.
        let mut b = vec![0xc0];
        b.extend_from_slice(&version.to_be_bytes());
        b.push(dcid.len() as u8);
        b.extend_from_slice(dcid);
        b.extend_from_slice(&[8, 9, 9, 9, 9, 9, 9, 9, 9]);
        b.resize(len, 0);
        return b;
    }
    let mut buf = vec![0u8; len];
    let mut w = Writer::new(&mut buf);
    let h = LongHeader {
        version,
        dcid: cid(dcid),
        scid: cid(&[9; 8]),
        token,
    };
    let l = write_long(&mut w, LongType::Initial, &h, 0, 4, 2, true).unwrap();
    l.set_length(&mut buf, len).unwrap();
    buf
}

const FROM: &str = "192.0.2.7:4444";

fn decide(cfg: &Config, now: u64, dgram: &[u8]) -> (Decision, Vec<u8>) {
    let mut out = vec![0u8; 1500];
    let mut rng = SimRng::new(1);
    let d = endpoint::handle(
        &HostCrypto,
        cfg,
        now,
        FROM.parse().unwrap(),
        dgram,
        &mut out,
        &mut rng,
    );
    (d, out)
}

#[test]
fn accepts_a_full_size_initial() {
    let (d, _) = decide(&config(), 0, &initial(VERSION_1, &[1; 8], &[], 1200));
    let Decision::Accept(a) = d else {
        panic!("{d:?}")
    };
    assert_eq!(a.version, VERSION_1);
    assert_eq!(a.initial_dcid, cid(&[1; 8]));
    assert_eq!(a.original_dcid, cid(&[1; 8]));
    assert!(!a.address_validated);
}

#[test]
fn drops_small_initials_and_short_dcids() {
    assert_eq!(
        decide(&config(), 0, &initial(VERSION_1, &[1; 8], &[], 1199)).0,
        Decision::Drop
    );
    assert_eq!(
        decide(&config(), 0, &initial(VERSION_1, &[1; 7], &[], 1200)).0,
        Decision::Drop
    );
}

#[test]
fn version_negotiation_for_unknown_versions() {
    let (d, out) = decide(&config(), 0, &initial(0x1a2a_3a4a, &[1; 8], &[], 1200));
    let Decision::Respond(n) = d else {
        panic!("{d:?}")
    };
    let p = parse(&out[..n], 0, false).unwrap();
    let Header::VersionNegotiation(vn) = p.header else {
        panic!()
    };
    assert!(vn.contains(VERSION_1) && vn.contains(VERSION_2));
    assert_eq!(vn.dcid, &[9; 8]);
    assert_eq!(vn.scid, &[1; 8]);
    // A version we know but the configuration excludes gets VN too.
    let mut cfg = config();
    cfg.versions = VersionList::new(&[VERSION_1]).unwrap();
    let (d, _) = decide(&cfg, 0, &initial(VERSION_2, &[1; 8], &[], 1200));
    assert!(matches!(d, Decision::Respond(_)));
    // Never for small datagrams.
    assert_eq!(
        decide(&config(), 0, &initial(0x1a2a_3a4a, &[1; 8], &[], 600)).0,
        Decision::Drop
    );
}

#[test]
fn retry_then_accept_with_its_token() {
    let mut cfg = config();
    cfg.validate_peer_address = true;
    let (d, out) = decide(&cfg, 1_000, &initial(VERSION_1, &[1; 8], &[], 1200));
    let Decision::Respond(n) = d else {
        panic!("{d:?}")
    };
    let p = parse(&out[..n], 0, false).unwrap();
    let Header::Retry(r) = p.header else {
        panic!("{:?}", p.header)
    };
    let retry_scid = r.scid;
    let tok = r.token.to_vec();
    // The client comes back with the token, to the Retry's connection ID.
    let (d, _) = decide(&cfg, 2_000, &initial(VERSION_1, &retry_scid, &tok, 1200));
    let Decision::Accept(a) = d else {
        panic!("{d:?}")
    };
    assert!(a.address_validated);
    assert_eq!(a.original_dcid, cid(&[1; 8]));
    assert_eq!(a.retry_scid, Some(retry_scid));
    // Too late: the token expired. The client would not follow a second Retry, so the
    // server refuses at once with INVALID_TOKEN (RFC 9000 §8.1.3).
    let late = 2_000 + cfg.retry_token_lifetime + 1;
    let (d, out) = decide(&cfg, late, &initial(VERSION_1, &retry_scid, &tok, 1200));
    assert_invalid_token_close(d, out, &retry_scid);
    // The same for the right token sent to another connection ID than the Retry's.
    let (d, out) = decide(&cfg, 2_000, &initial(VERSION_1, &[0x77; 8], &tok, 1200));
    assert_invalid_token_close(d, out, &[0x77; 8]);
    // A token that is not ours (or a corrupted one) is ignored: another Retry.
    let mut forged = tok.clone();
    forged[20] ^= 1;
    let (d, out) = decide(&cfg, 2_000, &initial(VERSION_1, &retry_scid, &forged, 1200));
    let Decision::Respond(n) = d else {
        panic!("{d:?}")
    };
    assert!(matches!(
        parse(&out[..n], 0, false).unwrap().header,
        Header::Retry(_)
    ));
}

/// `d` answers with an Initial that the client (whose Initial went to `dcid`) can open and
/// that holds only CONNECTION_CLOSE(INVALID_TOKEN).
fn assert_invalid_token_close(d: Decision, mut out: Vec<u8>, dcid: &[u8]) {
    use quic_proto::codec::Reader;
    use quic_proto::crypto::initial::initial_keys;
    use quic_proto::crypto::{Side, Version};
    use quic_proto::frame::Frame;
    let Decision::Respond(n) = d else {
        panic!("{d:?}")
    };
    assert!(n < 1200, "smaller than the trigger: {n}");
    let p = parse(&out[..n], 0, false).unwrap();
    let Header::Initial(h) = p.header else {
        panic!("{:?}", p.header)
    };
    assert_eq!(h.dcid, cid(&[9; 8]), "to the client's Source Connection ID");
    assert_eq!(p.len, n, "one packet");
    let pn_offset = p.pn_offset;
    let keys = initial_keys(&HostCrypto, Version::V1, dcid, Side::Client).unwrap();
    let opened = keys
        .remote
        .open_packet(&mut out[..n], pn_offset, None)
        .unwrap();
    let mut r = Reader::new(&out[opened.payload.clone()]);
    let Frame::ConnectionClose(c) = Frame::parse(&mut r).unwrap() else {
        panic!("not a CONNECTION_CLOSE")
    };
    assert_eq!(c.error_code, 0x0b, "INVALID_TOKEN");
    assert_eq!(c.frame_type, Some(0));
    assert!(r.is_empty());
}

#[test]
fn stateless_reset_for_unknown_short_headers() {
    let cfg = config();
    let mut pkt = vec![0x40u8; 60];
    pkt[1..9].copy_from_slice(&[5; 8]);
    let (d, out) = decide(&cfg, 0, &pkt);
    let Decision::Respond(n) = d else {
        panic!("{d:?}")
    };
    assert!(n < pkt.len(), "smaller than the trigger");
    assert_eq!(out[0] & 0xc0, 0x40);
    // Too small to answer without risking a loop.
    assert_eq!(decide(&cfg, 0, &pkt[..21]).0, Decision::Drop);
}

#[test]
fn routing_by_destination_connection_id() {
    assert_eq!(
        endpoint::dcid(&initial(VERSION_1, &[7; 12], &[], 1200), 8),
        Some(&[7u8; 12][..])
    );
    let mut short = vec![0x40u8; 30];
    short[1..9].copy_from_slice(&[6; 8]);
    assert_eq!(endpoint::dcid(&short, 8), Some(&[6u8; 8][..]));
    assert_eq!(endpoint::dcid(&[], 8), None);
    assert_eq!(endpoint::dcid(&[0xc0, 0, 0, 0, 1, 30, 1], 8), None);
}

#[test]
fn tokens_bind_address_kind_and_time() {
    let key = [7u8; 32];
    let a: SocketAddr = "198.51.100.1:1000".parse().unwrap();
    let mut buf = [0u8; token::MAX_TOKEN_LEN];
    let n = token::mint_new_token(&HostCrypto, &key, [1; 12], 5_000, a, &mut buf).unwrap();
    let t = &buf[..n];
    assert!(n <= 120, "fits the socket API's token limit");
    let ok = |t: &[u8], now, addr| token::validate(&HostCrypto, &key, t, now, addr, 10, 1_000_000);
    assert_eq!(ok(t, 6_000, a), Some(TokenInfo::NewToken));
    // Another port is fine for a NEW_TOKEN token (the client may rebind), another IP is not.
    assert_eq!(
        ok(t, 6_000, "198.51.100.1:2000".parse().unwrap()),
        Some(TokenInfo::NewToken)
    );
    assert_eq!(ok(t, 6_000, "198.51.100.2:1000".parse().unwrap()), None);
    assert_eq!(ok(t, 5_000 + 1_000_001, a), None);
    let mut bad = t.to_vec();
    bad[20] ^= 1;
    assert_eq!(ok(&bad, 6_000, a), None);
    assert_eq!(
        token::validate(&HostCrypto, &[8; 32], t, 6_000, a, 10, 1_000_000),
        None
    );
    let n = token::mint_retry(
        &HostCrypto,
        &key,
        [2; 12],
        5_000,
        a,
        &cid(&[1; 8]),
        &cid(&[2; 8]),
        &mut buf,
    )
    .unwrap();
    let r = &buf[..n];
    assert!(matches!(ok(r, 5_005, a), Some(TokenInfo::Retry { .. })));
    // Retry tokens are short-lived and bound to the port too; an authentic one that fails a
    // check is reported as such (the server refuses with INVALID_TOKEN).
    assert_eq!(ok(r, 5_011, a), Some(TokenInfo::InvalidRetry));
    assert_eq!(
        ok(r, 5_005, "198.51.100.1:1001".parse().unwrap()),
        Some(TokenInfo::InvalidRetry)
    );
    assert_eq!(
        ok(r, 5_005, "198.51.100.2:1000".parse().unwrap()),
        Some(TokenInfo::InvalidRetry)
    );
    let mut bad = r.to_vec();
    bad[30] ^= 4;
    assert_eq!(ok(&bad, 5_005, a), None);
}

#[test]
fn a_corrupted_initial_header_is_not_authenticated() {
    use quic_proto::conn::{Connection, Level};
    use quic_proto::recovery::ecn::EcnCodepoint;
    let cfg = config();
    let client_addr: SocketAddr = FROM.parse().unwrap();
    let server_addr: SocketAddr = "192.0.2.1:443".parse().unwrap();
    let mut rng = SimRng::new(5);
    let mut client = Connection::client(
        HostCrypto,
        &cfg,
        cid(&[0xc1; 8]),
        cid(&[0xd1; 8]),
        client_addr,
        server_addr,
        0,
        &mut rng,
    )
    .unwrap();
    client
        .crypto_write(Level::Initial, b"a ClientHello")
        .unwrap();
    let mut buf = vec![0u8; 1500];
    let t = client.poll_transmit(0, &mut buf).unwrap();
    let good = buf[..t.len].to_vec();
    // Flip a bit of the client's Source Connection ID (header bytes 15..23).
    let mut bad = good.clone();
    bad[16] ^= 0x10;
    for (dgram, authentic) in [(bad, false), (good, true)] {
        let (d, _) = decide(&cfg, 0, &dgram);
        let Decision::Accept(a) = d else {
            panic!("{d:?}")
        };
        let mut server = Connection::server(
            HostCrypto,
            &cfg,
            &a,
            cid(&[0x5e; 8]),
            server_addr,
            client_addr,
            0,
            &mut rng,
        )
        .unwrap();
        let mut data = dgram.clone();
        server.recv_datagram(0, client_addr, server_addr, &mut data, EcnCodepoint::NotEct);
        assert_eq!(server.peer_authenticated(), authentic);
    }
}
