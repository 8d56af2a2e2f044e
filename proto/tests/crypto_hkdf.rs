//! HKDF over the backend HMAC: RFC 5869 test case 1, multi-block expansion, and bounds.

use quic_hostcrypto::HostCrypto;
use quic_proto::crypto::hkdf::{expand, expand_label, extract};
use quic_proto::crypto::{Crypto, CryptoError, Hash};

#[test]
fn rfc5869_test_case_1() {
    let ikm = [0x0bu8; 22];
    let salt = hex::decode("000102030405060708090a0b0c").unwrap();
    let info = hex::decode("f0f1f2f3f4f5f6f7f8f9").unwrap();
    let prk = extract(&HostCrypto, Hash::Sha256, &salt, &ikm).unwrap();
    assert_eq!(
        hex::encode(prk.as_slice()),
        "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5"
    );
    let mut okm = [0u8; 42];
    expand(
        &HostCrypto,
        Hash::Sha256,
        prk.as_slice(),
        &[&info],
        &mut okm,
    )
    .unwrap();
    assert_eq!(
        hex::encode(okm),
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    );
    // Splitting info into parts changes nothing.
    let mut okm2 = [0u8; 42];
    expand(
        &HostCrypto,
        Hash::Sha256,
        prk.as_slice(),
        &[&info[..3], &[], &info[3..]],
        &mut okm2,
    )
    .unwrap();
    assert_eq!(okm, okm2);
}

/// T(i) = HMAC(PRK, T(i-1) | info | i), computed the long way.
fn reference(hash: Hash, prk: &[u8], info: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut t = Vec::new();
    let mut i = 1u8;
    while out.len() < len {
        let mut next = vec![0u8; hash.output_len()];
        HostCrypto
            .hmac(hash, prk, &[&t, info, &[i]], &mut next)
            .unwrap();
        out.extend_from_slice(&next);
        t = next;
        i = i.wrapping_add(1);
    }
    out.truncate(len);
    out
}

#[test]
fn multi_block_expansion_matches_definition() {
    for hash in [Hash::Sha256, Hash::Sha384] {
        let prk = vec![0x5cu8; hash.output_len()];
        for len in [
            0usize,
            1,
            31,
            32,
            33,
            48,
            49,
            82,
            100,
            255 * hash.output_len(),
        ] {
            let mut out = vec![0u8; len];
            expand(&HostCrypto, hash, &prk, &[b"info"], &mut out).unwrap();
            assert_eq!(out, reference(hash, &prk, b"info", len), "{hash:?} {len}");
        }
    }
}

#[test]
fn bounds_are_errors_not_panics() {
    let prk = [1u8; 32];
    let mut too_long = vec![0u8; 255 * 32 + 1];
    assert_eq!(
        expand(&HostCrypto, Hash::Sha256, &prk, &[], &mut too_long),
        Err(CryptoError::InvalidLength)
    );
    let parts: [&[u8]; 7] = [b"a"; 7];
    assert_eq!(
        expand(&HostCrypto, Hash::Sha256, &prk, &parts, &mut [0u8; 4]),
        Err(CryptoError::InvalidLength)
    );
    let mut out = [0u8; 16];
    // "tls13 " + label must fit a u8 length: 249 bytes of label is the most.
    assert!(expand_label(&HostCrypto, Hash::Sha256, &prk, &[b'x'; 249], &[], &mut out).is_ok());
    assert_eq!(
        expand_label(&HostCrypto, Hash::Sha256, &prk, &[b'x'; 250], &[], &mut out),
        Err(CryptoError::InvalidLength)
    );
    assert!(expand_label(&HostCrypto, Hash::Sha256, &prk, b"l", &[0; 255], &mut out).is_ok());
    assert_eq!(
        expand_label(&HostCrypto, Hash::Sha256, &prk, b"l", &[0; 256], &mut out),
        Err(CryptoError::InvalidLength)
    );
    // A context changes the output.
    let mut a = [0u8; 16];
    let mut b = [0u8; 16];
    expand_label(&HostCrypto, Hash::Sha256, &prk, b"l", b"", &mut a).unwrap();
    expand_label(&HostCrypto, Hash::Sha256, &prk, b"l", b"c", &mut b).unwrap();
    assert_ne!(a, b);
    // The backend refuses a wrong-sized HMAC output.
    assert_eq!(
        HostCrypto.hmac(Hash::Sha384, &prk, &[], &mut [0u8; 32]),
        Err(CryptoError::InvalidLength)
    );
}
