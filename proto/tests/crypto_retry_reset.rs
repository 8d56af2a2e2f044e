//! Retry integrity (accept/reject) and stateless reset (tokens, detection, construction).

use quic_hostcrypto::{HostCrypto, OsRng};
use quic_proto::crypto::reset::{
    build_stateless_reset, is_stateless_reset, token_eq, trailing_token, StatelessResetKey,
    MIN_STATELESS_RESET_LEN, RESET_TOKEN_LEN,
};
use quic_proto::crypto::retry::RetryIntegrity;
use quic_proto::crypto::{CryptoError, Rng, Version};

/// RFC 9001 A.4's Retry.
fn v1_retry() -> Vec<u8> {
    hex::decode("ff000000010008f067a5502a4262b5746f6b656e04a265ba2eff4d829058fb3f0f2496ba").unwrap()
}

const ODCID: [u8; 8] = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];

#[test]
fn retry_rejects_any_change() {
    let ri = RetryIntegrity::new(&HostCrypto, Version::V1).unwrap();
    let packet = v1_retry();
    let mut scratch = [0u8; 128];
    ri.verify(&ODCID, &packet, &mut scratch).unwrap();
    for i in 0..packet.len() {
        let mut t = packet.clone();
        t[i] ^= 0x01;
        assert_eq!(
            ri.verify(&ODCID, &t, &mut scratch),
            Err(CryptoError::Authentication),
            "byte {i}"
        );
    }
    // A different original DCID (the Retry was not for our Initial).
    let mut other = ODCID;
    other[7] ^= 0x80;
    assert_eq!(
        ri.verify(&other, &packet, &mut scratch),
        Err(CryptoError::Authentication)
    );
    assert_eq!(
        ri.verify(&ODCID[..7], &packet, &mut scratch),
        Err(CryptoError::Authentication)
    );
    // Truncated / extended packets.
    assert_eq!(
        ri.verify(&ODCID, &packet[..packet.len() - 1], &mut scratch),
        Err(CryptoError::Authentication)
    );
    let mut longer = packet.clone();
    longer.push(0);
    assert_eq!(
        ri.verify(&ODCID, &longer, &mut scratch),
        Err(CryptoError::Authentication)
    );
    // Too short to carry a tag, too small scratch, too long an ODCID.
    for n in 0..=16 {
        assert_eq!(
            ri.verify(&ODCID, &packet[..n], &mut scratch),
            Err(CryptoError::Malformed)
        );
    }
    let need = RetryIntegrity::<HostCrypto>::scratch_len(&ODCID, packet.len() - 16);
    assert_eq!(need, 1 + 8 + packet.len());
    let mut small = vec![0u8; need - 1];
    assert_eq!(
        ri.verify(&ODCID, &packet, &mut small),
        Err(CryptoError::InvalidLength)
    );
    let mut exact = vec![0u8; need];
    ri.verify(&ODCID, &packet, &mut exact).unwrap();
    assert_eq!(
        ri.verify(&[0u8; 21], &packet, &mut scratch),
        Err(CryptoError::InvalidLength)
    );
}

#[test]
fn retry_tags_what_it_builds() {
    for version in [Version::V1, Version::V2] {
        let ri = RetryIntegrity::new(&HostCrypto, version).unwrap();
        let mut packet = vec![0xf0u8, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4];
        packet.extend_from_slice(b"a retry token of some length");
        let mut scratch = vec![0u8; 256];
        let tag = ri.tag(&[9u8; 20], &packet, &mut scratch).unwrap();
        packet.extend_from_slice(&tag);
        ri.verify(&[9u8; 20], &packet, &mut scratch).unwrap();
        // Empty ODCID is legal.
        let tag0 = ri
            .tag(&[], &packet[..packet.len() - 16], &mut scratch)
            .unwrap();
        assert_ne!(tag0, tag);
    }
}

#[test]
fn reset_tokens_are_keyed_and_per_cid() {
    let k1 = StatelessResetKey::new([1u8; 32]);
    let k2 = StatelessResetKey::new([2u8; 32]);
    let a = k1.token(&HostCrypto, b"cid-a").unwrap();
    assert_eq!(a, k1.token(&HostCrypto, b"cid-a").unwrap(), "deterministic");
    assert_ne!(a, k1.token(&HostCrypto, b"cid-b").unwrap());
    assert_ne!(a, k2.token(&HostCrypto, b"cid-a").unwrap());
    assert_ne!(a, k1.token(&HostCrypto, b"").unwrap());
    let r1 = StatelessResetKey::random(&mut OsRng);
    let r2 = StatelessResetKey::random(&mut OsRng);
    assert_ne!(
        r1.token(&HostCrypto, b"x").unwrap(),
        r2.token(&HostCrypto, b"x").unwrap()
    );
    assert!(token_eq(&a, &a));
    assert!(!token_eq(&a, &[0u8; RESET_TOKEN_LEN]));
    assert_eq!(format!("{k1:?}"), "StatelessResetKey(..)");
}

/// A deterministic RNG for size tests.
struct Counter(u8);

impl Rng for Counter {
    fn fill(&mut self, dest: &mut [u8]) {
        for b in dest {
            self.0 = self.0.wrapping_add(0x3b);
            *b = self.0;
        }
    }
}

#[test]
fn stateless_reset_build_and_detect() {
    let key = StatelessResetKey::new([7u8; 32]);
    let token = key.token(&HostCrypto, b"\x01\x02\x03\x04").unwrap();
    let others = [
        key.token(&HostCrypto, b"other").unwrap(),
        [0u8; RESET_TOKEN_LEN],
    ];
    let mut out = [0u8; 1500];
    for (trigger, max, expect) in [
        (1200usize, 1500usize, Some(1199usize)),
        (1200, 100, Some(100)),
        (43, 1500, Some(42)),
        (22, 1500, Some(21)),
        (21, 1500, None),
        (0, 1500, None),
        (1200, 20, None),
    ] {
        let r = build_stateless_reset(&mut Counter(0), &token, trigger, max, &mut out);
        match expect {
            None => assert_eq!(
                r,
                Err(CryptoError::InvalidLength),
                "trigger {trigger} max {max}"
            ),
            Some(n) => {
                assert_eq!(r, Ok(n), "trigger {trigger} max {max}");
                let pkt = &out[..n];
                assert!(n < trigger && n >= MIN_STATELESS_RESET_LEN);
                assert_eq!(pkt[0] & 0xc0, 0x40, "short header form, fixed bit set");
                assert_eq!(&pkt[n - 16..], &token);
                assert!(is_stateless_reset(pkt, &[token]));
                assert!(is_stateless_reset(pkt, &[others[0], token, others[1]]));
                assert!(!is_stateless_reset(pkt, &others));
                assert!(!is_stateless_reset(pkt, &[] as &[[u8; 16]]));
            }
        }
    }
    // Output buffer caps the length too.
    let mut small = [0u8; 30];
    assert_eq!(
        build_stateless_reset(&mut OsRng, &token, 1200, 1500, &mut small),
        Ok(30)
    );
    let mut tiny = [0u8; 20];
    assert!(build_stateless_reset(&mut OsRng, &token, 1200, 1500, &mut tiny).is_err());
    // Detection needs at least 21 bytes, and looks at the tail only.
    let mut dgram = vec![0x40u8; 4];
    dgram.extend_from_slice(&token);
    assert_eq!(dgram.len(), 20);
    assert!(!is_stateless_reset(&dgram, &[token]));
    assert!(trailing_token(&dgram).is_none());
    dgram.insert(1, 0);
    assert!(is_stateless_reset(&dgram, &[token]));
    assert_eq!(trailing_token(&dgram), Some(token));
    dgram.push(0);
    assert!(!is_stateless_reset(&dgram, &[token]));
    for len in 0..40 {
        assert!(!is_stateless_reset(&vec![0xffu8; len], &[token]));
    }
}
