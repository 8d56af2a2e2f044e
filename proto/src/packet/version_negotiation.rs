//! Version Negotiation packets (RFC 9000 §17.2.1, RFC 8999 §6).

use super::first_byte::{FIXED_BIT, FORM_BIT};
use super::{PacketError, VERSION_NEGOTIATION};
use crate::codec::Writer;

/// A parsed Version Negotiation packet. Connection IDs follow the invariants (up to 255
/// bytes each), since they echo the client's, whatever its version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionNegotiation<'a> {
    /// Destination connection ID (the client's source connection ID).
    pub dcid: &'a [u8],
    /// Source connection ID (the client's destination connection ID).
    pub scid: &'a [u8],
    versions: &'a [u8],
}

impl<'a> VersionNegotiation<'a> {
    /// Wraps the fields of a received packet; the version list must be a whole number of
    /// 32-bit versions.
    pub fn new(dcid: &'a [u8], scid: &'a [u8], versions: &'a [u8]) -> Result<Self, PacketError> {
        if versions.len() % 4 != 0 {
            return Err(PacketError::BadVersionList);
        }
        Ok(Self {
            dcid,
            scid,
            versions,
        })
    }

    /// Number of versions listed.
    pub fn len(&self) -> usize {
        self.versions.len() / 4
    }

    /// True when no version is listed.
    pub fn is_empty(&self) -> bool {
        self.versions.is_empty()
    }

    /// The supported versions the server listed, in order.
    pub fn versions(&self) -> impl Iterator<Item = u32> + 'a {
        self.versions
            .chunks_exact(4)
            .map(|c| c.iter().fold(0u32, |v, b| (v << 8) | u32::from(*b)))
    }

    /// True when `version` is listed.
    pub fn contains(&self, version: u32) -> bool {
        self.versions().any(|v| v == version)
    }
}

/// Writes a Version Negotiation packet answering a packet with connection IDs `their_dcid`
/// and `their_scid` (they are swapped, RFC 9000 §17.2.1). `unused` supplies the 7 arbitrary
/// bits of the first byte (RFC 8999); the 0x40 bit is always set so the packet looks like it
/// has a fixed bit. Returns the bytes written; on error nothing is written.
pub fn write_version_negotiation(
    w: &mut Writer<'_>,
    their_dcid: &[u8],
    their_scid: &[u8],
    versions: &[u32],
    unused: u8,
) -> Result<usize, PacketError> {
    let dcid_len = u8::try_from(their_scid.len()).map_err(|_| PacketError::CidTooLong)?;
    let scid_len = u8::try_from(their_dcid.len()).map_err(|_| PacketError::CidTooLong)?;
    let total = versions
        .len()
        .checked_mul(4)
        .and_then(|n| n.checked_add(7 + their_dcid.len() + their_scid.len()))
        .ok_or(PacketError::BufferFull)?;
    if w.remaining() < total {
        return Err(PacketError::BufferFull);
    }
    w.u8(FORM_BIT | FIXED_BIT | (unused & 0x3f))?;
    w.u32(VERSION_NEGOTIATION)?;
    w.u8(dcid_len)?;
    w.bytes(their_scid)?;
    w.u8(scid_len)?;
    w.bytes(their_dcid)?;
    for v in versions {
        w.u32(*v)?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{parse, Header, VERSION_1, VERSION_2};

    #[test]
    fn build_and_parse() {
        let mut out = [0u8; 128];
        let mut w = Writer::new(&mut out);
        let versions = [VERSION_2, VERSION_1, 0x1a2a3a4a];
        let n = write_version_negotiation(&mut w, &[1; 30], &[2; 4], &versions, 0xff).unwrap();
        assert_eq!(n, 7 + 30 + 4 + 12);
        assert_eq!(out[0], 0xff);
        let p = parse(&out[..n], 0, false).unwrap();
        let Header::VersionNegotiation(vn) = p.header else {
            panic!("not VN")
        };
        assert_eq!(vn.dcid, &[2; 4]);
        assert_eq!(vn.scid, &[1; 30]);
        assert_eq!(vn.len(), 3);
        assert!(vn.versions().eq(versions.iter().copied()));
        assert!(vn.contains(VERSION_1));
        assert!(!vn.contains(7));
        assert!(!p.is_protected());
        // A first byte without the fixed bit is fine for VN.
        out[0] = 0x80;
        assert!(parse(&out[..n], 0, false).is_ok());
        // A partial version is malformed.
        assert_eq!(
            parse(&out[..n - 1], 0, false),
            Err(PacketError::BadVersionList)
        );
    }

    #[test]
    fn build_rejects() {
        let mut out = [0u8; 16];
        let mut w = Writer::new(&mut out);
        assert_eq!(
            write_version_negotiation(&mut w, &[0; 256], &[], &[], 0),
            Err(PacketError::CidTooLong)
        );
        assert_eq!(
            write_version_negotiation(&mut w, &[0; 8], &[], &[1], 0),
            Err(PacketError::BufferFull)
        );
        assert_eq!(w.position(), 0);
    }
}
