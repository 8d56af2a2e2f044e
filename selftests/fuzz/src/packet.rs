//! QUIC v1 packets built by hand (RFC 9000 §17, RFC 9001 §5): client Initials protected with
//! the keys anyone can derive from the Destination Connection ID, so that a listener
//! authenticates them and parses the frames inside, and unprotected long and short header
//! packets of every type, for the hostile-packet tool.

use std::sync::Arc;

use ring::aead::quic::{HeaderProtectionKey, AES_128};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};
use ring::hkdf;

/// QUIC version 1.
pub const VERSION_1: u32 = 1;
/// The v1 Initial salt (RFC 9001 §5.2).
const INITIAL_SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad,
    0xcc, 0xbb, 0x7f, 0x0a,
];

/// Long header packet types (v1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LongType {
    /// Initial.
    Initial = 0,
    /// 0-RTT.
    ZeroRtt = 1,
    /// Handshake.
    Handshake = 2,
    /// Retry.
    Retry = 3,
}

/// A variable-length integer (RFC 9000 §16) in its shortest form.
pub fn varint(v: u64, out: &mut Vec<u8>) {
    if v < 1 << 6 {
        out.push(v as u8);
    } else if v < 1 << 14 {
        out.extend_from_slice(&(0x4000 | v as u16).to_be_bytes());
    } else if v < 1 << 30 {
        out.extend_from_slice(&(0x8000_0000 | v as u32).to_be_bytes());
    } else {
        out.extend_from_slice(&(0xc000_0000_0000_0000 | (v & ((1 << 62) - 1))).to_be_bytes());
    }
}

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand-Label of TLS 1.3 with an empty context.
fn expand_label(prk: &hkdf::Prk, label: &str, len: usize) -> Vec<u8> {
    let full = format!("tls13 {label}");
    let info = [
        &(len as u16).to_be_bytes()[..],
        &[full.len() as u8][..],
        full.as_bytes(),
        &[0u8][..],
    ];
    let mut out = vec![0u8; len];
    prk.expand(&info, Len(len))
        .and_then(|okm| okm.fill(&mut out))
        .expect("HKDF-Expand-Label of a valid length");
    out
}

/// The client's Initial packet protection keys for a Destination Connection ID.
pub struct InitialKeys {
    /// AEAD key (AES-128-GCM).
    pub key: Vec<u8>,
    /// AEAD IV.
    pub iv: Vec<u8>,
    /// Header protection key (AES-128).
    pub hp: Vec<u8>,
}

/// Derives the client Initial keys of `dcid` (RFC 9001 §5.2).
pub fn client_initial_keys(dcid: &[u8]) -> InitialKeys {
    let initial = hkdf::Salt::new(hkdf::HKDF_SHA256, &INITIAL_SALT_V1).extract(dcid);
    let secret = expand_label(&initial, "client in", 32);
    let prk = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, &secret);
    InitialKeys {
        key: expand_label(&prk, "quic key", 16),
        iv: expand_label(&prk, "quic iv", 12),
        hp: expand_label(&prk, "quic hp", 16),
    }
}

/// How to lay out a protected client Initial.
#[derive(Clone, Debug)]
pub struct InitialSpec<'a> {
    /// Destination Connection ID (its keys protect the packet).
    pub dcid: &'a [u8],
    /// Source Connection ID.
    pub scid: &'a [u8],
    /// Token field.
    pub token: &'a [u8],
    /// Packet number (sent in 4 bytes).
    pub pn: u32,
    /// The frames (plaintext payload).
    pub frames: &'a [u8],
    /// PADDING frames are appended until the datagram is this long.
    pub pad_to: usize,
    /// A Length field value that is not the packet's (the packet is still protected as if it
    /// were right).
    pub length_override: Option<u64>,
}

/// A protected client Initial packet as `spec` describes it.
pub fn seal_initial(spec: &InitialSpec<'_>) -> Vec<u8> {
    let keys = client_initial_keys(spec.dcid);
    let mut hdr = vec![0xc3]; // long header, fixed bit, Initial, 4-byte packet number
    hdr.extend_from_slice(&VERSION_1.to_be_bytes());
    hdr.push(spec.dcid.len() as u8);
    hdr.extend_from_slice(spec.dcid);
    hdr.push(spec.scid.len() as u8);
    hdr.extend_from_slice(spec.scid);
    varint(spec.token.len() as u64, &mut hdr);
    hdr.extend_from_slice(spec.token);
    // Length in 2 bytes: header so far + 2 + 4 (pn) + payload + 16 (tag).
    let fixed = hdr.len() + 2 + 4 + 16;
    let mut payload = spec.frames.to_vec();
    if fixed + payload.len() < spec.pad_to {
        payload.resize(spec.pad_to - fixed, 0);
    }
    // The sample needs 4 bytes past the packet number start beyond the 4-byte number: pad.
    if payload.len() < 4 {
        payload.resize(4, 0);
    }
    let length = (4 + payload.len() + 16) as u64;
    let field = spec.length_override.unwrap_or(length).min((1 << 14) - 1);
    hdr.extend_from_slice(&(0x4000 | field as u16).to_be_bytes());
    let pn_off = hdr.len();
    hdr.extend_from_slice(&spec.pn.to_be_bytes());
    let key = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &keys.key).expect("AES-128 key"));
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&keys.iv);
    for (k, b) in u64::from(spec.pn).to_be_bytes().iter().enumerate() {
        nonce[4 + k] ^= b;
    }
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&hdr[..]),
            &mut payload,
        )
        .expect("AES-GCM seal");
    let mut pkt = hdr;
    pkt.extend_from_slice(&payload);
    pkt.extend_from_slice(tag.as_ref());
    let hp = HeaderProtectionKey::new(&AES_128, &keys.hp).expect("header protection key");
    let mask = hp
        .new_mask(&pkt[pn_off + 4..pn_off + 20])
        .expect("header protection sample");
    pkt[0] ^= mask[0] & 0x0f;
    for k in 0..4 {
        pkt[pn_off + k] ^= mask[1 + k];
    }
    pkt
}

/// A CRYPTO frame.
pub fn crypto_frame(offset: u64, data: &[u8], out: &mut Vec<u8>) {
    out.push(0x06);
    varint(offset, out);
    varint(data.len() as u64, out);
    out.extend_from_slice(data);
}

/// The ClientHello of a fresh rustls QUIC client (ALPN `alpn`, SNI `server_name`, initial
/// source connection ID `scid`), as CRYPTO bytes.
pub fn client_hello(
    roots: rustls::RootCertStore,
    alpn: &str,
    server_name: &str,
    scid: &[u8],
) -> Result<Vec<u8>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| format!("TLS versions: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![alpn.as_bytes().to_vec()];
    // Transport parameters: initial_source_connection_id (required), max_idle_timeout,
    // initial_max_data, stream limits.
    let mut params = Vec::new();
    for (id, val) in [
        (0x0fu64, scid.to_vec()),
        (0x01, enc(30_000)),
        (0x04, enc(1 << 20)),
        (0x05, enc(1 << 18)),
        (0x06, enc(1 << 18)),
        (0x08, enc(16)),
    ] {
        varint(id, &mut params);
        varint(val.len() as u64, &mut params);
        params.extend_from_slice(&val);
    }
    let name = rustls_pki_types::ServerName::try_from(server_name.to_string())
        .map_err(|e| format!("server name: {e}"))?;
    let mut conn =
        rustls::quic::ClientConnection::new(Arc::new(cfg), rustls::quic::Version::V1, name, params)
            .map_err(|e| format!("rustls QUIC client: {e}"))?;
    let mut hello = Vec::new();
    let _ = conn.write_hs(&mut hello);
    if hello.is_empty() {
        return Err("rustls wrote no ClientHello".to_string());
    }
    Ok(hello)
}

fn enc(v: u64) -> Vec<u8> {
    let mut o = Vec::new();
    varint(v, &mut o);
    o
}

/// An unprotected long header packet of `ty` (or version negotiation when `version` is 0):
/// first byte bits as given in `low_bits`, then `body` as is (token, length, number, payload
/// are whatever the caller put there).
pub fn long_header(
    ty: LongType,
    version: u32,
    low_bits: u8,
    dcid: &[u8],
    scid: &[u8],
    body: &[u8],
) -> Vec<u8> {
    let mut p = vec![0xc0 | ((ty as u8) << 4) | (low_bits & 0x0f)];
    p.extend_from_slice(&version.to_be_bytes());
    p.push(dcid.len() as u8);
    p.extend_from_slice(dcid);
    p.push(scid.len() as u8);
    p.extend_from_slice(scid);
    p.extend_from_slice(body);
    p
}

/// A Version Negotiation packet listing `versions`.
pub fn version_negotiation(first: u8, dcid: &[u8], scid: &[u8], versions: &[u32]) -> Vec<u8> {
    let mut p = vec![0x80 | first];
    p.extend_from_slice(&0u32.to_be_bytes());
    p.push(dcid.len() as u8);
    p.extend_from_slice(dcid);
    p.push(scid.len() as u8);
    p.extend_from_slice(scid);
    for v in versions {
        p.extend_from_slice(&v.to_be_bytes());
    }
    p
}

/// A 1-RTT (short header) packet: fixed bit set, `low_bits` in the rest of the first byte.
pub fn short_header(low_bits: u8, dcid: &[u8], rest: &[u8]) -> Vec<u8> {
    let mut p = vec![0x40 | (low_bits & 0x3f)];
    p.extend_from_slice(dcid);
    p.extend_from_slice(rest);
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::aead::quic::HeaderProtectionKey;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 9001 Appendix A.1: the client Initial keys of DCID 8394c8f03e515708.
    #[test]
    fn rfc9001_initial_keys() {
        let k = client_initial_keys(&hex("8394c8f03e515708"));
        assert_eq!(k.key, hex("1f369613dd76d5467730efcbe3b1a22d"));
        assert_eq!(k.iv, hex("fa044b2f42a3fd3b46fb255c"));
        assert_eq!(k.hp, hex("9f50449e04a0e810283a1e9933adedd2"));
    }

    #[test]
    fn varints() {
        for (v, want) in [
            (0u64, "00"),
            (37, "25"),
            (15293, "7bbd"),
            (494_878_333, "9d7f3e7d"),
            (151_288_809_941_952_652, "c2197c5eff14e88c"),
        ] {
            let mut o = Vec::new();
            varint(v, &mut o);
            assert_eq!(o, hex(want), "{v}");
        }
    }

    /// A sealed Initial unprotects and opens again with the same keys, and its layout is
    /// what the header says.
    #[test]
    fn sealed_initial_round_trips() {
        let dcid = hex("0011223344556677");
        let scid = hex("a1a2a3a4");
        let mut frames = Vec::new();
        crypto_frame(0, b"hello", &mut frames);
        let pkt = seal_initial(&InitialSpec {
            dcid: &dcid,
            scid: &scid,
            token: &[],
            pn: 7,
            frames: &frames,
            pad_to: 1200,
            length_override: None,
        });
        assert_eq!(pkt.len(), 1200);
        assert_eq!(pkt[0] & 0xf0, 0xc0);
        assert_eq!(&pkt[1..5], &[0, 0, 0, 1]);
        let pn_off = 1 + 4 + 1 + 8 + 1 + 4 + 1 + 2;
        let len = u16::from_be_bytes([pkt[pn_off - 2], pkt[pn_off - 1]]) & 0x3fff;
        assert_eq!(pn_off + len as usize, pkt.len());
        // Remove header protection, then open.
        let keys = client_initial_keys(&dcid);
        let hp = HeaderProtectionKey::new(&AES_128, &keys.hp).unwrap();
        let mask = hp.new_mask(&pkt[pn_off + 4..pn_off + 20]).unwrap();
        let mut p = pkt.clone();
        p[0] ^= mask[0] & 0x0f;
        for k in 0..4 {
            p[pn_off + k] ^= mask[1 + k];
        }
        assert_eq!(p[0], 0xc3);
        assert_eq!(&p[pn_off..pn_off + 4], &7u32.to_be_bytes());
        let key = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &keys.key).unwrap());
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&keys.iv);
        nonce[11] ^= 7;
        let (hdr, body) = p.split_at_mut(pn_off + 4);
        let plain = key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&hdr[..]),
                body,
            )
            .expect("opens");
        assert_eq!(
            &plain[..8],
            &[0x06, 0x00, 0x05, b'h', b'e', b'l', b'l', b'o']
        );
        assert!(plain[8..].iter().all(|&b| b == 0));
    }

    #[test]
    fn client_hello_is_a_tls_handshake_message() {
        let hello = client_hello(rustls::RootCertStore::empty(), "x", "kquic.test", &[1; 8])
            .expect("hello");
        assert_eq!(hello[0], 1, "ClientHello handshake type");
        let len = u32::from_be_bytes([0, hello[1], hello[2], hello[3]]) as usize;
        assert_eq!(len + 4, hello.len());
    }

    #[test]
    fn unprotected_layouts() {
        let vn = version_negotiation(0x3f, &[1, 2], &[3], &[0x1a2a_3a4a]);
        assert_eq!(
            vn,
            vec![0xbf, 0, 0, 0, 0, 2, 1, 2, 1, 3, 0x1a, 0x2a, 0x3a, 0x4a]
        );
        let lh = long_header(LongType::Handshake, 1, 0xff, &[9], &[], &[7]);
        assert_eq!(lh, vec![0xef, 0, 0, 0, 1, 1, 9, 0, 7]);
        assert_eq!(short_header(0xff, &[5, 6], &[7]), vec![0x7f, 5, 6, 7]);
    }
}
