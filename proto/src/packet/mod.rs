//! QUIC packets on the wire: versions, packet types, header parsing and building, packet
//! numbers, Version Negotiation and coalesced datagrams.
//!
//! The parsers work on a packet as received, before header protection is removed: they find
//! the fields that are not protected (form, fixed bit, version, connection IDs, token, Length)
//! and report where the protected packet number starts ([`ParsedPacket::pn_offset`]). After
//! header protection is removed, [`first_byte`] helpers read the packet number length, key
//! phase and reserved bits.

pub mod coalesced;
pub mod first_byte;
pub mod header;
pub mod number;
pub mod version_negotiation;

pub use crate::cid::{ConnectionId, ResetToken, MAX_CID_LEN, RESET_TOKEN_LEN};
pub use coalesced::Coalesced;
pub use header::{
    parse, write_long, write_retry, write_short, Header, HeaderLayout, LongHeader, ParsedPacket,
    RetryHeader, ShortHeader, RETRY_TAG_LEN,
};
pub use version_negotiation::{write_version_negotiation, VersionNegotiation};

use crate::codec::CodecError;

/// QUIC version 1 (RFC 9000).
pub const VERSION_1: u32 = 0x0000_0001;
/// QUIC version 2 (RFC 9369).
pub const VERSION_2: u32 = 0x6b33_43cf;
/// The version field value of a Version Negotiation packet.
pub const VERSION_NEGOTIATION: u32 = 0;

/// True for the versions whose packet formats this crate implements (v1 and v2).
pub const fn is_supported_version(version: u32) -> bool {
    matches!(version, VERSION_1 | VERSION_2)
}

/// True for versions of the form 0x?a?a?a?a that are reserved to exercise version
/// negotiation (RFC 9000 §15).
pub const fn is_reserved_version(version: u32) -> bool {
    version & 0x0f0f_0f0f == 0x0a0a_0a0a
}

/// The four long header packet types (RFC 9000 §17.2, RFC 9369 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LongType {
    /// Initial packet.
    Initial,
    /// 0-RTT packet.
    ZeroRtt,
    /// Handshake packet.
    Handshake,
    /// Retry packet.
    Retry,
}

impl LongType {
    /// The type from the two type bits (`(first_byte >> 4) & 3`) of a `version` packet, or
    /// `None` when the version is not supported.
    pub const fn from_bits(bits: u8, version: u32) -> Option<Self> {
        let bits = bits & 0x03;
        match version {
            VERSION_1 => Some(match bits {
                0 => Self::Initial,
                1 => Self::ZeroRtt,
                2 => Self::Handshake,
                _ => Self::Retry,
            }),
            VERSION_2 => Some(match bits {
                1 => Self::Initial,
                2 => Self::ZeroRtt,
                3 => Self::Handshake,
                _ => Self::Retry,
            }),
            _ => None,
        }
    }

    /// The two type bits of this type in `version`, or `None` when the version is not
    /// supported.
    pub const fn to_bits(self, version: u32) -> Option<u8> {
        match version {
            VERSION_1 => Some(match self {
                Self::Initial => 0,
                Self::ZeroRtt => 1,
                Self::Handshake => 2,
                Self::Retry => 3,
            }),
            VERSION_2 => Some(match self {
                Self::Initial => 1,
                Self::ZeroRtt => 2,
                Self::Handshake => 3,
                Self::Retry => 0,
            }),
            _ => None,
        }
    }

    /// The frame-carrying packet type, or `None` for Retry.
    pub const fn packet_type(self) -> Option<PacketType> {
        match self {
            Self::Initial => Some(PacketType::Initial),
            Self::ZeroRtt => Some(PacketType::ZeroRtt),
            Self::Handshake => Some(PacketType::Handshake),
            Self::Retry => None,
        }
    }
}

/// The packet types that carry frames; frame permissions (RFC 9000 §12.4, Table 3) are
/// expressed in these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// Initial packets.
    Initial,
    /// 0-RTT packets.
    ZeroRtt,
    /// Handshake packets.
    Handshake,
    /// 1-RTT (short header) packets.
    OneRtt,
}

/// Why a packet header could not be parsed or built. A packet that fails to parse is dropped
/// (RFC 9000 §12.2: with the rest of the datagram, when it is in a coalesced datagram).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketError {
    /// The buffer ended inside the header, or a packet with no packet number / payload.
    Truncated,
    /// The fixed bit is zero and zero was not allowed (RFC 9000 §17, RFC 9287).
    FixedBitZero,
    /// A connection ID longer than 20 bytes in a v1/v2 packet.
    CidTooLong,
    /// The Length field runs past the end of the datagram, or is too small to hold the packet
    /// number.
    BadLength,
    /// A Retry packet without a token (RFC 9000 §17.2.5.2) or too short for its tag.
    BadRetry,
    /// A Version Negotiation packet whose version list is not a multiple of 4 bytes.
    BadVersionList,
    /// Building: the version is not one this crate knows the packet types of.
    UnsupportedVersion,
    /// Building: a packet number length outside 1..=4, or a Length field length that is not 1,
    /// 2, 4 or 8 or too short for the value.
    BadFieldLength,
    /// Building: a token on a packet type that has none, or Retry passed to `write_long`.
    InvalidArgument,
    /// Building: the output buffer is too small.
    BufferFull,
}

impl From<CodecError> for PacketError {
    fn from(e: CodecError) -> Self {
        match e {
            CodecError::UnexpectedEnd => Self::Truncated,
            CodecError::BufferFull => Self::BufferFull,
            CodecError::ValueTooLarge | CodecError::InvalidValue => Self::BadFieldLength,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_type_codes() {
        for ty in [
            LongType::Initial,
            LongType::ZeroRtt,
            LongType::Handshake,
            LongType::Retry,
        ] {
            for v in [VERSION_1, VERSION_2] {
                let bits = ty.to_bits(v).unwrap();
                assert_eq!(LongType::from_bits(bits, v), Some(ty));
            }
        }
        assert_eq!(LongType::Initial.to_bits(VERSION_2), Some(1));
        assert_eq!(LongType::Retry.to_bits(VERSION_2), Some(0));
        assert_eq!(LongType::Handshake.to_bits(VERSION_1), Some(2));
        assert_eq!(LongType::Initial.to_bits(0x1234), None);
        assert_eq!(LongType::from_bits(0, 0xff00_001d), None);
        assert!(is_reserved_version(0x1a2a3a4a));
        assert!(!is_reserved_version(VERSION_1));
        assert!(is_supported_version(VERSION_2));
        assert!(!is_supported_version(0));
    }
}
