//! Splits fuzzer-chosen datagrams into packets and parses their headers. Must never panic;
//! every packet found must lie inside the datagram, and every v1/v2 header must rebuild into
//! bytes that parse back to the same header.
//!
//! Input: `[ctl, datagram...]`; `ctl & 0x1f` is the short header DCID length (values above
//! 20 exercise the rejection), `ctl & 0x80` allows a zero fixed bit (grease_quic_bit).
#![no_main]

use libfuzzer_sys::fuzz_target;
use quic_proto::codec::Writer;
use quic_proto::packet::{
    first_byte, number, parse, write_long, write_retry, write_short, write_version_negotiation,
    Coalesced, Header, ParsedPacket, ShortHeader,
};

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, datagram)) = data.split_first() else {
        return;
    };
    let dcid_len = usize::from(ctl & 0x1f);
    let grease = ctl & 0x80 != 0;
    let mut end = 0;
    for item in Coalesced::new(datagram, dcid_len, grease) {
        let Ok((offset, p)) = item else { break };
        assert_eq!(offset, end, "packets must be contiguous");
        end = offset + p.len;
        assert!(end <= datagram.len());
        if p.is_protected() {
            assert!(p.payload_len >= 1);
            assert_eq!(p.pn_offset + p.payload_len, p.len);
        }
        roundtrip(&datagram[offset..end], &p, dcid_len, grease);
    }
});

/// Rebuilds the packet from its parsed header (reading the packet number bits as if header
/// protection were already removed) and checks that it parses back the same.
fn roundtrip(pkt: &[u8], p: &ParsedPacket<'_>, dcid_len: usize, grease: bool) {
    let mut out = vec![0u8; pkt.len() + 64];
    let mut w = Writer::new(&mut out);
    let fixed = p.first_byte & first_byte::FIXED_BIT != 0;
    let pn_len = first_byte::pn_len(p.first_byte);
    let pn = number::read(&pkt[p.pn_offset..], pn_len).map(u64::from);
    let payload = &pkt[(p.pn_offset + pn_len).min(pkt.len())..];
    match &p.header {
        Header::Initial(h) | Header::ZeroRtt(h) | Header::Handshake(h) => {
            let Some(pn) = pn else { return };
            let ty = p.header.long_type().expect("long type");
            let layout = write_long(&mut w, ty, h, pn, pn_len, 8, fixed).expect("write_long");
            w.bytes(payload).expect("payload");
            let end = w.position();
            layout.set_length(w.buffer_mut(), end).expect("set_length");
            let q = parse(&out[..end], dcid_len, grease).expect("reparse long");
            assert_eq!(q.header, p.header);
            assert_eq!(q.payload_len, p.payload_len);
            assert_eq!(q.len, end);
            assert_eq!(&out[q.pn_offset..end], &pkt[p.pn_offset..]);
            // Only the (protected) reserved bits may differ in the first byte.
            assert_eq!(
                q.first_byte | first_byte::LONG_RESERVED_BITS,
                p.first_byte | first_byte::LONG_RESERVED_BITS
            );
            assert!(h.dcid.len() <= 20 && h.scid.len() <= 20);
        }
        Header::Short(h) => {
            let Some(pn) = pn else { return };
            let key_phase = first_byte::key_phase(p.first_byte);
            let sh = ShortHeader {
                dcid: h.dcid,
                spin: h.spin,
            };
            write_short(&mut w, &sh, key_phase, pn, pn_len, fixed).expect("write_short");
            w.bytes(payload).expect("payload");
            let end = w.position();
            let q = parse(&out[..end], dcid_len, grease).expect("reparse short");
            assert_eq!(q.header, p.header);
            assert_eq!(q.len, pkt.len());
            assert_eq!(&out[..end], {
                let mut expect = pkt.to_vec();
                expect[0] &= !first_byte::SHORT_RESERVED_BITS;
                expect
            });
        }
        Header::Retry(r) => {
            write_retry(&mut w, r.version, &r.dcid, &r.scid, r.token).expect("write_retry");
            w.bytes(&r.integrity_tag).expect("tag");
            let end = w.position();
            let q = parse(&out[..end], dcid_len, grease).expect("reparse retry");
            assert_eq!(q.header, p.header);
        }
        Header::VersionNegotiation(vn) => {
            let versions: Vec<u32> = vn.versions().collect();
            assert_eq!(versions.len(), vn.len());
            write_version_negotiation(&mut w, vn.scid, vn.dcid, &versions, p.first_byte)
                .expect("write_version_negotiation");
            let end = w.position();
            let q = parse(&out[..end], dcid_len, grease).expect("reparse vn");
            assert_eq!(q.header, p.header);
            assert_eq!(end, pkt.len());
        }
        Header::UnknownVersion { version, .. } => {
            assert!(!quic_proto::packet::is_supported_version(*version));
            assert_ne!(*version, 0);
        }
    }
}
