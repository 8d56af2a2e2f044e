// SPDX-License-Identifier: GPL-2.0
//! Load-time self-test: the protocol core protects packets through the kernel crypto API and
//! must reproduce the RFC 9001 / RFC 9369 Appendix A vectors byte for byte. A mismatch fails
//! the module load, so a broken backend never carries traffic.

use kernel::prelude::*;
use quic_proto::crypto::{initial_keys, CipherSuite, DirectionalKeys, Side, Version};

use crate::crypto::KernelCrypto;

/// RFC 9001 / 9369 A.3: the server Initial's payload (ACK + CRYPTO ServerHello).
const SERVER_PAYLOAD: &str = "02000000000600405a020000560303eefce7f7b37ba1d1632e96677825ddf73988cfc79825df566dc5430b9a045a1200130100002e00330024001d00209d3c940d89690b84d08a60993c144eca684d1081287c834d5311bcf32bb9da1a002b00020304";
const DCID: &str = "8394c8f03e515708";

struct InitialVector {
    version: Version,
    header: &'static str,
    protected: &'static str,
}

const SERVER_INITIALS: [InitialVector; 2] = [
    InitialVector {
        version: Version::V1,
        header: "c1000000010008f067a5502a4262b50040750001",
        protected: "cf000000010008f067a5502a4262b5004075c0d95a482cd0991cd25b0aac406a5816b6394100f37a1c69797554780bb38cc5a99f5ede4cf73c3ec2493a1839b3dbcba3f6ea46c5b7684df3548e7ddeb9c3bf9c73cc3f3bded74b562bfb19fb84022f8ef4cdd93795d77d06edbb7aaf2f58891850abbdca3d20398c276456cbc42158407dd074ee",
    },
    InitialVector {
        version: Version::V2,
        header: "d16b3343cf0008f067a5502a4262b50040750001",
        protected: "dc6b3343cf0008f067a5502a4262b5004075d92faaf16f05d8a4398c47089698baeea26b91eb761d9b89237bbf87263017915358230035f7fd3945d88965cf17f9af6e16886c61bfc703106fbaf3cb4cfa52382dd16a393e42757507698075b2c984c707f0a0812d8cd5a6881eaf21ceda98f4bd23f6fe1a3e2c43edd9ce7ca84bed8521e2e140",
    },
];

/// RFC 9001 A.5: ChaCha20-Poly1305 short header packet.
const CHACHA_SECRET: &str = "9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b";
const CHACHA_PACKET: &str = "4cfe4189655e5cd55c41f69080575d7999c25a5bfb";
const CHACHA_PN: u64 = 654_360_564;

fn hex(s: &str) -> Result<KVec<u8>> {
    let b = s.as_bytes();
    if b.len() % 2 != 0 {
        return Err(EINVAL);
    }
    let mut v = KVec::with_capacity(b.len() / 2, GFP_KERNEL)?;
    let nib = |c: u8| -> Result<u8> {
        match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            _ => Err(EINVAL),
        }
    };
    for pair in b.chunks(2) {
        v.push((nib(pair[0])? << 4) | nib(pair[1])?, GFP_KERNEL)?;
    }
    Ok(v)
}

fn check(what: &str, ok: bool) -> Result {
    if ok {
        Ok(())
    } else {
        pr_err!("self-test failed: {}\n", what);
        Err(EINVAL)
    }
}

/// Seals the server Initial of `v` with freshly derived keys and opens it as the client would.
fn server_initial(c: &KernelCrypto, v: &InitialVector) -> Result {
    let dcid = hex(DCID)?;
    let payload = hex(SERVER_PAYLOAD)?;
    let mut server = initial_keys(c, v.version, &dcid, Side::Server).map_err(|_| EINVAL)?;
    let client = initial_keys(c, v.version, &dcid, Side::Client).map_err(|_| EINVAL)?;

    // Packet buffers live on the heap: the AEAD maps them with scatterlists.
    let mut pkt = hex(v.header)?;
    let pn_offset = pkt.len() - 2;
    pkt.extend_from_slice(&payload, GFP_KERNEL)?;
    pkt.extend_from_slice(&[0u8; 16], GFP_KERNEL)?;
    server
        .local
        .seal_packet(&mut pkt, pn_offset, 1)
        .map_err(|_| EINVAL)?;
    check(
        "server Initial sealed as in Appendix A",
        pkt[..] == hex(v.protected)?[..],
    )?;

    let opened = client
        .remote
        .open_packet(&mut pkt, pn_offset, None)
        .map_err(|_| EINVAL)?;
    check("server Initial opens", opened.header.packet_number == 1)?;
    check(
        "server Initial payload",
        pkt.get(opened.payload.clone()) == Some(&payload[..]),
    )
}

fn chacha_short_header(c: &KernelCrypto) -> Result {
    let secret = hex(CHACHA_SECRET)?;
    let mut keys = DirectionalKeys::new(c, CipherSuite::Chacha20Poly1305, Version::V1, &secret)
        .map_err(|_| EINVAL)?;
    let mut pkt = hex("4200bff401")?;
    pkt.extend_from_slice(&[0u8; 16], GFP_KERNEL)?;
    keys.seal_packet(&mut pkt, 1, CHACHA_PN)
        .map_err(|_| EINVAL)?;
    check(
        "ChaCha20 short header sealed as in A.5",
        pkt[..] == hex(CHACHA_PACKET)?[..],
    )?;
    let opened = keys
        .open_packet(&mut pkt, 1, Some(CHACHA_PN - 1))
        .map_err(|_| EINVAL)?;
    check(
        "ChaCha20 short header opens",
        opened.header.packet_number == CHACHA_PN,
    )?;
    check(
        "ChaCha20 payload",
        pkt.get(opened.payload.clone()) == Some(&[1u8][..]),
    )
}

/// The suites without published vectors: seal, open, and reject a forgery.
fn roundtrip(c: &KernelCrypto, suite: CipherSuite) -> Result {
    let secret = [0x5au8; 48];
    let secret = &secret[..suite.hash().output_len()];
    let mut keys = DirectionalKeys::new(c, suite, Version::V1, secret).map_err(|_| EINVAL)?;
    let mut pkt = KVec::from_elem(0u8, 80, GFP_KERNEL)?;
    pkt[0] = 0x41; // short header, 2-byte packet number
    for (i, b) in pkt.iter_mut().enumerate().take(64).skip(3) {
        *b = i as u8;
    }
    let mut plain = KVec::new();
    plain.extend_from_slice(&pkt, GFP_KERNEL)?;
    keys.seal_packet(&mut pkt, 1, 7).map_err(|_| EINVAL)?;
    let mut forged = KVec::new();
    forged.extend_from_slice(&pkt, GFP_KERNEL)?;
    forged[40] ^= 1;
    check(
        "forged packet rejected",
        keys.open_packet(&mut forged, 1, Some(6)).is_err(),
    )?;
    let opened = keys.open_packet(&mut pkt, 1, Some(6)).map_err(|_| EINVAL)?;
    check(
        "round trip",
        opened.header.packet_number == 7 && pkt.get(opened.payload.clone()) == plain.get(3..64),
    )
}

/// Runs every check; any failure is returned as the load error.
pub(crate) fn run() -> Result {
    let c = KernelCrypto::new().map_err(Error::from_errno)?;
    for v in &SERVER_INITIALS {
        server_initial(&c, v)?;
    }
    chacha_short_header(&c)?;
    roundtrip(&c, CipherSuite::Aes256Gcm)?;
    roundtrip(&c, CipherSuite::Aes128Ccm)?;
    roundtrip(&c, CipherSuite::Aes128Gcm)?;
    pr_info!(
        "crypto self-test passed (RFC 9001/9369 A.3, A.5 vectors; GCM-128/256, CCM, ChaCha20)\n"
    );
    Ok(())
}
