//! Frame round-trip, rejection and property tests.

use super::*;
use crate::cid::ConnectionId;
use crate::error::TransportError;
use proptest::prelude::*;
use std::vec::Vec;

fn encode(f: &Frame<'_>) -> Vec<u8> {
    let mut buf = std::vec![0u8; f.encoded_len() + 16];
    let mut w = Writer::new(&mut buf);
    f.encode(&mut w).unwrap();
    let n = w.position();
    assert_eq!(n, f.encoded_len(), "encoded_len of {f:?}");
    buf.truncate(n);
    buf
}

fn parse_one(bytes: &[u8]) -> Result<Frame<'_>, Error> {
    let mut r = Reader::new(bytes);
    let f = Frame::parse(&mut r)?;
    assert!(r.is_empty(), "trailing bytes after {f:?}");
    Ok(f)
}

fn assert_err(bytes: &[u8], code: TransportError, frame_type: u64) {
    let e = parse_one(bytes).unwrap_err();
    assert_eq!(
        (e.code, e.frame_type),
        (code, frame_type),
        "{bytes:02x?}: {e}"
    );
}

fn cid(b: &[u8]) -> ConnectionId {
    ConnectionId::new(b).unwrap()
}

/// One frame of every type, with a mix of small and large values.
fn samples(ack_buf: &[u8]) -> Vec<Frame<'_>> {
    let ack = {
        let mut r = Reader::new(ack_buf);
        Frame::parse(&mut r).unwrap()
    };
    std::vec![
        Frame::Padding(1),
        Frame::Padding(37),
        Frame::Ping,
        ack,
        Frame::ResetStream(ResetStream {
            stream_id: 4,
            error_code: 0x1_0000,
            final_size: varint::MAX,
        }),
        Frame::StopSending(StopSending {
            stream_id: 3,
            error_code: 77,
        }),
        Frame::Crypto(Crypto {
            offset: 1200,
            data: b"client hello",
        }),
        Frame::Crypto(Crypto {
            offset: 0,
            data: b"",
        }),
        Frame::NewToken(b"a token"),
        Frame::Stream(Stream {
            id: 0,
            offset: 0,
            data: b"hello",
            fin: false,
        }),
        Frame::Stream(Stream {
            id: 1 << 40,
            offset: 99_999,
            data: b"",
            fin: true,
        }),
        Frame::Stream(Stream {
            id: 2,
            offset: varint::MAX - 3,
            data: b"end",
            fin: true,
        }),
        Frame::MaxData(1 << 32),
        Frame::MaxStreamData {
            stream_id: 8,
            max: 65536,
        },
        Frame::MaxStreams {
            dir: Dir::Bidi,
            max: MAX_STREAMS,
        },
        Frame::MaxStreams {
            dir: Dir::Uni,
            max: 3,
        },
        Frame::DataBlocked(0),
        Frame::StreamDataBlocked {
            stream_id: 9,
            limit: 1000,
        },
        Frame::StreamsBlocked {
            dir: Dir::Bidi,
            limit: 100,
        },
        Frame::StreamsBlocked {
            dir: Dir::Uni,
            limit: MAX_STREAMS,
        },
        Frame::NewConnectionId(NewConnectionId {
            seq: 5,
            retire_prior_to: 5,
            cid: cid(&[0xab; 20]),
            reset_token: [7; 16],
        }),
        Frame::NewConnectionId(NewConnectionId {
            seq: 1,
            retire_prior_to: 0,
            cid: cid(&[1]),
            reset_token: [0; 16],
        }),
        Frame::RetireConnectionId(17),
        Frame::PathChallenge(*b"12345678"),
        Frame::PathResponse(*b"abcdefgh"),
        Frame::ConnectionClose(ConnectionClose {
            error_code: 0x0a,
            frame_type: Some(0x08),
            reason: b"bad stream",
        }),
        Frame::ConnectionClose(ConnectionClose {
            error_code: 0x0a,
            frame_type: Some(0),
            reason: b"",
        }),
        Frame::ConnectionClose(ConnectionClose {
            error_code: 0xdead,
            frame_type: None,
            reason: b"app says bye",
        }),
        Frame::HandshakeDone,
        Frame::Datagram(Datagram { data: b"dgram" }),
        Frame::Datagram(Datagram { data: b"" }),
    ]
}

fn sample_ack() -> Vec<u8> {
    let mut buf = [0u8; 64];
    let mut w = Writer::new(&mut buf);
    let ecn = EcnCounts {
        ect0: 1,
        ect1: 2,
        ce: 3,
    };
    write_ack(&mut w, [100..=120, 10..=20].into_iter(), 3, Some(&ecn)).unwrap();
    w.written().to_vec()
}

#[test]
fn every_frame_roundtrips() {
    let ack = sample_ack();
    let frames = samples(&ack);
    let mut seen = std::collections::BTreeSet::new();
    for f in &frames {
        let bytes = encode(f);
        assert_eq!(parse_one(&bytes), Ok(*f));
        assert_eq!(bytes.first().copied(), Some(f.frame_type().0 as u8));
        let ty = f.frame_type();
        seen.insert(if ty.is_stream() { 0x08 } else { ty.0 });
    }
    // Every known type family was covered.
    for ty in (0..=0x1eu64).chain([0x30, 0x31]) {
        let fam = if FrameType(ty).is_stream() { 0x08 } else { ty };
        if ty == 0x02 || ty == 0x30 {
            continue; // ACK without ECN and DATAGRAM without Length are covered below.
        }
        assert!(seen.contains(&fam), "no sample for {ty:#x}");
    }
}

#[test]
fn rfc_wire_examples() {
    // STREAM with all bits: type 0x0f, id 4, offset 64 (2 bytes), len 2, data, FIN.
    let f = parse_one(&[0x0f, 0x04, 0x40, 0x40, 0x02, b'h', b'i']).unwrap();
    assert_eq!(
        f,
        Frame::Stream(Stream {
            id: 4,
            offset: 64,
            data: b"hi",
            fin: true
        })
    );
    // STREAM without LEN takes the rest of the packet; without OFF the offset is 0.
    let f = parse_one(&[0x08, 0x00, 1, 2, 3]).unwrap();
    assert_eq!(
        f,
        Frame::Stream(Stream {
            id: 0,
            offset: 0,
            data: &[1, 2, 3],
            fin: false
        })
    );
    let mut out = [0u8; 16];
    let mut w = Writer::new(&mut out);
    let Frame::Stream(s) = f else { unreachable!() };
    s.encode(&mut w, false).unwrap();
    assert_eq!(w.written(), &[0x08, 0x00, 1, 2, 3]);
    assert_eq!(s.encoded_len(false), 5);
    assert_eq!(Stream::header_len(0, 0, 3, false), 2);
    assert_eq!(Stream::header_len(0, 64, 3, true), 5);
    // DATAGRAM without length.
    let f = parse_one(&[0x30, 9, 9]).unwrap();
    assert_eq!(f, Frame::Datagram(Datagram { data: &[9, 9] }));
    let mut w = Writer::new(&mut out);
    Datagram { data: &[9, 9] }.encode(&mut w, false).unwrap();
    assert_eq!(w.written(), &[0x30, 9, 9]);
    assert_eq!(Datagram::header_len(2, true), 2);
    // ACK without ECN.
    let f = parse_one(&[0x02, 0x05, 0x00, 0x00, 0x05]).unwrap();
    let Frame::Ack(a) = f else { unreachable!() };
    assert!(a.ranges().eq([0..=5]));
    assert_eq!(encode(&f), [0x02, 0x05, 0x00, 0x00, 0x05]);
    // Consecutive PADDING bytes fold into one frame, up to the next non-zero byte.
    let mut r = Reader::new(&[0, 0, 0, 1, 0]);
    assert_eq!(Frame::parse(&mut r), Ok(Frame::Padding(3)));
    assert_eq!(Frame::parse(&mut r), Ok(Frame::Ping));
    assert_eq!(Frame::parse(&mut r), Ok(Frame::Padding(1)));
    assert!(r.is_empty());
    // CRYPTO header length helper.
    assert_eq!(Crypto::header_len(0, 100), 4);
}

#[test]
fn every_truncation_is_frame_encoding_error() {
    let ack = sample_ack();
    for f in samples(&ack) {
        if matches!(f, Frame::Padding(_)) {
            continue;
        }
        let bytes = encode(&f);
        for cut in 1..bytes.len() {
            let e = parse_one(&bytes[..cut]);
            let e = e.expect_err("prefix parsed");
            assert_eq!(
                e.code,
                TransportError::FrameEncodingError,
                "{f:?} cut {cut}"
            );
            assert_eq!(e.frame_type, f.frame_type().0);
        }
    }
    assert_err(&[], TransportError::FrameEncodingError, 0);
}

#[test]
fn frame_type_encoding_rules() {
    // Non-minimal type encodings are PROTOCOL_VIOLATION (RFC 9000 §12.4).
    assert_err(&[0x40, 0x01], TransportError::ProtocolViolation, 0x01);
    assert_err(&[0x40, 0x00], TransportError::ProtocolViolation, 0x00);
    assert_err(&[0x80, 0, 0, 0x1e], TransportError::ProtocolViolation, 0x1e);
    // Unknown types are FRAME_ENCODING_ERROR.
    for ty in [0x1fu8, 0x20, 0x21, 0x2f, 0x32, 0x3f] {
        assert_err(&[ty], TransportError::FrameEncodingError, u64::from(ty));
    }
    assert_err(&[0x40, 0x40], TransportError::FrameEncodingError, 0x40);
    assert_err(
        &[0x80, 0, 0x40, 0x00],
        TransportError::FrameEncodingError,
        0x4000,
    );
}

#[test]
fn value_rules() {
    use TransportError::FrameEncodingError as Fe;
    // NEW_TOKEN must not be empty.
    assert_err(&[0x07, 0x00], Fe, 0x07);
    // STREAM and CRYPTO must end at or below 2^62-1.
    let max = [0xffu8; 8];
    let mut s = std::vec![0x0e, 0x00];
    s.extend_from_slice(&max);
    s.extend_from_slice(&[0x01, b'x']);
    assert_err(&s, Fe, 0x0e);
    let mut s = std::vec![0x0c, 0x00];
    s.extend_from_slice(&max);
    s.push(b'x');
    assert_err(&s, Fe, 0x0c);
    s.pop();
    assert!(parse_one(&s).is_ok()); // Zero-length data at offset 2^62-1 is fine.
    let mut c = std::vec![0x06];
    c.extend_from_slice(&max);
    c.extend_from_slice(&[0x01, b'x']);
    assert_err(&c, Fe, 0x06);
    // MAX_STREAMS and STREAMS_BLOCKED: at most 2^60.
    for ty in [0x12u8, 0x13, 0x16, 0x17] {
        let ok = [ty, 0xd0, 0, 0, 0, 0, 0, 0, 0]; // 2^60
        assert!(parse_one(&ok).is_ok());
        let bad = [ty, 0xd0, 0, 0, 0, 0, 0, 0, 1]; // 2^60 + 1
        assert_err(&bad, Fe, u64::from(ty));
    }
    // NEW_CONNECTION_ID: length 1..=20, Retire Prior To <= Sequence Number.
    let ncid = |seq: u8, rpt: u8, len: u8| {
        let mut v = std::vec![0x18, seq, rpt, len];
        v.extend(std::iter::repeat_n(0xaa, usize::from(len)));
        v.extend_from_slice(&[0; 16]);
        v
    };
    assert!(parse_one(&ncid(1, 1, 1)).is_ok());
    assert!(parse_one(&ncid(1, 0, 20)).is_ok());
    assert_err(&ncid(1, 0, 0), Fe, 0x18);
    assert_err(&ncid(1, 0, 21), Fe, 0x18);
    assert_err(&ncid(1, 2, 8), Fe, 0x18);
}

#[test]
fn encode_refuses_what_parse_rejects() {
    let bad = [
        (Frame::Padding(0), CodecError::InvalidValue),
        (Frame::NewToken(b""), CodecError::InvalidValue),
        (
            Frame::MaxStreams {
                dir: Dir::Uni,
                max: MAX_STREAMS + 1,
            },
            CodecError::ValueTooLarge,
        ),
        (
            Frame::StreamsBlocked {
                dir: Dir::Bidi,
                limit: MAX_STREAMS + 1,
            },
            CodecError::ValueTooLarge,
        ),
        (
            Frame::NewConnectionId(NewConnectionId {
                seq: 1,
                retire_prior_to: 2,
                cid: cid(&[1]),
                reset_token: [0; 16],
            }),
            CodecError::InvalidValue,
        ),
        (
            Frame::NewConnectionId(NewConnectionId {
                seq: 1,
                retire_prior_to: 0,
                cid: ConnectionId::EMPTY,
                reset_token: [0; 16],
            }),
            CodecError::InvalidValue,
        ),
        (
            Frame::Stream(Stream {
                id: 0,
                offset: varint::MAX,
                data: b"x",
                fin: false,
            }),
            CodecError::ValueTooLarge,
        ),
        (
            Frame::Crypto(Crypto {
                offset: varint::MAX,
                data: b"x",
            }),
            CodecError::ValueTooLarge,
        ),
        (Frame::MaxData(1 << 62), CodecError::ValueTooLarge),
        (
            Frame::StreamDataBlocked {
                stream_id: 4,
                limit: u64::MAX,
            },
            CodecError::ValueTooLarge,
        ),
        (
            Frame::ConnectionClose(ConnectionClose {
                error_code: 1,
                frame_type: Some(1 << 62),
                reason: b"x",
            }),
            CodecError::ValueTooLarge,
        ),
    ];
    for (f, err) in bad {
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        w.u8(0x55).unwrap();
        assert_eq!(f.encode(&mut w), Err(err), "{f:?}");
        assert_eq!(w.position(), 1, "{f:?} left a partial write");
    }
    let mut small = [0u8; 4];
    let mut w = Writer::new(&mut small);
    assert_eq!(
        Frame::PathChallenge([0; 8]).encode(&mut w),
        Err(CodecError::BufferFull)
    );
    assert_eq!(w.position(), 0);
}

#[test]
fn frames_iterator_enforces_table3() {
    // Initial: PADDING, PING, ACK, CRYPTO, CONNECTION_CLOSE 0x1c are fine.
    let mut payload = std::vec![0x01];
    payload.extend_from_slice(&[0x02, 0x05, 0x00, 0x00, 0x00]);
    payload.extend_from_slice(&[0x06, 0x00, 0x02, b'h', b'i']);
    payload.extend_from_slice(&[0x1c, 0x0a, 0x00, 0x00]);
    payload.extend_from_slice(&[0, 0, 0]);
    for pkt in [PacketType::Initial, PacketType::Handshake] {
        let frames: Result<Vec<_>, _> = Frames::new(&payload, pkt).collect();
        let frames = frames.unwrap();
        assert_eq!(frames.len(), 5);
        assert_eq!(frames[4], Frame::Padding(3));
    }
    // In 0-RTT, ACK is not allowed.
    let errs: Vec<_> = Frames::new(&payload, PacketType::ZeroRtt).collect();
    assert_eq!(errs.len(), 2);
    let e = errs[1].unwrap_err();
    assert_eq!(
        (e.code, e.frame_type),
        (TransportError::ProtocolViolation, 0x02)
    );

    let not_in = |bytes: &[u8], pkt: PacketType| {
        let mut it = Frames::new(bytes, pkt);
        let e = it.next().unwrap().unwrap_err();
        assert_eq!(
            e.code,
            TransportError::ProtocolViolation,
            "{bytes:02x?} in {pkt:?}"
        );
        assert_eq!(Some(e.frame_type), bytes.first().map(|b| u64::from(*b)));
        assert!(it.next().is_none());
    };
    let one_rtt_only: [&[u8]; 4] = [
        &[0x07, 0x01, 0xaa],
        &[0x19, 0x00],
        &[0x1b, 1, 2, 3, 4, 5, 6, 7, 8],
        &[0x1e],
    ];
    for f in one_rtt_only {
        for pkt in [
            PacketType::Initial,
            PacketType::Handshake,
            PacketType::ZeroRtt,
        ] {
            not_in(f, pkt);
        }
        assert!(Frames::new(f, PacketType::OneRtt).all(|r| r.is_ok()));
    }
    let app_only: [&[u8]; 6] = [
        &[0x08, 0x00, 0x01],
        &[0x04, 0x00, 0x00, 0x00],
        &[0x10, 0x00],
        &[0x1d, 0x00, 0x00],
        &[0x31, 0x00],
        &[0x1a, 1, 2, 3, 4, 5, 6, 7, 8],
    ];
    for f in app_only {
        for pkt in [PacketType::Initial, PacketType::Handshake] {
            not_in(f, pkt);
        }
        for pkt in [PacketType::ZeroRtt, PacketType::OneRtt] {
            assert!(Frames::new(f, pkt).all(|r| r.is_ok()));
        }
    }
    not_in(&[0x06, 0x00, 0x00], PacketType::ZeroRtt);
    // Empty payload.
    let mut it = Frames::new(&[], PacketType::OneRtt);
    let e = it.next().unwrap().unwrap_err();
    assert_eq!(e.code, TransportError::ProtocolViolation);
    assert!(it.next().is_none());
    // Errors stop the iteration.
    let mut it = Frames::new(&[0x01, 0x1f, 0x01], PacketType::OneRtt);
    assert_eq!(it.next(), Some(Ok(Frame::Ping)));
    assert_eq!(it.offset(), 1);
    assert!(it.next().unwrap().is_err());
    assert!(it.next().is_none());
}

#[test]
fn summary_of_packet() {
    let payload = [0x1a, 1, 2, 3, 4, 5, 6, 7, 8, 0x00, 0x00];
    let mut s = PacketSummary::default();
    for f in Frames::new(&payload, PacketType::OneRtt) {
        s.add(f.unwrap().frame_type());
    }
    assert!(s.ack_eliciting && s.in_flight && s.is_probing());
}

// ---------------------------------------------------------------------------------------
// Property tests.

fn varint_value() -> impl Strategy<Value = u64> {
    prop_oneof![0..64u64, 0..16384u64, 0..=varint::MAX]
}

/// Field values for one frame; `build` turns them into a frame of kind `kind`.
#[derive(Debug, Clone)]
struct Parts {
    kind: u8,
    v: [u64; 3],
    data: Vec<u8>,
    flag: bool,
    cid: Vec<u8>,
    token: [u8; 16],
}

fn parts() -> impl Strategy<Value = Parts> {
    (
        0u8..22,
        [varint_value(), varint_value(), varint_value()],
        proptest::collection::vec(any::<u8>(), 0..64),
        any::<bool>(),
        proptest::collection::vec(any::<u8>(), 1..=20),
        any::<[u8; 16]>(),
    )
        .prop_map(|(kind, v, data, flag, cid, token)| Parts {
            kind,
            v,
            data,
            flag,
            cid,
            token,
        })
}

fn build(p: &Parts) -> Frame<'_> {
    let [a, b, c] = p.v;
    let dir = if p.flag { Dir::Uni } else { Dir::Bidi };
    let data = &p.data[..];
    match p.kind {
        0 => Frame::Padding(data.len() + 1),
        1 => Frame::Ping,
        2 => Frame::ResetStream(ResetStream {
            stream_id: a,
            error_code: b,
            final_size: c,
        }),
        3 => Frame::StopSending(StopSending {
            stream_id: a,
            error_code: b,
        }),
        4 => Frame::Crypto(Crypto {
            offset: b.min(varint::MAX - data.len() as u64),
            data,
        }),
        5 if !data.is_empty() => Frame::NewToken(data),
        6 => Frame::Stream(Stream {
            id: a,
            offset: b.min(varint::MAX - data.len() as u64),
            data,
            fin: p.flag,
        }),
        7 => Frame::MaxData(a),
        8 => Frame::MaxStreamData {
            stream_id: a,
            max: b,
        },
        9 => Frame::MaxStreams {
            dir,
            max: a.min(MAX_STREAMS),
        },
        10 => Frame::DataBlocked(a),
        11 => Frame::StreamDataBlocked {
            stream_id: a,
            limit: b,
        },
        12 => Frame::StreamsBlocked {
            dir,
            limit: a.min(MAX_STREAMS),
        },
        13 => Frame::NewConnectionId(NewConnectionId {
            seq: a,
            retire_prior_to: b.min(a),
            cid: ConnectionId::new(&p.cid).unwrap(),
            reset_token: p.token,
        }),
        14 => Frame::RetireConnectionId(a),
        15 => Frame::PathChallenge(p.token[..8].try_into().unwrap()),
        16 => Frame::PathResponse(p.token[8..].try_into().unwrap()),
        17 => Frame::ConnectionClose(ConnectionClose {
            error_code: a,
            frame_type: p.flag.then_some(b),
            reason: data,
        }),
        18 => Frame::HandshakeDone,
        19 => Frame::Datagram(Datagram { data }),
        _ => Frame::Ping,
    }
}

proptest! {
    #[test]
    fn arbitrary_frame_roundtrips(p in parts()) {
        let f = build(&p);
        let bytes = encode(&f);
        prop_assert_eq!(parse_one(&bytes), Ok(f));
    }

    #[test]
    fn arbitrary_ack_roundtrips(largest in 0..=varint::MAX,
                                steps in proptest::collection::vec((varint_value(), varint_value()), 0..20),
                                first in varint_value(),
                                delay in varint_value(),
                                ecn in proptest::option::of((varint_value(), varint_value(), varint_value()))) {
        // Build descending ranges from the random steps, stopping at packet number 0.
        let mut ranges = Vec::new();
        let mut hi = largest;
        let mut lo = hi.saturating_sub(first % 1000);
        ranges.push(lo..=hi);
        for (gap, len) in steps {
            let Some(next_hi) = lo.checked_sub(2 + gap % 100) else { break };
            hi = next_hi;
            lo = hi.saturating_sub(len % 100);
            ranges.push(lo..=hi);
        }
        let ecn = ecn.map(|(ect0, ect1, ce)| EcnCounts { ect0, ect1, ce });
        let mut buf = [0u8; 1024];
        let mut w = Writer::new(&mut buf);
        write_ack(&mut w, ranges.iter().cloned(), delay, ecn.as_ref()).unwrap();
        let n = w.position();
        let f = parse_one(&buf[..n]).unwrap();
        let Frame::Ack(ack) = f else { panic!("not an ACK") };
        prop_assert!(ack.ranges().eq(ranges.iter().cloned()));
        prop_assert_eq!(ack.delay, delay);
        prop_assert_eq!(ack.ecn, ecn);
        let bytes = encode(&f);
        prop_assert_eq!(&bytes[..], &buf[..n]);
        prop_assert_eq!(parse_one(&bytes), Ok(f));
    }

    #[test]
    fn parsing_random_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        let mut r = Reader::new(&bytes);
        while !r.is_empty() {
            match Frame::parse(&mut r) {
                Ok(f) => {
                    // Whatever parses re-encodes and parses back to the same frame.
                    let again = encode(&f);
                    let mut r2 = Reader::new(&again);
                    prop_assert_eq!(Frame::parse(&mut r2), Ok(f));
                    if let Frame::Ack(a) = f {
                        for range in a.ranges() {
                            prop_assert!(range.start() <= range.end());
                        }
                    }
                }
                Err(_) => break,
            }
        }
        for pkt in [PacketType::Initial, PacketType::Handshake, PacketType::ZeroRtt, PacketType::OneRtt] {
            for f in Frames::new(&bytes, pkt).flatten() {
                prop_assert!(f.frame_type().allowed_in(pkt));
            }
        }
    }
}
