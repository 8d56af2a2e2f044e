//! Compatible version negotiation (RFC 9368, with QUIC v1 and v2 of RFC 9369).
//!
//! The server learns which versions the client supports from the version_information
//! transport parameter inside the ClientHello. It must pick the version before it sends its
//! first packet, so the ClientHello is read here straight from the first CRYPTO bytes, before
//! TLS sees them: a short walk over the handshake message to the quic_transport_parameters
//! extension (0x39), which [`TransportParams::decode`] then checks.

use crate::codec::Reader;
use crate::crypto::Side;
use crate::packet::{VERSION_1, VERSION_2};
use crate::transport_params::{TransportParams, VersionInformation};

/// TLS extension type of quic_transport_parameters.
const EXT_QUIC_TRANSPORT_PARAMETERS: u16 = 0x39;
/// TLS handshake message type of ClientHello.
const CLIENT_HELLO: u8 = 1;

/// True when a connection can move between versions `a` and `b` during the handshake:
/// v1 and v2 are compatible both ways (RFC 9369 §4).
pub const fn compatible(a: u32, b: u32) -> bool {
    matches!((a, b), (VERSION_1, VERSION_2) | (VERSION_2, VERSION_1)) || a == b
}

fn vec16<'a>(r: &mut Reader<'a>) -> Option<Reader<'a>> {
    let n = r.u16().ok()?;
    Some(Reader::new(r.bytes(usize::from(n)).ok()?))
}

/// The client's version_information from the start of its CRYPTO stream, when the whole
/// ClientHello is there.
pub fn client_hello_version_info(crypto: &[u8]) -> Option<VersionInformation> {
    let mut r = Reader::new(crypto);
    if r.u8().ok()? != CLIENT_HELLO {
        return None;
    }
    let len = r.bytes(3).ok()?;
    let len = len.iter().fold(0usize, |a, b| (a << 8) | usize::from(*b));
    let mut m = Reader::new(r.bytes(len).ok()?);
    m.skip(2 + 32).ok()?; // legacy_version, random
    let sid = usize::from(m.u8().ok()?);
    m.skip(sid).ok()?;
    vec16(&mut m)?; // cipher_suites
    let comp = usize::from(m.u8().ok()?);
    m.skip(comp).ok()?;
    let mut exts = vec16(&mut m)?;
    while !exts.is_empty() {
        let ty = exts.u16().ok()?;
        let body = vec16(&mut exts)?;
        if ty == EXT_QUIC_TRANSPORT_PARAMETERS {
            let tp = TransportParams::decode(body.peek_rest(), Side::Client).ok()?;
            return tp.version_information;
        }
    }
    None
}

/// The version a server with preferences `ours` (most preferred first) moves a client to,
/// when it prefers a compatible version the client also lists over `current`.
pub fn choose(ours: &[u32], current: u32, client: &VersionInformation) -> Option<u32> {
    if client.chosen != current {
        return None;
    }
    let best = ours
        .iter()
        .copied()
        .find(|v| client.available().contains(v) && compatible(current, *v))?;
    (best != current).then_some(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_hello(tp: &[u8]) -> std::vec::Vec<u8> {
        let mut body = std::vec![3, 3];
        body.extend_from_slice(&[0u8; 32]);
        body.push(0); // session id
        body.extend_from_slice(&[0, 2, 0x13, 0x01]);
        body.extend_from_slice(&[1, 0]);
        let mut exts = std::vec::Vec::new();
        exts.extend_from_slice(&[0, 0x2b, 0, 3, 2, 3, 4]); // supported_versions
        exts.extend_from_slice(&[0, 0x39]);
        exts.extend_from_slice(&(tp.len() as u16).to_be_bytes());
        exts.extend_from_slice(tp);
        body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        body.extend_from_slice(&exts);
        let mut m = std::vec![CLIENT_HELLO, 0, (body.len() >> 8) as u8, body.len() as u8];
        m.extend_from_slice(&body);
        m
    }

    #[test]
    fn finds_version_information() {
        let tp = TransportParams {
            initial_source_connection_id: crate::cid::ConnectionId::new(&[1, 2]),
            version_information: VersionInformation::new(VERSION_1, &[VERSION_1, VERSION_2]),
            ..TransportParams::default()
        };
        let mut buf = [0u8; 256];
        let mut w = crate::codec::Writer::new(&mut buf);
        tp.encode(&mut w, Side::Client).unwrap();
        let n = w.position();
        let ch = client_hello(&buf[..n]);
        let vi = client_hello_version_info(&ch).unwrap();
        assert_eq!(vi.chosen, VERSION_1);
        assert_eq!(
            choose(&[VERSION_2, VERSION_1], VERSION_1, &vi),
            Some(VERSION_2)
        );
        assert_eq!(choose(&[VERSION_1, VERSION_2], VERSION_1, &vi), None);
        assert_eq!(client_hello_version_info(&ch[..ch.len() - 1]), None);
        assert_eq!(client_hello_version_info(&[]), None);
    }
}
