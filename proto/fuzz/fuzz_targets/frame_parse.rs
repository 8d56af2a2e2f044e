//! Parses fuzzer-chosen packet payloads into frames. Must never panic; every frame that
//! parses must be allowed in its packet type, re-encode to exactly `encoded_len()` bytes and
//! parse back equal.
//!
//! Input: `[ctl, payload...]`; `ctl & 3` picks the packet type (Initial, 0-RTT, Handshake,
//! 1-RTT).
#![no_main]

use libfuzzer_sys::fuzz_target;
use quic_proto::codec::{Reader, Writer};
use quic_proto::frame::{Frame, Frames, PacketSummary};
use quic_proto::packet::PacketType;

const TYPES: [PacketType; 4] = [
    PacketType::Initial,
    PacketType::ZeroRtt,
    PacketType::Handshake,
    PacketType::OneRtt,
];

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, payload)) = data.split_first() else {
        return;
    };
    let pkt = TYPES[usize::from(ctl & 3)];
    let mut summary = PacketSummary::default();
    for item in Frames::new(payload, pkt) {
        let Ok(frame) = item else { break };
        let ty = frame.frame_type();
        assert!(ty.allowed_in(pkt));
        summary.add(ty);
        if let Frame::Ack(ack) = &frame {
            let mut prev_start: Option<u64> = None;
            for r in ack.ranges() {
                assert!(r.start() <= r.end());
                if let Some(p) = prev_start {
                    assert!(*r.end() + 2 <= p);
                }
                prev_start = Some(*r.start());
            }
        }
        let mut buf = vec![0u8; frame.encoded_len()];
        let mut w = Writer::new(&mut buf);
        frame.encode(&mut w).expect("a parsed frame encodes");
        assert_eq!(w.position(), buf.len());
        let mut r = Reader::new(&buf);
        let again = Frame::parse(&mut r).expect("an encoded frame parses");
        assert!(r.is_empty());
        assert_eq!(again, frame);
    }
    if summary.ack_eliciting {
        assert!(summary.in_flight);
    }
});
