//! A packet-protection backend that protects nothing, to measure the engine without cipher cost.
//!
//! **Benchmarks only.** Its AEAD leaves the payload as it is and appends a zero tag (opening
//! checks only that the tag is zero), its header protection mask is all zeros. HMAC (key
//! derivation, Retry and stateless reset tokens) is the real one from
//! [`quic_hostcrypto::HostCrypto`], so everything derived stays well formed.

use quic_hostcrypto::HostCrypto;
use quic_proto::crypto::{
    AeadKey, CipherSuite, Crypto, CryptoError, Hash, HeaderKey, MASK_LEN, NONCE_LEN, SAMPLE_LEN,
    TAG_LEN,
};

/// The null backend.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullCrypto;

/// An AEAD that copies (in place: does nothing) and appends a zero tag.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullAead;

/// A header-protection key whose mask is zero.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullHp;

impl AeadKey for NullAead {
    fn seal(
        &self,
        _nonce: &[u8; NONCE_LEN],
        _aad: &[u8],
        buf: &mut [u8],
    ) -> Result<(), CryptoError> {
        let n = buf
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(CryptoError::InvalidLength)?;
        buf[n..].fill(0);
        Ok(())
    }

    fn open(
        &self,
        _nonce: &[u8; NONCE_LEN],
        _aad: &[u8],
        buf: &mut [u8],
    ) -> Result<usize, CryptoError> {
        let n = buf
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(CryptoError::Authentication)?;
        if buf[n..].iter().any(|&b| b != 0) {
            return Err(CryptoError::Authentication);
        }
        Ok(n)
    }
}

impl HeaderKey for NullHp {
    fn mask(&self, _sample: &[u8; SAMPLE_LEN]) -> Result<[u8; MASK_LEN], CryptoError> {
        Ok([0; MASK_LEN])
    }
}

impl Crypto for NullCrypto {
    type Aead = NullAead;
    type Hp = NullHp;

    fn new_aead(&self, suite: CipherSuite, key: &[u8]) -> Result<NullAead, CryptoError> {
        if key.len() != suite.key_len() {
            return Err(CryptoError::InvalidLength);
        }
        Ok(NullAead)
    }

    fn new_hp(&self, suite: CipherSuite, key: &[u8]) -> Result<NullHp, CryptoError> {
        if key.len() != suite.hp_key_len() {
            return Err(CryptoError::InvalidLength);
        }
        Ok(NullHp)
    }

    fn hmac(
        &self,
        hash: Hash,
        key: &[u8],
        parts: &[&[u8]],
        out: &mut [u8],
    ) -> Result<(), CryptoError> {
        HostCrypto.hmac(hash, key, parts, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open() {
        let a = NullCrypto
            .new_aead(CipherSuite::Aes128Gcm, &[0u8; 16])
            .unwrap();
        let mut buf = *b"hello world.....0123456789abcdef";
        a.seal(&[0; NONCE_LEN], b"", &mut buf).unwrap();
        assert_eq!(&buf[..16], b"hello world.....");
        assert_eq!(a.open(&[0; NONCE_LEN], b"", &mut buf), Ok(16));
        buf[20] = 1;
        assert_eq!(
            a.open(&[0; NONCE_LEN], b"", &mut buf),
            Err(CryptoError::Authentication)
        );
        assert!(NullCrypto
            .new_aead(CipherSuite::Aes128Gcm, &[0; 5])
            .is_err());
    }
}
