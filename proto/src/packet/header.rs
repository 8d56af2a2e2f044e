//! Long and short packet headers: parsing a received (still protected) packet and building
//! headers for packets to send (RFC 9000 §17, RFC 8999, RFC 9369).

use super::first_byte::{FIXED_BIT, FORM_BIT, SPIN_BIT};
use super::version_negotiation::VersionNegotiation;
use super::{number, LongType, PacketError, PacketType, VERSION_NEGOTIATION};
use crate::cid::{ConnectionId, MAX_CID_LEN};
use crate::codec::{Reader, Writer};
use crate::varint;

/// Length of the Retry Integrity Tag (RFC 9001 §5.8).
pub const RETRY_TAG_LEN: usize = 16;

/// The unprotected fields of an Initial, 0-RTT or Handshake packet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongHeader<'a> {
    /// The QUIC version (v1 or v2).
    pub version: u32,
    /// Destination connection ID.
    pub dcid: ConnectionId,
    /// Source connection ID.
    pub scid: ConnectionId,
    /// Address validation token; only Initial packets carry one (empty otherwise).
    pub token: &'a [u8],
}

/// A Retry packet (RFC 9000 §17.2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryHeader<'a> {
    /// The QUIC version (v1 or v2).
    pub version: u32,
    /// Destination connection ID.
    pub dcid: ConnectionId,
    /// Source connection ID (the server's new connection ID).
    pub scid: ConnectionId,
    /// The Retry token (never empty).
    pub token: &'a [u8],
    /// The Retry Integrity Tag, to be checked by packet protection.
    pub integrity_tag: [u8; RETRY_TAG_LEN],
}

/// The unprotected fields of a short header (1-RTT) packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShortHeader {
    /// Destination connection ID.
    pub dcid: ConnectionId,
    /// The latency spin bit.
    pub spin: bool,
}

/// A parsed packet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header<'a> {
    /// An Initial packet.
    Initial(LongHeader<'a>),
    /// A 0-RTT packet.
    ZeroRtt(LongHeader<'a>),
    /// A Handshake packet.
    Handshake(LongHeader<'a>),
    /// A Retry packet.
    Retry(RetryHeader<'a>),
    /// A 1-RTT packet.
    Short(ShortHeader),
    /// A Version Negotiation packet.
    VersionNegotiation(VersionNegotiation<'a>),
    /// A long header packet of a version this crate does not implement: only the invariant
    /// fields (RFC 8999 §5.1) are known; connection IDs may be up to 255 bytes.
    UnknownVersion {
        /// The version field.
        version: u32,
        /// Destination connection ID.
        dcid: &'a [u8],
        /// Source connection ID.
        scid: &'a [u8],
    },
}

impl<'a> Header<'a> {
    /// The destination connection ID.
    pub fn dcid(&self) -> &[u8] {
        match self {
            Self::Initial(h) | Self::ZeroRtt(h) | Self::Handshake(h) => h.dcid.as_slice(),
            Self::Retry(h) => h.dcid.as_slice(),
            Self::Short(h) => h.dcid.as_slice(),
            Self::VersionNegotiation(vn) => vn.dcid,
            Self::UnknownVersion { dcid, .. } => dcid,
        }
    }

    /// The source connection ID (empty for short headers).
    pub fn scid(&self) -> &[u8] {
        match self {
            Self::Initial(h) | Self::ZeroRtt(h) | Self::Handshake(h) => h.scid.as_slice(),
            Self::Retry(h) => h.scid.as_slice(),
            Self::Short(_) => &[],
            Self::VersionNegotiation(vn) => vn.scid,
            Self::UnknownVersion { scid, .. } => scid,
        }
    }

    /// The version field (`None` for short headers, 0 for Version Negotiation).
    pub fn version(&self) -> Option<u32> {
        match self {
            Self::Initial(h) | Self::ZeroRtt(h) | Self::Handshake(h) => Some(h.version),
            Self::Retry(h) => Some(h.version),
            Self::Short(_) => None,
            Self::VersionNegotiation(_) => Some(VERSION_NEGOTIATION),
            Self::UnknownVersion { version, .. } => Some(*version),
        }
    }

    /// The long packet type, for v1/v2 long headers.
    pub fn long_type(&self) -> Option<LongType> {
        match self {
            Self::Initial(_) => Some(LongType::Initial),
            Self::ZeroRtt(_) => Some(LongType::ZeroRtt),
            Self::Handshake(_) => Some(LongType::Handshake),
            Self::Retry(_) => Some(LongType::Retry),
            _ => None,
        }
    }

    /// The packet type for packets that carry protected frames.
    pub fn packet_type(&self) -> Option<PacketType> {
        match self {
            Self::Short(_) => Some(PacketType::OneRtt),
            other => other.long_type().and_then(LongType::packet_type),
        }
    }
}

/// A packet located in a datagram, header parsed, still protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedPacket<'a> {
    /// The header fields.
    pub header: Header<'a>,
    /// The first byte as received (its low bits are still header-protected).
    pub first_byte: u8,
    /// Offset, from the start of the packet, of the protected packet number. 0 for packets
    /// without one (Retry, Version Negotiation, unknown versions).
    pub pn_offset: usize,
    /// Bytes from `pn_offset` to the end of the packet (the Length field of long headers:
    /// packet number and protected payload with its AEAD tag). 0 for packets without a packet
    /// number.
    pub payload_len: usize,
    /// Total length of this packet in the datagram; the next coalesced packet starts here.
    pub len: usize,
}

impl ParsedPacket<'_> {
    /// True for packets that carry a protected packet number and payload.
    pub fn is_protected(&self) -> bool {
        self.header.packet_type().is_some()
    }
}

/// Parses the packet at the start of `buf` (a datagram, or what is left of one after the
/// coalesced packets before it).
///
/// `short_dcid_len` is the length of the connection IDs this endpoint issued (short headers
/// do not carry it). `allow_zero_fixed_bit` accepts a zero fixed bit, for an endpoint that
/// advertised grease_quic_bit (RFC 9287). Version Negotiation and unknown versions ignore the
/// fixed bit.
pub fn parse(
    buf: &[u8],
    short_dcid_len: usize,
    allow_zero_fixed_bit: bool,
) -> Result<ParsedPacket<'_>, PacketError> {
    let mut r = Reader::new(buf);
    let first = r.u8()?;
    let fixed_ok = first & FIXED_BIT != 0 || allow_zero_fixed_bit;

    if first & FORM_BIT == 0 {
        if !fixed_ok {
            return Err(PacketError::FixedBitZero);
        }
        if short_dcid_len > MAX_CID_LEN {
            return Err(PacketError::CidTooLong);
        }
        let dcid = cid(r.bytes(short_dcid_len)?)?;
        let pn_offset = r.position();
        let payload_len = r.remaining();
        if payload_len == 0 {
            return Err(PacketError::Truncated);
        }
        return Ok(ParsedPacket {
            header: Header::Short(ShortHeader {
                dcid,
                spin: first & SPIN_BIT != 0,
            }),
            first_byte: first,
            pn_offset,
            payload_len,
            len: buf.len(),
        });
    }

    let version = r.u32()?;
    let dcid_len = r.u8()?;
    let dcid = r.bytes(usize::from(dcid_len))?;
    let scid_len = r.u8()?;
    let scid = r.bytes(usize::from(scid_len))?;
    let unprotected = |header| ParsedPacket {
        header,
        first_byte: first,
        pn_offset: 0,
        payload_len: 0,
        len: buf.len(),
    };

    if version == VERSION_NEGOTIATION {
        let vn = VersionNegotiation::new(dcid, scid, r.rest())?;
        return Ok(unprotected(Header::VersionNegotiation(vn)));
    }
    let Some(ty) = LongType::from_bits((first >> 4) & 0x03, version) else {
        return Ok(unprotected(Header::UnknownVersion {
            version,
            dcid,
            scid,
        }));
    };
    if !fixed_ok {
        return Err(PacketError::FixedBitZero);
    }
    let dcid = cid(dcid)?;
    let scid = cid(scid)?;

    if ty == LongType::Retry {
        let rest = r.rest();
        let token_len = rest
            .len()
            .checked_sub(RETRY_TAG_LEN)
            .filter(|n| *n > 0)
            .ok_or(PacketError::BadRetry)?;
        let (token, tag) = rest.split_at(token_len);
        let integrity_tag = tag.try_into().map_err(|_| PacketError::BadRetry)?;
        return Ok(unprotected(Header::Retry(RetryHeader {
            version,
            dcid,
            scid,
            token,
            integrity_tag,
        })));
    }

    let token = if ty == LongType::Initial {
        let n = r.varint()?;
        r.bytes_u64(n)?
    } else {
        &[]
    };
    let length = r.varint()?;
    let pn_offset = r.position();
    let payload_len = usize::try_from(length)
        .ok()
        .filter(|n| *n >= 1 && *n <= r.remaining())
        .ok_or(PacketError::BadLength)?;
    let hdr = LongHeader {
        version,
        dcid,
        scid,
        token,
    };
    let header = match ty {
        LongType::Initial => Header::Initial(hdr),
        LongType::ZeroRtt => Header::ZeroRtt(hdr),
        _ => Header::Handshake(hdr),
    };
    Ok(ParsedPacket {
        header,
        first_byte: first,
        pn_offset,
        payload_len,
        len: pn_offset.saturating_add(payload_len),
    })
}

fn cid(bytes: &[u8]) -> Result<ConnectionId, PacketError> {
    ConnectionId::new(bytes).ok_or(PacketError::CidTooLong)
}

/// Where a built header put its variable parts, as offsets into the writer's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderLayout {
    /// Offset of the first byte of the packet.
    pub start: usize,
    /// Offset of the Length field (long headers), equal to `pn_offset` for short headers.
    pub length_offset: usize,
    /// Size of the Length field: 0 for short headers.
    pub length_len: usize,
    /// Offset of the packet number.
    pub pn_offset: usize,
    /// Size of the packet number (1..=4).
    pub pn_len: usize,
}

impl HeaderLayout {
    /// Offset where the payload (the first frame) starts.
    pub const fn payload_offset(&self) -> usize {
        self.pn_offset + self.pn_len
    }

    /// Fills in the Length field once the packet is complete. `packet_end` is the offset in
    /// `buf` just past the packet, including the AEAD tag that protection will add. A no-op
    /// for short headers.
    pub fn set_length(&self, buf: &mut [u8], packet_end: usize) -> Result<(), PacketError> {
        if self.length_len == 0 {
            return Ok(());
        }
        let length = packet_end
            .checked_sub(self.pn_offset)
            .filter(|n| *n >= self.pn_len)
            .ok_or(PacketError::BadLength)?;
        let field = buf
            .get_mut(self.length_offset..)
            .ok_or(PacketError::BufferFull)?;
        varint::encode_with_len(length as u64, self.length_len, field)?;
        Ok(())
    }
}

/// Writes an Initial, 0-RTT or Handshake header (v1 or v2) followed by the truncated packet
/// number `pn` in `pn_len` bytes, reserving `length_len` bytes (1, 2, 4 or 8) for the Length
/// field, to be filled in with [`HeaderLayout::set_length`]. The reserved bits are zero;
/// `fixed_bit` false clears the fixed bit (only when the peer sent grease_quic_bit).
///
/// On error nothing is written.
pub fn write_long(
    w: &mut Writer<'_>,
    ty: LongType,
    hdr: &LongHeader<'_>,
    pn: u64,
    pn_len: usize,
    length_len: usize,
    fixed_bit: bool,
) -> Result<HeaderLayout, PacketError> {
    let bits = ty
        .to_bits(hdr.version)
        .ok_or(PacketError::UnsupportedVersion)?;
    if ty == LongType::Retry || (ty != LongType::Initial && !hdr.token.is_empty()) {
        return Err(PacketError::InvalidArgument);
    }
    if !(1..=4).contains(&pn_len) || varint::max_for_len(length_len).is_none() {
        return Err(PacketError::BadFieldLength);
    }
    let token_len_len = if ty == LongType::Initial {
        varint::encoded_len(hdr.token.len() as u64).ok_or(PacketError::BadFieldLength)?
    } else {
        0
    };
    let total = 7 + hdr.dcid.len() + hdr.scid.len() + token_len_len + hdr.token.len();
    let total = total + length_len + pn_len;
    if w.remaining() < total {
        return Err(PacketError::BufferFull);
    }

    let start = w.position();
    let fixed = if fixed_bit { FIXED_BIT } else { 0 };
    w.u8(FORM_BIT | fixed | (bits << 4) | (pn_len as u8 - 1))?;
    w.u32(hdr.version)?;
    w.u8(hdr.dcid.len() as u8)?;
    w.bytes(&hdr.dcid)?;
    w.u8(hdr.scid.len() as u8)?;
    w.bytes(&hdr.scid)?;
    if ty == LongType::Initial {
        w.varint(hdr.token.len() as u64)?;
        w.bytes(hdr.token)?;
    }
    let length_offset = w.position();
    w.varint_with_len(0, length_len)?;
    let pn_offset = w.position();
    number::write(w, pn, pn_len)?;
    Ok(HeaderLayout {
        start,
        length_offset,
        length_len,
        pn_offset,
        pn_len,
    })
}

/// Writes a short header followed by the truncated packet number `pn` in `pn_len` bytes.
/// The reserved bits are zero; `fixed_bit` false clears the fixed bit (RFC 9287).
///
/// On error nothing is written.
pub fn write_short(
    w: &mut Writer<'_>,
    hdr: &ShortHeader,
    key_phase: bool,
    pn: u64,
    pn_len: usize,
    fixed_bit: bool,
) -> Result<HeaderLayout, PacketError> {
    if !(1..=4).contains(&pn_len) {
        return Err(PacketError::BadFieldLength);
    }
    if w.remaining() < 1 + hdr.dcid.len() + pn_len {
        return Err(PacketError::BufferFull);
    }
    let start = w.position();
    let mut first = pn_len as u8 - 1;
    if fixed_bit {
        first |= FIXED_BIT;
    }
    if hdr.spin {
        first |= SPIN_BIT;
    }
    if key_phase {
        first |= super::first_byte::KEY_PHASE_BIT;
    }
    w.u8(first)?;
    w.bytes(&hdr.dcid)?;
    let pn_offset = w.position();
    number::write(w, pn, pn_len)?;
    Ok(HeaderLayout {
        start,
        length_offset: pn_offset,
        length_len: 0,
        pn_offset,
        pn_len,
    })
}

/// Writes a Retry packet without its integrity tag (packet protection computes the tag over
/// the Retry pseudo-packet and appends it). The unused low bits of the first byte are zero.
/// Returns the bytes written; on error nothing is written.
pub fn write_retry(
    w: &mut Writer<'_>,
    version: u32,
    dcid: &ConnectionId,
    scid: &ConnectionId,
    token: &[u8],
) -> Result<usize, PacketError> {
    let bits = LongType::Retry
        .to_bits(version)
        .ok_or(PacketError::UnsupportedVersion)?;
    if token.is_empty() {
        return Err(PacketError::InvalidArgument);
    }
    let total = 7 + dcid.len() + scid.len() + token.len();
    if w.remaining() < total {
        return Err(PacketError::BufferFull);
    }
    w.u8(FORM_BIT | FIXED_BIT | (bits << 4))?;
    w.u32(version)?;
    w.u8(dcid.len() as u8)?;
    w.bytes(dcid)?;
    w.u8(scid.len() as u8)?;
    w.bytes(scid)?;
    w.bytes(token)?;
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::first_byte;
    use crate::packet::{VERSION_1, VERSION_2};

    use crate::packet::Coalesced;
    use proptest::prelude::*;

    fn cid(b: &[u8]) -> ConnectionId {
        ConnectionId::new(b).unwrap()
    }

    /// RFC 9001 Appendix A.2: the client Initial's unprotected header, followed by enough
    /// payload to satisfy its Length (0x449e = 1182).
    #[test]
    fn rfc9001_client_initial_header() {
        let hdr = hex::decode("c300000001088394c8f03e5157080000449e00000002").unwrap();
        let mut pkt = hdr.clone();
        pkt.resize(18 + 1182, 0);
        let p = parse(&pkt, 0, false).unwrap();
        assert_eq!(p.pn_offset, 18);
        assert_eq!(p.payload_len, 1182);
        assert_eq!(p.len, 1200);
        assert_eq!(p.first_byte, 0xc3);
        assert_eq!(first_byte::pn_len(p.first_byte), 4);
        assert_eq!(number::read(&pkt[p.pn_offset..], 4), Some(2));
        let Header::Initial(h) = p.header else {
            panic!("not an Initial: {:?}", p.header)
        };
        assert_eq!(h.version, VERSION_1);
        assert_eq!(&*h.dcid, &hex::decode("8394c8f03e515708").unwrap()[..]);
        assert!(h.scid.is_empty());
        assert!(h.token.is_empty());
        assert_eq!(p.header.packet_type(), Some(PacketType::Initial));

        // Building the same header gives the same bytes.
        let mut out = [0u8; 64];
        let mut w = Writer::new(&mut out);
        let layout = write_long(&mut w, LongType::Initial, &h, 2, 4, 2, true).unwrap();
        assert_eq!(layout.pn_offset, 18);
        assert_eq!(layout.length_offset, 16);
        assert_eq!(layout.payload_offset(), 22);
        let end = layout.pn_offset + 1182;
        let n = w.position();
        layout.set_length(&mut out, end).unwrap();
        assert_eq!(&out[..n], &hdr[..]);
        // The whole header is too short without payload.
        assert_eq!(parse(&hdr, 0, false), Err(PacketError::BadLength));
    }

    #[test]
    fn v2_initial_type_bits() {
        let h = LongHeader {
            version: VERSION_2,
            dcid: cid(&[1; 8]),
            scid: cid(&[2; 5]),
            token: b"tok",
        };
        let mut out = [0u8; 100];
        let mut w = Writer::new(&mut out);
        let l = write_long(&mut w, LongType::Initial, &h, 7, 1, 2, true).unwrap();
        w.zeros(20).unwrap();
        let end = w.position();
        l.set_length(&mut out, end).unwrap();
        assert_eq!(out[0], 0xd0); // long | fixed | Initial=0b01 in v2
        let p = parse(&out[..end], 0, false).unwrap();
        assert_eq!(p.header, Header::Initial(h));
        assert_eq!(p.len, end);
        assert_eq!(p.payload_len, 21);
    }

    #[test]
    fn all_long_types_roundtrip() {
        for version in [VERSION_1, VERSION_2] {
            for ty in [LongType::Initial, LongType::ZeroRtt, LongType::Handshake] {
                let token: &[u8] = if ty == LongType::Initial { b"abc" } else { b"" };
                let h = LongHeader {
                    version,
                    dcid: cid(&[9; 20]),
                    scid: cid(&[]),
                    token,
                };
                for length_len in [1usize, 2, 4, 8] {
                    let mut out = [0u8; 128];
                    let mut w = Writer::new(&mut out);
                    let l = write_long(&mut w, ty, &h, 0x1234, 2, length_len, true).unwrap();
                    w.zeros(30).unwrap();
                    let end = w.position();
                    l.set_length(&mut out, end).unwrap();
                    let p = parse(&out[..end], 0, false).unwrap();
                    assert_eq!(p.header.long_type(), Some(ty));
                    assert_eq!(p.pn_offset, l.pn_offset);
                    assert_eq!(number::read(&out[p.pn_offset..], 2), Some(0x1234));
                }
            }
        }
    }

    #[test]
    fn short_header() {
        let h = ShortHeader {
            dcid: cid(&[7; 8]),
            spin: true,
        };
        let mut out = [0u8; 64];
        let mut w = Writer::new(&mut out);
        let l = write_short(&mut w, &h, true, 0xabcdef, 3, true).unwrap();
        assert_eq!(l.pn_offset, 9);
        w.zeros(20).unwrap();
        let end = w.position();
        assert_eq!(out[0], 0x40 | 0x20 | 0x04 | 0x02);
        let p = parse(&out[..end], 8, false).unwrap();
        assert_eq!(p.header, Header::Short(h));
        assert_eq!(p.pn_offset, 9);
        assert_eq!(p.payload_len, end - 9);
        assert_eq!(p.len, end);
        assert_eq!(p.header.packet_type(), Some(PacketType::OneRtt));
        l.set_length(&mut out, end).unwrap();
        // Only the connection ID: nothing for the packet number.
        assert_eq!(parse(&out[..9], 8, false), Err(PacketError::Truncated));
        assert_eq!(parse(&out[..end], 21, false), Err(PacketError::CidTooLong));
        assert_eq!(parse(&[], 0, false), Err(PacketError::Truncated));
    }

    #[test]
    fn fixed_bit_and_grease() {
        let mut short = [0x01u8, 1, 2, 3, 4, 5];
        assert_eq!(parse(&short, 0, false), Err(PacketError::FixedBitZero));
        assert!(parse(&short, 0, true).is_ok());
        short[0] |= FIXED_BIT;
        assert!(parse(&short, 0, false).is_ok());

        let h = LongHeader {
            version: VERSION_1,
            dcid: cid(&[1]),
            scid: cid(&[2]),
            token: &[],
        };
        let mut out = [0u8; 64];
        let mut w = Writer::new(&mut out);
        let l = write_long(&mut w, LongType::Handshake, &h, 1, 1, 1, false).unwrap();
        w.zeros(20).unwrap();
        let end = w.position();
        l.set_length(&mut out, end).unwrap();
        assert_eq!(out[0] & FIXED_BIT, 0);
        assert_eq!(parse(&out[..end], 0, false), Err(PacketError::FixedBitZero));
        assert_eq!(
            parse(&out[..end], 0, true).unwrap().header,
            Header::Handshake(h)
        );
    }

    #[test]
    fn retry_roundtrip_and_rejects() {
        for version in [VERSION_1, VERSION_2] {
            let mut out = [0u8; 128];
            let mut w = Writer::new(&mut out);
            let n = write_retry(
                &mut w,
                version,
                &cid(&[1, 2]),
                &cid(&[3; 20]),
                b"retry-token",
            )
            .unwrap();
            w.bytes(&[0xee; 16]).unwrap();
            let end = w.position();
            assert_eq!(end, n + 16);
            let p = parse(&out[..end], 0, false).unwrap();
            let Header::Retry(r) = p.header else {
                panic!("not retry")
            };
            assert_eq!(r.token, b"retry-token");
            assert_eq!(r.integrity_tag, [0xee; 16]);
            assert_eq!(&*r.scid, &[3; 20]);
            assert!(!p.is_protected());
            assert_eq!(p.len, end);
            // Token empty: only the tag follows the CIDs.
            let bare = 7 + 2 + 20;
            let mut no_token = out[..bare].to_vec();
            no_token.extend_from_slice(&[0xee; 16]);
            assert_eq!(parse(&no_token, 0, false), Err(PacketError::BadRetry));
            assert_eq!(
                parse(&out[..bare + 5], 0, false),
                Err(PacketError::BadRetry)
            );
        }
        let mut out = [0u8; 64];
        let mut w = Writer::new(&mut out);
        assert_eq!(
            write_retry(&mut w, VERSION_1, &cid(&[]), &cid(&[]), b""),
            Err(PacketError::InvalidArgument)
        );
        assert_eq!(
            write_retry(&mut w, 7, &cid(&[]), &cid(&[]), b"x"),
            Err(PacketError::UnsupportedVersion)
        );
    }

    #[test]
    fn cid_limits() {
        // v1 Handshake with a 21-byte DCID is dropped ...
        let mut p = std::vec![0xe0u8, 0, 0, 0, 1, 21];
        p.extend_from_slice(&[0; 21]);
        p.extend_from_slice(&[0, 2, 0, 0]);
        assert_eq!(parse(&p, 0, false), Err(PacketError::CidTooLong));
        // ... and the same bytes with an unknown version parse as invariants.
        p[1..5].copy_from_slice(&0xff00_0020u32.to_be_bytes());
        let parsed = parse(&p, 0, false).unwrap();
        assert_eq!(
            parsed.header,
            Header::UnknownVersion {
                version: 0xff00_0020,
                dcid: &[0; 21],
                scid: &[]
            }
        );
        assert_eq!(parsed.len, p.len());
        assert_eq!(parsed.header.dcid().len(), 21);
        // An unknown version ignores the fixed bit.
        p[0] = 0x80;
        assert!(parse(&p, 0, false).is_ok());
        // Long CID truncated.
        assert_eq!(parse(&p[..20], 0, false), Err(PacketError::Truncated));
    }

    #[test]
    fn length_checks() {
        // Handshake v1, empty CIDs, Length 5 but only 4 bytes follow.
        let p = [0xe0u8, 0, 0, 0, 1, 0, 0, 5, 1, 2, 3, 4];
        assert_eq!(parse(&p, 0, false), Err(PacketError::BadLength));
        let p = [0xe0u8, 0, 0, 0, 1, 0, 0, 0, 1, 2, 3, 4];
        assert_eq!(parse(&p, 0, false), Err(PacketError::BadLength));
        let p = [0xe0u8, 0, 0, 0, 1, 0, 0, 4, 1, 2, 3, 4, 0xff];
        let parsed = parse(&p, 0, false).unwrap();
        assert_eq!(
            (parsed.pn_offset, parsed.payload_len, parsed.len),
            (8, 4, 12)
        );
        // Initial token length past the end.
        let p = [0xc0u8, 0, 0, 0, 1, 0, 0, 0x44, 0, 1];
        assert_eq!(parse(&p, 0, false), Err(PacketError::Truncated));
        // Huge varint Length.
        let p = [
            0xe0u8, 0, 0, 0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1,
        ];
        assert_eq!(parse(&p, 0, false), Err(PacketError::BadLength));
    }

    #[test]
    fn build_rejects() {
        let h = LongHeader {
            version: VERSION_1,
            dcid: cid(&[1; 4]),
            scid: cid(&[]),
            token: b"t",
        };
        let mut out = [0u8; 64];
        let mut w = Writer::new(&mut out);
        assert_eq!(
            write_long(&mut w, LongType::Handshake, &h, 0, 1, 2, true),
            Err(PacketError::InvalidArgument)
        );
        assert_eq!(
            write_long(&mut w, LongType::Retry, &h, 0, 1, 2, true),
            Err(PacketError::InvalidArgument)
        );
        assert_eq!(
            write_long(&mut w, LongType::Initial, &h, 0, 0, 2, true),
            Err(PacketError::BadFieldLength)
        );
        assert_eq!(
            write_long(&mut w, LongType::Initial, &h, 0, 1, 3, true),
            Err(PacketError::BadFieldLength)
        );
        let bad_version = LongHeader { version: 5, ..h };
        assert_eq!(
            write_long(&mut w, LongType::Initial, &bad_version, 0, 1, 2, true),
            Err(PacketError::UnsupportedVersion)
        );
        assert_eq!(w.position(), 0);
        let mut small = [0u8; 10];
        let mut w = Writer::new(&mut small);
        assert_eq!(
            write_long(&mut w, LongType::Initial, &h, 0, 1, 2, true),
            Err(PacketError::BufferFull)
        );
        assert_eq!(w.position(), 0);
        let sh = ShortHeader {
            dcid: cid(&[1; 8]),
            spin: false,
        };
        assert_eq!(
            write_short(&mut w, &sh, false, 0, 2, true),
            Err(PacketError::BufferFull)
        );
        assert_eq!(
            write_short(&mut w, &sh, false, 0, 5, true),
            Err(PacketError::BadFieldLength)
        );
        // Length field too small for the packet.
        let mut out = [0u8; 200];
        let mut w = Writer::new(&mut out);
        let l = write_long(&mut w, LongType::Initial, &h, 0, 1, 1, true).unwrap();
        assert_eq!(
            l.set_length(&mut out, 150),
            Err(PacketError::BadFieldLength)
        );
        assert_eq!(
            l.set_length(&mut out, l.pn_offset),
            Err(PacketError::BadLength)
        );
        assert!(l.set_length(&mut out, l.pn_offset + 63).is_ok());
    }

    proptest! {
        #[test]
        fn parse_random_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..160),
                                           dcid_len in 0usize..24, grease in any::<bool>()) {
            let _ = parse(&bytes, dcid_len, grease);
            let mut next = 0;
            for item in Coalesced::new(&bytes, dcid_len, grease) {
                let Ok((offset, p)) = item else { break };
                prop_assert_eq!(offset, next);
                next = offset + p.len;
                prop_assert!(next <= bytes.len());
                if p.is_protected() {
                    prop_assert_eq!(p.pn_offset + p.payload_len, p.len);
                }
            }
        }

        #[test]
        fn long_header_roundtrip(v2 in any::<bool>(), ty in 0usize..3,
                                 dcid in proptest::collection::vec(any::<u8>(), 0..=20),
                                 scid in proptest::collection::vec(any::<u8>(), 0..=20),
                                 token in proptest::collection::vec(any::<u8>(), 0..80),
                                 pn in 0..number::MAX_PN, pn_len in 1usize..=4,
                                 length_len in prop_oneof![Just(1usize), Just(2), Just(4), Just(8)],
                                 payload in 0usize..100, fixed in any::<bool>()) {
            let ty = [LongType::Initial, LongType::ZeroRtt, LongType::Handshake][ty];
            let h = LongHeader {
                version: if v2 { VERSION_2 } else { VERSION_1 },
                dcid: cid(&dcid),
                scid: cid(&scid),
                token: if ty == LongType::Initial { &token } else { &[] },
            };
            let mut out = [0u8; 512];
            let mut w = Writer::new(&mut out);
            let l = write_long(&mut w, ty, &h, pn, pn_len, length_len, fixed).unwrap();
            w.zeros(payload).unwrap();
            let end = w.position();
            prop_assume!(l.set_length(&mut out, end).is_ok());
            let p = parse(&out[..end], 0, !fixed).unwrap();
            prop_assert_eq!(p.header.long_type(), Some(ty));
            let expected = match ty {
                LongType::Initial => Header::Initial(h),
                LongType::ZeroRtt => Header::ZeroRtt(h),
                _ => Header::Handshake(h),
            };
            prop_assert_eq!(p.header, expected);
            prop_assert_eq!(p.pn_offset, l.pn_offset);
            prop_assert_eq!(p.payload_len, pn_len + payload);
            prop_assert_eq!(first_byte::pn_len(p.first_byte), pn_len);
            prop_assert_eq!(number::read(&out[p.pn_offset..], pn_len), Some(number::truncate(pn, pn_len)));
        }

        #[test]
        fn short_header_roundtrip(dcid in proptest::collection::vec(any::<u8>(), 0..=20),
                                  spin in any::<bool>(), key_phase in any::<bool>(),
                                  pn in 0..number::MAX_PN, pn_len in 1usize..=4,
                                  payload in 0usize..40, fixed in any::<bool>()) {
            let h = ShortHeader { dcid: cid(&dcid), spin };
            let mut out = [0u8; 128];
            let mut w = Writer::new(&mut out);
            let l = write_short(&mut w, &h, key_phase, pn, pn_len, fixed).unwrap();
            w.zeros(payload).unwrap();
            let end = w.position();
            let p = parse(&out[..end], dcid.len(), !fixed).unwrap();
            prop_assert_eq!(p.header, Header::Short(h));
            prop_assert_eq!(p.pn_offset, l.pn_offset);
            prop_assert_eq!(first_byte::key_phase(p.first_byte), key_phase);
            prop_assert!(first_byte::reserved_bits_ok(p.first_byte));
            prop_assert_eq!(number::read(&out[p.pn_offset..], pn_len), Some(number::truncate(pn, pn_len)));
        }
    }
}
