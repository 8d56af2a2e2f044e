//! Packet protection beyond the RFC vectors: round trips for every suite, tampering, garbage
//! input, key update and the confidentiality limit, on the host backend.

use proptest::prelude::*;
use quic_hostcrypto::HostCrypto;
use quic_proto::crypto::limits::AES_CCM_LIMIT;
use quic_proto::crypto::{
    open_payload, unprotect_header, CipherSuite, ConfidentialityCounter, CryptoError,
    DirectionalKeys, IntegrityCounter, LimitStatus, PacketKey, Version,
};

const VERSIONS: [Version; 2] = [Version::V1, Version::V2];

fn secret_for(suite: CipherSuite, seed: u8) -> Vec<u8> {
    (0..suite.hash().output_len())
        .map(|i| seed.wrapping_mul(31).wrapping_add(i as u8))
        .collect()
}

fn keys(suite: CipherSuite, version: Version, seed: u8) -> DirectionalKeys<HostCrypto> {
    DirectionalKeys::new(&HostCrypto, suite, version, &secret_for(suite, seed)).unwrap()
}

/// A packet with a plausible header: long (Handshake-like, 8-byte CIDs) or short (8-byte DCID),
/// the payload and 16 bytes of tag room. Returns the buffer and `pn_offset`.
fn build(long: bool, key_phase: bool, pn_len: usize, pn: u64, payload: &[u8]) -> (Vec<u8>, usize) {
    let pn_bits = (pn_len - 1) as u8;
    let mut buf = Vec::new();
    if long {
        buf.push(0xe0 | pn_bits);
        buf.extend_from_slice(&[
            0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 8, 9, 9, 9, 9, 9, 9, 9, 9,
        ]);
        let len = (pn_len + payload.len() + 16) as u16 | 0x4000;
        buf.extend_from_slice(&len.to_be_bytes());
    } else {
        buf.push(0x40 | (u8::from(key_phase) << 2) | pn_bits);
        buf.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
    }
    let pn_offset = buf.len();
    buf.extend_from_slice(&pn.to_be_bytes()[8 - pn_len..]);
    buf.extend_from_slice(payload);
    buf.extend_from_slice(&[0u8; 16]);
    (buf, pn_offset)
}

#[test]
fn round_trip_every_suite_version_form_and_pn_len() {
    for suite in CipherSuite::ALL {
        for version in VERSIONS {
            let mut tx = keys(suite, version, 1);
            let rx = keys(suite, version, 1);
            for long in [true, false] {
                for key_phase in [false, true] {
                    for pn_len in 1..=4usize {
                        let pn = 0x1234_5678u64 & ((1u64 << (8 * pn_len)) - 1);
                        let payload: Vec<u8> = (0..(40 + pn_len * 7)).map(|i| i as u8).collect();
                        let (mut buf, pn_offset) = build(long, key_phase, pn_len, pn, &payload);
                        let plain = buf.clone();
                        tx.seal_packet(&mut buf, pn_offset, pn).unwrap();
                        assert_ne!(buf, plain);
                        let sealed = buf.clone();
                        let opened = rx
                            .open_packet(&mut buf, pn_offset, pn.checked_sub(1))
                            .unwrap();
                        assert_eq!(opened.header.packet_number, pn);
                        assert_eq!(opened.header.pn_len, pn_len);
                        assert_eq!(opened.header.long_header, long);
                        assert_eq!(opened.header.key_phase, key_phase && !long);
                        assert_eq!(opened.header.reserved_bits, 0);
                        assert_eq!(&buf[opened.payload.clone()], payload.as_slice());
                        assert_eq!(&buf[..opened.payload.end], &plain[..opened.payload.end]);
                        // Re-sealing the opened packet reproduces it exactly.
                        tx.seal_packet(&mut buf, pn_offset, pn).unwrap();
                        assert_eq!(buf, sealed);
                    }
                }
            }
        }
    }
}

#[test]
fn reserved_bits_are_reported_after_authentication() {
    for (long, bits) in [(true, 0x0cu8), (true, 0x04), (false, 0x18), (false, 0x08)] {
        let mut tx = keys(CipherSuite::Aes128Gcm, Version::V1, 2);
        let (mut buf, pn_offset) = build(long, false, 2, 7, &[1; 30]);
        buf[0] |= bits;
        tx.seal_packet(&mut buf, pn_offset, 7).unwrap();
        let opened = tx.open_packet_with_peer(&mut buf, pn_offset);
        assert_eq!(opened.header.reserved_bits, bits);
    }
}

/// Opening with a fresh copy of the same keys (the peer's view).
trait OpenWithPeer {
    fn open_packet_with_peer(
        &self,
        buf: &mut [u8],
        pn_offset: usize,
    ) -> quic_proto::crypto::OpenedPacket;
}

impl OpenWithPeer for DirectionalKeys<HostCrypto> {
    fn open_packet_with_peer(
        &self,
        buf: &mut [u8],
        pn_offset: usize,
    ) -> quic_proto::crypto::OpenedPacket {
        self.open_packet(buf, pn_offset, None).unwrap()
    }
}

#[test]
fn any_flipped_bit_fails_to_open() {
    for suite in CipherSuite::ALL {
        let mut tx = keys(suite, Version::V1, 3);
        let rx = keys(suite, Version::V1, 3);
        for long in [true, false] {
            let (mut buf, pn_offset) = build(long, false, 2, 300, &[0xab; 24]);
            tx.seal_packet(&mut buf, pn_offset, 300).unwrap();
            for i in 0..buf.len() {
                for bit in 0..8 {
                    let mut t = buf.clone();
                    t[i] ^= 1 << bit;
                    let r = rx.open_packet(&mut t, pn_offset, Some(299));
                    assert!(
                        r.is_err(),
                        "{suite:?} long={long} byte {i} bit {bit} opened"
                    );
                }
            }
            let mut ok = buf.clone();
            rx.open_packet(&mut ok, pn_offset, Some(299)).unwrap();
        }
    }
}

#[test]
fn wrong_keys_fail_to_open() {
    for suite in CipherSuite::ALL {
        let mut tx = keys(suite, Version::V1, 4);
        let (mut buf, pn_offset) = build(false, false, 4, 9, &[5; 20]);
        tx.seal_packet(&mut buf, pn_offset, 9).unwrap();
        for other in [keys(suite, Version::V1, 5), keys(suite, Version::V2, 4)] {
            let mut t = buf.clone();
            assert!(other.open_packet(&mut t, pn_offset, Some(8)).is_err());
        }
    }
}

#[test]
fn short_and_inconsistent_inputs_are_errors() {
    let mut k = keys(CipherSuite::Aes128Gcm, Version::V1, 6);
    // Too short to sample: pn_offset + 4 + 16 bytes are needed.
    for len in 0..30usize {
        let mut buf = vec![0x41u8; len];
        let r = k.open_packet(&mut buf, 9, None);
        if len < 9 + 20 {
            assert_eq!(r.unwrap_err(), CryptoError::Malformed, "len {len}");
        }
        let mut buf = vec![0x41u8; len];
        let r = k.seal_packet(&mut buf, 9, 0);
        if len < 9 + 20 {
            assert_eq!(r.unwrap_err(), CryptoError::Malformed, "seal len {len}");
        }
    }
    let mut buf = vec![0x41u8; 64];
    assert_eq!(
        k.open_packet(&mut buf, 0, None).unwrap_err(),
        CryptoError::Malformed
    );
    assert_eq!(
        k.open_packet(&mut buf, usize::MAX, None).unwrap_err(),
        CryptoError::Malformed
    );
    assert_eq!(
        k.open_packet(&mut buf, usize::MAX - 3, None).unwrap_err(),
        CryptoError::Malformed
    );
    assert_eq!(
        k.seal_packet(&mut buf, 0, 1).unwrap_err(),
        CryptoError::Malformed
    );
    assert_eq!(
        k.seal_packet(&mut buf, usize::MAX, 1).unwrap_err(),
        CryptoError::Malformed
    );
    assert_eq!(
        k.seal_packet(&mut buf, 9, 1 << 62).unwrap_err(),
        CryptoError::Malformed
    );
    // Exactly the minimum sizes work: 1-byte pn, 3 bytes of payload, tag.
    let (mut buf, pn_offset) = build(false, false, 1, 0, &[1, 0, 0]);
    assert_eq!(buf.len(), pn_offset + 4 + 16);
    k.seal_packet(&mut buf, pn_offset, 0).unwrap();
    let rx = keys(CipherSuite::Aes128Gcm, Version::V1, 6);
    let opened = rx.open_packet(&mut buf, pn_offset, None).unwrap();
    assert_eq!(&buf[opened.payload], &[1, 0, 0]);
    // A wrong-length secret or key is refused.
    assert!(PacketKey::new(&HostCrypto, CipherSuite::Aes256Gcm, Version::V1, &[0; 32]).is_err());
    assert!(
        DirectionalKeys::new(&HostCrypto, CipherSuite::Aes128Gcm, Version::V1, &[0; 48]).is_err()
    );
}

#[test]
fn key_update_changes_packet_key_but_not_header_key() {
    for suite in CipherSuite::ALL {
        for version in VERSIONS {
            let mut tx = keys(suite, version, 7);
            let rx = keys(suite, version, 7);
            let next_tx = tx.packet.next(&HostCrypto).unwrap();
            let next_rx = rx.packet.next(&HostCrypto).unwrap();
            assert_ne!(next_tx.nonce(0), tx.packet.nonce(0));
            assert_eq!(next_tx.nonce(5), next_rx.nonce(5));
            // Two updates are not one.
            assert_ne!(
                next_tx.next(&HostCrypto).unwrap().nonce(0),
                next_tx.nonce(0)
            );

            // Seal with the next phase and the unchanged header key.
            let old = std::mem::replace(&mut tx.packet, next_tx);
            let (mut buf, pn_offset) = build(false, true, 2, 1000, &[9; 32]);
            tx.seal_packet(&mut buf, pn_offset, 1000).unwrap();
            let sealed = buf.clone();
            let hdr = unprotect_header(&rx.header, &mut buf, pn_offset, Some(999)).unwrap();
            assert!(hdr.key_phase);
            assert_eq!(hdr.packet_number, 1000);
            // The current (old) key fails; the engine picks the next one by key phase.
            let mut copy = buf.clone();
            assert_eq!(
                open_payload(&rx.packet, &mut copy, &hdr),
                Err(CryptoError::Authentication)
            );
            let range = open_payload(&next_rx, &mut buf, &hdr).unwrap();
            assert_eq!(&buf[range], &[9; 32]);
            // The old key still seals packets the old receive key opens.
            let mut tx_old = DirectionalKeys {
                packet: old,
                header: tx.header,
            };
            let (mut buf, pn_offset) = build(false, false, 2, 1001, &[3; 32]);
            tx_old.seal_packet(&mut buf, pn_offset, 1001).unwrap();
            assert_ne!(buf, sealed);
            rx.open_packet(&mut buf, pn_offset, Some(1000)).unwrap();
        }
    }
}

#[test]
fn confidentiality_limit_stops_sealing() {
    let mut tx = keys(CipherSuite::Aes128Gcm, Version::V1, 8);
    tx.packet.set_usage(ConfidentialityCounter::with_limit(32));
    let mut statuses = Vec::new();
    for pn in 0..32u64 {
        let (mut buf, pn_offset) = build(false, false, 2, pn, &[0; 20]);
        tx.seal_packet(&mut buf, pn_offset, pn).unwrap();
        statuses.push(tx.packet.usage().status());
    }
    assert_eq!(statuses[0], LimitStatus::Ok);
    assert_eq!(statuses[28], LimitStatus::Ok); // 29 sealed < 32 - 2
    assert_eq!(statuses[29], LimitStatus::UpdateKeys); // 30 sealed
    assert_eq!(statuses[31], LimitStatus::Exhausted);
    let (mut buf, pn_offset) = build(false, false, 2, 32, &[0; 20]);
    let before = buf.clone();
    assert_eq!(
        tx.seal_packet(&mut buf, pn_offset, 32),
        Err(CryptoError::LimitReached)
    );
    assert_eq!(
        &buf[pn_offset + 2..],
        &before[pn_offset + 2..],
        "payload untouched"
    );
    assert_eq!(tx.packet.usage().sealed(), 32);
    // The next key phase starts afresh.
    let next = tx.packet.next(&HostCrypto).unwrap();
    assert_eq!(next.usage().sealed(), 0);
    assert_eq!(
        next.usage().limit(),
        CipherSuite::Aes128Gcm.confidentiality_limit()
    );
}

#[test]
fn limits_match_rfc9001() {
    use CipherSuite::*;
    assert_eq!(Aes128Gcm.confidentiality_limit(), 1 << 23);
    assert_eq!(Aes256Gcm.confidentiality_limit(), 1 << 23);
    assert_eq!(Aes128Gcm.integrity_limit(), 1 << 52);
    assert_eq!(Aes256Gcm.integrity_limit(), 1 << 52);
    assert_eq!(Chacha20Poly1305.confidentiality_limit(), 1 << 62);
    assert_eq!(Chacha20Poly1305.integrity_limit(), 1 << 36);
    // 2^21.5, floored: its square is at most 2^43 and the next integer's is above.
    assert_eq!(Aes128Ccm.confidentiality_limit(), AES_CCM_LIMIT);
    assert_eq!(Aes128Ccm.integrity_limit(), AES_CCM_LIMIT);
    const { assert!(AES_CCM_LIMIT * AES_CCM_LIMIT <= 1 << 43) };
    const { assert!((AES_CCM_LIMIT + 1) * (AES_CCM_LIMIT + 1) > 1 << 43) };

    let mut c = ConfidentialityCounter::new(Aes128Gcm);
    assert_eq!(c.status(), LimitStatus::Ok);
    assert_eq!(c.record(), Ok(LimitStatus::Ok));
    assert_eq!(c.sealed(), 1);
}

#[test]
fn integrity_counter_closes_past_the_limit() {
    let mut i = IntegrityCounter::with_limit(3);
    assert_eq!(i.record_failure(), LimitStatus::Ok);
    assert_eq!(i.record_failure(), LimitStatus::Ok);
    assert_eq!(i.record_failure(), LimitStatus::Ok);
    assert_eq!(i.record_failure(), LimitStatus::Exhausted);
    assert_eq!(i.failures(), 4);
    // Switching suites keeps the count.
    let mut i = IntegrityCounter::new(CipherSuite::Aes128Gcm);
    i.record_failure();
    i.set_suite(CipherSuite::Chacha20Poly1305);
    assert_eq!(i.failures(), 1);
    assert_eq!(i.status(), LimitStatus::Ok);
    // Counting real failures: every forged packet is one.
    let rx = keys(CipherSuite::Aes128Ccm, Version::V1, 9);
    let mut i = IntegrityCounter::with_limit(1);
    for n in 0..2 {
        let mut forged = vec![0x40u8; 60];
        forged[10] = n;
        let r = rx.open_packet(&mut forged, 9, None);
        assert_eq!(r.unwrap_err(), CryptoError::Authentication);
        i.record_failure();
    }
    assert_eq!(i.status(), LimitStatus::Exhausted);
}

#[test]
fn cipher_suite_numbers() {
    for s in CipherSuite::ALL {
        assert_eq!(CipherSuite::from_tls_cipher(s.tls_cipher()), Some(s));
        assert_eq!(CipherSuite::from_tls13_id(s.tls13_id()), Some(s));
        assert_eq!(s.iv_len(), 12);
        assert_eq!(s.tag_len(), 16);
        assert_eq!(s.hp_key_len(), s.key_len());
    }
    assert_eq!(CipherSuite::Aes128Gcm.tls_cipher(), 51);
    assert_eq!(CipherSuite::Aes256Gcm.tls_cipher(), 52);
    assert_eq!(CipherSuite::Aes128Ccm.tls_cipher(), 53);
    assert_eq!(CipherSuite::Chacha20Poly1305.tls_cipher(), 54);
    assert_eq!(CipherSuite::from_tls_cipher(55), None);
    assert_eq!(CipherSuite::from_tls_cipher(50), None);
    assert_eq!(CipherSuite::from_tls13_id(0x1305), None);
    assert_eq!(CipherSuite::Aes256Gcm.hash().output_len(), 48);
    assert_eq!(CipherSuite::Aes128Ccm.hash().output_len(), 32);
    assert_eq!(Version::from_wire(1), Some(Version::V1));
    assert_eq!(Version::from_wire(0x6b33_43cf), Some(Version::V2));
    assert_eq!(Version::from_wire(0xff00_001d), None);
    assert_eq!(Version::V2.wire(), 0x6b33_43cf);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Garbage never panics and never opens.
    #[test]
    fn garbage_never_panics(
        suite_idx in 0usize..4,
        data in proptest::collection::vec(any::<u8>(), 0..200),
        pn_offset in 0usize..64,
        largest in proptest::option::of(any::<u64>()),
    ) {
        let suite = CipherSuite::ALL[suite_idx];
        let rx = keys(suite, Version::V1, 10);
        let mut buf = data.clone();
        prop_assert!(rx.open_packet(&mut buf, pn_offset, largest).is_err());
    }

    /// Random payloads and packet numbers round-trip with the right largest_pn.
    #[test]
    fn random_round_trip(
        suite_idx in 0usize..4,
        long in any::<bool>(),
        pn in 0u64..(1 << 62),
        pn_len in 1usize..=4,
        gap in 0u64..100,
        payload in proptest::collection::vec(any::<u8>(), 3..300),
    ) {
        let suite = CipherSuite::ALL[suite_idx];
        let mut tx = keys(suite, Version::V2, 11);
        let rx = keys(suite, Version::V2, 11);
        let (mut buf, pn_offset) = build(long, false, pn_len, pn, &payload);
        tx.seal_packet(&mut buf, pn_offset, pn).unwrap();
        // The receiver's largest is within the window the encoding allows.
        let largest = pn.checked_sub(1 + gap.min((1u64 << (8 * pn_len - 1)) - 2));
        let opened = rx.open_packet(&mut buf, pn_offset, largest).unwrap();
        prop_assert_eq!(opened.header.packet_number, pn);
        prop_assert_eq!(&buf[opened.payload], payload.as_slice());
    }
}
