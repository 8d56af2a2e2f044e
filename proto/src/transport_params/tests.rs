//! Transport parameter round-trip, rejection and property tests.

use super::*;
use crate::error::TransportError;
use proptest::prelude::*;
use std::vec::Vec;

fn cid(b: &[u8]) -> ConnectionId {
    ConnectionId::new(b).unwrap()
}

fn tlv(pid: u64, value: &[u8]) -> Vec<u8> {
    let mut buf = std::vec![0u8; value.len() + 16];
    let mut w = Writer::new(&mut buf);
    w.varint(pid).unwrap();
    w.varint(value.len() as u64).unwrap();
    w.bytes(value).unwrap();
    let n = w.position();
    buf.truncate(n);
    buf
}

fn int_tlv(pid: u64, v: u64) -> Vec<u8> {
    let mut b = [0u8; 8];
    let n = varint::encode(v, &mut b).unwrap();
    tlv(pid, &b[..n])
}

/// The parameters every client must send.
fn client_base() -> Vec<u8> {
    tlv(id::INITIAL_SOURCE_CONNECTION_ID, &[1, 2, 3, 4])
}

/// The parameters every server must send.
fn server_base() -> Vec<u8> {
    let mut v = client_base();
    v.extend(tlv(id::ORIGINAL_DESTINATION_CONNECTION_ID, &[9; 8]));
    v
}

fn encode(tp: &TransportParams, sender: Side) -> Vec<u8> {
    let mut buf = std::vec![0u8; 1024];
    let mut w = Writer::new(&mut buf);
    tp.encode(&mut w, sender).unwrap();
    let n = w.position();
    assert_eq!(n, tp.encoded_len());
    buf.truncate(n);
    buf
}

fn reject(bytes: &[u8], sender: Side) {
    let e = TransportParams::decode(bytes, sender).unwrap_err();
    assert_eq!(
        e.code,
        TransportError::TransportParameterError,
        "{bytes:02x?}"
    );
    assert_eq!(e.frame_type, 0);
}

fn with(base: Vec<u8>, extra: &[u8]) -> Vec<u8> {
    let mut v = base;
    v.extend_from_slice(extra);
    v
}

fn preferred_address() -> PreferredAddress {
    PreferredAddress {
        ipv4: [192, 0, 2, 1],
        ipv4_port: 443,
        ipv6: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        ipv6_port: 8443,
        cid: cid(&[0x55; 12]),
        reset_token: [0xaa; 16],
    }
}

fn full_server() -> TransportParams {
    TransportParams {
        original_destination_connection_id: Some(cid(&[1; 20])),
        max_idle_timeout: 30_000,
        stateless_reset_token: Some([3; 16]),
        max_udp_payload_size: 1452,
        initial_max_data: 1 << 40,
        initial_max_stream_data_bidi_local: 1,
        initial_max_stream_data_bidi_remote: 2,
        initial_max_stream_data_uni: varint::MAX,
        initial_max_streams_bidi: MAX_STREAMS_LIMIT,
        initial_max_streams_uni: 7,
        ack_delay_exponent: 20,
        max_ack_delay: 16383,
        disable_active_migration: true,
        preferred_address: Some(preferred_address()),
        active_connection_id_limit: 8,
        initial_source_connection_id: Some(cid(&[])),
        retry_source_connection_id: Some(cid(&[4; 5])),
        version_information: VersionInformation::new(
            crate::packet::VERSION_2,
            &[
                crate::packet::VERSION_2,
                crate::packet::VERSION_1,
                0x0a1a2a3a,
            ],
        ),
        max_datagram_frame_size: 65535,
        grease_quic_bit: true,
        disable_1rtt_encryption: true,
    }
}

#[test]
fn every_parameter_roundtrips() {
    let tp = full_server();
    let bytes = encode(&tp, Side::Server);
    assert_eq!(TransportParams::decode(&bytes, Side::Server), Ok(tp));
    // Every known parameter appears once.
    let mut r = Reader::new(&bytes);
    let mut ids = Vec::new();
    while !r.is_empty() {
        ids.push(r.varint().unwrap());
        let n = r.varint().unwrap();
        r.bytes_u64(n).unwrap();
    }
    let mut expected: Vec<u64> = (0x00..=0x11).collect();
    expected.extend([0x20, 0x2ab2, 0xbaad]);
    assert_eq!(ids, expected);

    let client = TransportParams {
        initial_source_connection_id: Some(cid(&[7; 8])),
        ..TransportParams::kquic_defaults()
    };
    let bytes = encode(&client, Side::Client);
    assert_eq!(TransportParams::decode(&bytes, Side::Client), Ok(client));
}

#[test]
fn absent_parameters_take_rfc_defaults() {
    let tp = TransportParams::decode(&client_base(), Side::Client).unwrap();
    let d = TransportParams::default();
    assert_eq!(tp.max_udp_payload_size, 65527);
    assert_eq!(tp.ack_delay_exponent, 3);
    assert_eq!(tp.max_ack_delay, 25);
    assert_eq!(tp.active_connection_id_limit, 2);
    assert_eq!(tp.max_idle_timeout, 0);
    assert_eq!(tp.max_datagram_frame_size, 0);
    assert!(!tp.grease_quic_bit && !tp.disable_active_migration);
    assert_eq!(
        tp,
        TransportParams {
            initial_source_connection_id: Some(cid(&[1, 2, 3, 4])),
            ..d
        }
    );
    // Defaults are not written out.
    assert_eq!(encode(&tp, Side::Client), client_base());
}

#[test]
fn unknown_and_reserved_parameters_are_ignored() {
    let mut buf = [0u8; 64];
    let mut w = Writer::new(&mut buf);
    write_reserved_param(&mut w, 0, b"grease").unwrap();
    write_reserved_param(&mut w, 1 << 40, &[]).unwrap();
    assert_eq!(
        write_reserved_param(&mut w, 1 << 60, &[]),
        Err(CodecError::ValueTooLarge)
    );
    let n = w.position();
    let mut bytes = client_base();
    bytes.extend_from_slice(&buf[..n]);
    bytes.extend(tlv(0x1234, &[0xff; 3]));
    bytes.extend(tlv(0x1234, &[])); // Unknown duplicates are not tracked.
    bytes.extend(tlv(varint::MAX, &[1]));
    let tp = TransportParams::decode(&bytes, Side::Client).unwrap();
    assert_eq!(
        tp,
        TransportParams::decode(&client_base(), Side::Client).unwrap()
    );
    assert!(id::is_reserved(27) && id::is_reserved(58) && !id::is_reserved(0x20));
}

#[test]
fn duplicates_are_rejected() {
    let dups: [Vec<u8>; 6] = [
        int_tlv(id::MAX_IDLE_TIMEOUT, 5),
        int_tlv(id::INITIAL_MAX_DATA, 5),
        tlv(id::GREASE_QUIC_BIT, &[]),
        tlv(id::DISABLE_ACTIVE_MIGRATION, &[]),
        int_tlv(id::MAX_DATAGRAM_FRAME_SIZE, 1200),
        tlv(id::DISABLE_1RTT_ENCRYPTION, &[]),
    ];
    for d in dups {
        let once = with(client_base(), &d);
        assert!(TransportParams::decode(&once, Side::Client).is_ok());
        reject(&with(once, &d), Side::Client);
    }
    reject(&with(client_base(), &client_base()), Side::Client);
    let odcid = tlv(id::ORIGINAL_DESTINATION_CONNECTION_ID, &[1]);
    reject(&with(server_base(), &odcid), Side::Server);
}

#[test]
fn integer_ranges() {
    let cases: [(u64, u64, u64); 7] = [
        // (parameter, last good value, first bad value)
        (id::MAX_UDP_PAYLOAD_SIZE, 1200, 1199),
        (id::ACK_DELAY_EXPONENT, 20, 21),
        (id::MAX_ACK_DELAY, 16383, 16384),
        (id::ACTIVE_CONNECTION_ID_LIMIT, 2, 1),
        (id::ACTIVE_CONNECTION_ID_LIMIT, 2, 0),
        (id::INITIAL_MAX_STREAMS_BIDI, 1 << 60, (1 << 60) + 1),
        (id::INITIAL_MAX_STREAMS_UNI, 1 << 60, (1 << 60) + 1),
    ];
    for (pid, good, bad) in cases {
        let ok = with(client_base(), &int_tlv(pid, good));
        assert!(
            TransportParams::decode(&ok, Side::Client).is_ok(),
            "{pid:#x}={good}"
        );
        reject(&with(client_base(), &int_tlv(pid, bad)), Side::Client);
    }
}

#[test]
fn integer_encoding_must_fill_the_value() {
    let ints = [
        0x01u64, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0e, 0x20,
    ];
    for pid in ints {
        reject(&with(client_base(), &tlv(pid, &[])), Side::Client);
        // A 1-byte varint in a 2-byte value.
        reject(&with(client_base(), &tlv(pid, &[0x05, 0x00])), Side::Client);
        // A 2-byte varint cut to one byte.
        reject(&with(client_base(), &tlv(pid, &[0x44])), Side::Client);
    }
    // Non-minimal varints inside the value are fine.
    let tp = TransportParams::decode(
        &with(client_base(), &tlv(0x04, &[0x40, 0x05])),
        Side::Client,
    );
    assert_eq!(tp.unwrap().initial_max_data, 5);
}

#[test]
fn flags_must_be_empty() {
    for pid in [
        id::DISABLE_ACTIVE_MIGRATION,
        id::GREASE_QUIC_BIT,
        id::DISABLE_1RTT_ENCRYPTION,
    ] {
        let ok = with(client_base(), &tlv(pid, &[]));
        assert!(TransportParams::decode(&ok, Side::Client).is_ok());
        reject(&with(client_base(), &tlv(pid, &[0])), Side::Client);
    }
}

#[test]
fn server_only_parameters_from_a_client() {
    let mut pa = [0u8; 64];
    let mut w = Writer::new(&mut pa);
    preferred_address().encode(&mut w).unwrap();
    let pa_len = w.position();
    let server_only = [
        tlv(id::ORIGINAL_DESTINATION_CONNECTION_ID, &[1; 8]),
        tlv(id::STATELESS_RESET_TOKEN, &[0; 16]),
        tlv(id::PREFERRED_ADDRESS, &pa[..pa_len]),
        tlv(id::RETRY_SOURCE_CONNECTION_ID, &[1; 8]),
    ];
    for (i, p) in server_only.iter().enumerate() {
        // (server_base already has an original_destination_connection_id.)
        let base = if i == 0 { client_base() } else { server_base() };
        assert!(TransportParams::decode(&with(base, p), Side::Server).is_ok());
        reject(&with(client_base(), p), Side::Client);
    }
    // Encoding refuses them too.
    let mut buf = [0u8; 256];
    let mut w = Writer::new(&mut buf);
    assert_eq!(
        full_server().encode(&mut w, Side::Client),
        Err(CodecError::InvalidValue)
    );
    assert_eq!(w.position(), 0);
}

#[test]
fn required_connection_ids() {
    reject(&[], Side::Client);
    reject(&[], Side::Server);
    // A server must also send original_destination_connection_id.
    reject(&client_base(), Side::Server);
    assert!(TransportParams::decode(&server_base(), Side::Server).is_ok());
    // Zero-length connection IDs are legal.
    let empty = tlv(id::INITIAL_SOURCE_CONNECTION_ID, &[]);
    assert!(TransportParams::decode(&empty, Side::Client).is_ok());
}

#[test]
fn connection_id_and_token_lengths() {
    for pid in [
        id::ORIGINAL_DESTINATION_CONNECTION_ID,
        id::RETRY_SOURCE_CONNECTION_ID,
    ] {
        let ok = with(server_base(), &tlv(pid, &[0; 20]));
        // (The ODCID case is a duplicate of the base; check only the length failure.)
        if pid != id::ORIGINAL_DESTINATION_CONNECTION_ID {
            assert!(TransportParams::decode(&ok, Side::Server).is_ok());
        }
        reject(&with(server_base(), &tlv(pid, &[0; 21])), Side::Server);
    }
    let long_iscid = tlv(id::INITIAL_SOURCE_CONNECTION_ID, &[0; 21]);
    reject(&long_iscid, Side::Client);
    let long_odcid = with(
        client_base(),
        &tlv(id::ORIGINAL_DESTINATION_CONNECTION_ID, &[0; 21]),
    );
    reject(&long_odcid, Side::Server);
    for n in [0usize, 15, 17] {
        reject(
            &with(
                server_base(),
                &tlv(id::STATELESS_RESET_TOKEN, &std::vec![0; n]),
            ),
            Side::Server,
        );
    }
    let ok = with(server_base(), &tlv(id::STATELESS_RESET_TOKEN, &[7; 16]));
    let tp = TransportParams::decode(&ok, Side::Server).unwrap();
    assert_eq!(tp.stateless_reset_token, Some([7; 16]));
}

#[test]
fn preferred_address_layout() {
    let pa = preferred_address();
    let mut buf = [0u8; 64];
    let mut w = Writer::new(&mut buf);
    pa.encode(&mut w).unwrap();
    let n = w.position();
    assert_eq!(n, 4 + 2 + 16 + 2 + 1 + 12 + 16);
    let good = &buf[..n];
    let tp = TransportParams::decode(
        &with(server_base(), &tlv(id::PREFERRED_ADDRESS, good)),
        Side::Server,
    );
    assert_eq!(tp.unwrap().preferred_address, Some(pa));
    // One byte short or long.
    reject(
        &with(server_base(), &tlv(id::PREFERRED_ADDRESS, &good[..n - 1])),
        Side::Server,
    );
    let mut long = good.to_vec();
    long.push(0);
    reject(
        &with(server_base(), &tlv(id::PREFERRED_ADDRESS, &long)),
        Side::Server,
    );
    // Connection ID length 0 and 21.
    for cid_len in [0u8, 21] {
        let mut v = good[..24].to_vec();
        v.push(cid_len);
        v.extend(std::iter::repeat_n(0x55, usize::from(cid_len)));
        v.extend_from_slice(&[0xaa; 16]);
        reject(
            &with(server_base(), &tlv(id::PREFERRED_ADDRESS, &v)),
            Side::Server,
        );
    }
    // Encoding refuses an empty connection ID.
    let bad = TransportParams {
        preferred_address: Some(PreferredAddress {
            cid: ConnectionId::EMPTY,
            ..pa
        }),
        ..full_server()
    };
    let mut w = Writer::new(&mut buf);
    assert_eq!(
        bad.encode(&mut w, Side::Server),
        Err(CodecError::InvalidValue)
    );
}

#[test]
fn version_information_rules() {
    let vi = |words: &[u32]| {
        let v: Vec<u8> = words.iter().flat_map(|w| w.to_be_bytes()).collect();
        with(client_base(), &tlv(id::VERSION_INFORMATION, &v))
    };
    let tp = TransportParams::decode(&vi(&[1, 1, 0x6b3343cf]), Side::Client).unwrap();
    let info = tp.version_information.unwrap();
    assert_eq!(
        (info.chosen, info.available()),
        (1, &[1u32, 0x6b3343cf][..])
    );
    assert!(TransportParams::decode(&vi(&[1]), Side::Client).is_ok());
    reject(&vi(&[]), Side::Client);
    reject(&vi(&[0, 1]), Side::Client);
    reject(&vi(&[1, 0]), Side::Client);
    for n in [3usize, 5, 7] {
        let bytes = with(
            client_base(),
            &tlv(id::VERSION_INFORMATION, &std::vec![1; n]),
        );
        reject(&bytes, Side::Client);
    }
    // More than MAX_VERSIONS available versions: the first ones are kept.
    let many: Vec<u32> = (1..=40).collect();
    let tp = TransportParams::decode(&vi(&many), Side::Client).unwrap();
    let info = tp.version_information.unwrap();
    assert_eq!(info.chosen, 1);
    assert_eq!(info.available(), &many[1..=MAX_VERSIONS]);
    assert!(VersionInformation::new(0, &[]).is_none());
    assert!(VersionInformation::new(1, &[0]).is_none());
    assert!(VersionInformation::new(1, &[1; MAX_VERSIONS + 1]).is_none());
}

#[test]
fn truncation() {
    let full = encode(&full_server(), Side::Server);
    let mut boundaries = std::collections::BTreeSet::new();
    let mut r = Reader::new(&full);
    while !r.is_empty() {
        r.varint().unwrap();
        let n = r.varint().unwrap();
        r.bytes_u64(n).unwrap();
        boundaries.insert(r.position());
    }
    for cut in 1..full.len() {
        // Every cut inside a parameter is an error.
        if !boundaries.contains(&cut) {
            reject(&full[..cut], Side::Server);
        }
    }
    reject(&with(client_base(), &[0x01]), Side::Client);
    reject(&with(client_base(), &[0x01, 0x02, 0x05]), Side::Client);
    reject(&with(client_base(), &[0x40]), Side::Client);
}

#[test]
fn encode_rejects_invalid_values_without_writing() {
    let bad = [
        TransportParams {
            max_udp_payload_size: 1199,
            ..full_server()
        },
        TransportParams {
            ack_delay_exponent: 21,
            ..full_server()
        },
        TransportParams {
            max_ack_delay: 1 << 14,
            ..full_server()
        },
        TransportParams {
            active_connection_id_limit: 1,
            ..full_server()
        },
        TransportParams {
            initial_max_streams_uni: (1 << 60) + 1,
            ..full_server()
        },
        TransportParams {
            initial_max_data: 1 << 62,
            ..full_server()
        },
        TransportParams {
            initial_source_connection_id: None,
            ..full_server()
        },
    ];
    for tp in bad {
        let mut buf = [0u8; 512];
        let mut w = Writer::new(&mut buf);
        assert_eq!(
            tp.encode(&mut w, Side::Server),
            Err(CodecError::InvalidValue)
        );
        assert_eq!(w.position(), 0);
    }
    let mut small = [0u8; 40];
    let mut w = Writer::new(&mut small);
    assert_eq!(
        full_server().encode(&mut w, Side::Server),
        Err(CodecError::BufferFull)
    );
    assert_eq!(w.position(), 0);
}

// ---------------------------------------------------------------------------------------
// Property tests.

fn arb_cid() -> impl Strategy<Value = ConnectionId> {
    proptest::collection::vec(any::<u8>(), 0..=20).prop_map(|v| ConnectionId::new(&v).unwrap())
}

fn arb_params() -> impl Strategy<Value = (TransportParams, Side)> {
    let ints = proptest::array::uniform6(prop_oneof![0..64u64, 0..=varint::MAX]);
    (
        ints,
        (1200..=varint::MAX, 0..=20u64, 0..16384u64, 2..=varint::MAX),
        (0..=MAX_STREAMS_LIMIT, 0..=MAX_STREAMS_LIMIT),
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()),
        (
            arb_cid(),
            proptest::option::of(arb_cid()),
            proptest::option::of(arb_cid()),
        ),
        (
            proptest::option::of(any::<[u8; 16]>()),
            proptest::option::of((1u32.., proptest::collection::vec(1u32.., 0..20))),
            proptest::option::of((
                any::<[u8; 4]>(),
                any::<u16>(),
                any::<[u8; 16]>(),
                any::<u16>(),
            )),
        ),
    )
        .prop_map(|(i, r, s, flags, cids, extra)| {
            let server = flags.3;
            let (token, vi, pa) = extra;
            let tp = TransportParams {
                max_idle_timeout: i[0],
                initial_max_data: i[1],
                initial_max_stream_data_bidi_local: i[2],
                initial_max_stream_data_bidi_remote: i[3],
                initial_max_stream_data_uni: i[4],
                max_datagram_frame_size: i[5],
                max_udp_payload_size: r.0,
                ack_delay_exponent: r.1,
                max_ack_delay: r.2,
                active_connection_id_limit: r.3,
                initial_max_streams_bidi: s.0,
                initial_max_streams_uni: s.1,
                disable_active_migration: flags.0,
                grease_quic_bit: flags.1,
                disable_1rtt_encryption: flags.2,
                initial_source_connection_id: Some(cids.0),
                original_destination_connection_id: if server {
                    Some(cids.1.unwrap_or_default())
                } else {
                    None
                },
                retry_source_connection_id: if server { cids.2 } else { None },
                stateless_reset_token: if server { token } else { None },
                preferred_address: if server {
                    pa.map(|(ipv4, ipv4_port, ipv6, ipv6_port)| PreferredAddress {
                        ipv4,
                        ipv4_port,
                        ipv6,
                        ipv6_port,
                        cid: ConnectionId::new(&ipv6[..8]).unwrap(),
                        reset_token: ipv6,
                    })
                } else {
                    None
                },
                version_information: vi
                    .and_then(|(c, a)| VersionInformation::new(c, &a[..a.len().min(MAX_VERSIONS)])),
            };
            (tp, if server { Side::Server } else { Side::Client })
        })
}

proptest! {
    #[test]
    fn arbitrary_params_roundtrip((tp, side) in arb_params()) {
        let bytes = encode(&tp, side);
        prop_assert_eq!(TransportParams::decode(&bytes, side), Ok(tp));
        // The ABI view survives a round trip through the struct as far as it can.
        let back = TransportParams::from_uapi(&tp.to_uapi(false));
        prop_assert_eq!(back.initial_max_data, tp.initial_max_data);
        prop_assert_eq!(back.grease_quic_bit, tp.grease_quic_bit);
    }

    #[test]
    fn decoding_random_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        for side in [Side::Client, Side::Server] {
            if let Ok(tp) = TransportParams::decode(&bytes, side) {
                let again = encode(&tp, side);
                prop_assert_eq!(TransportParams::decode(&again, side), Ok(tp));
            }
        }
    }

    #[test]
    fn decoding_random_tlvs_never_panics(params in proptest::collection::vec(
        (prop_oneof![0u64..0x22, Just(0x2ab2u64), Just(0xbaadu64), any::<u64>()],
         proptest::collection::vec(any::<u8>(), 0..48)), 0..12)) {
        let mut bytes = client_base();
        for (pid, value) in &params {
            if let Some(pid) = (*pid <= varint::MAX).then_some(*pid) {
                bytes.extend(tlv(pid, value));
            }
        }
        for side in [Side::Client, Side::Server] {
            if let Ok(tp) = TransportParams::decode(&bytes, side) {
                let again = encode(&tp, side);
                prop_assert_eq!(TransportParams::decode(&again, side), Ok(tp));
            }
        }
    }
}
