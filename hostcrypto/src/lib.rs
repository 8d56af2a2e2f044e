//! Host backend of [`quic_proto::crypto::Crypto`] on RustCrypto crates.
//!
//! Used by the core's tests, benchmarks and fuzz targets (and by any userspace tool), where the
//! kernel module implements the same trait over the kernel crypto API. Every cipher here is a
//! plain value; constructors never fail except on a wrong key length.
#![forbid(unsafe_code)]

use std::io::Read;

use aes::cipher::{BlockCipherEncrypt, KeyInit};
use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use ccm::consts::{U12, U16};
use chacha20::cipher::StreamCipherCore;
use chacha20::variants::Ietf;
use chacha20::{ChaChaCore, KeyIvInit, R20};
use chacha20poly1305::ChaCha20Poly1305;
use hmac::{Hmac, Mac};
use quic_proto::crypto::zeroize::zeroize;
use quic_proto::crypto::{
    AeadKey, CipherSuite, Crypto, CryptoError, Hash, HeaderKey, Rng, MASK_LEN, NONCE_LEN,
    SAMPLE_LEN, TAG_LEN,
};
use sha2::{Sha256, Sha384};

/// AEAD_AES_128_CCM with a 16-byte tag and 12-byte nonce, as TLS 1.3 uses it.
type Aes128Ccm = ccm::Ccm<aes::Aes128, U16, U12>;

/// The RustCrypto backend. Stateless: every key lives in the objects it creates.
#[derive(Debug, Default, Clone, Copy)]
pub struct HostCrypto;

/// A packet-protection AEAD of one of the four suites.
pub enum HostAead {
    /// AEAD_AES_128_GCM.
    Aes128Gcm(Box<Aes128Gcm>),
    /// AEAD_AES_256_GCM.
    Aes256Gcm(Box<Aes256Gcm>),
    /// AEAD_AES_128_CCM.
    Aes128Ccm(Box<Aes128Ccm>),
    /// AEAD_CHACHA20_POLY1305.
    Chacha20Poly1305(Box<ChaCha20Poly1305>),
}

impl std::fmt::Debug for HostAead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Aes128Gcm(_) => "HostAead::Aes128Gcm",
            Self::Aes256Gcm(_) => "HostAead::Aes256Gcm",
            Self::Aes128Ccm(_) => "HostAead::Aes128Ccm",
            Self::Chacha20Poly1305(_) => "HostAead::Chacha20Poly1305",
        })
    }
}

fn new_boxed<A: KeyInit>(key: &[u8]) -> Result<Box<A>, CryptoError> {
    A::new_from_slice(key)
        .map(Box::new)
        .map_err(|_| CryptoError::InvalidLength)
}

fn seal_with<A: AeadInOut>(
    aead: &A,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    buf: &mut [u8],
) -> Result<(), CryptoError> {
    let n = buf
        .len()
        .checked_sub(TAG_LEN)
        .ok_or(CryptoError::InvalidLength)?;
    let (data, tag_out) = buf.split_at_mut(n);
    let nonce =
        aes_gcm::aead::Nonce::<A>::try_from(&nonce[..]).map_err(|_| CryptoError::InvalidLength)?;
    let tag = aead
        .encrypt_inout_detached(&nonce, aad, data.into())
        .map_err(|_| CryptoError::Backend)?;
    if tag.len() != TAG_LEN {
        return Err(CryptoError::Backend);
    }
    tag_out.copy_from_slice(&tag);
    Ok(())
}

fn open_with<A: AeadInOut>(
    aead: &A,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    buf: &mut [u8],
) -> Result<usize, CryptoError> {
    let n = buf
        .len()
        .checked_sub(TAG_LEN)
        .ok_or(CryptoError::Authentication)?;
    let (data, tag) = buf.split_at_mut(n);
    let nonce =
        aes_gcm::aead::Nonce::<A>::try_from(&nonce[..]).map_err(|_| CryptoError::InvalidLength)?;
    let tag =
        aes_gcm::aead::Tag::<A>::try_from(&tag[..]).map_err(|_| CryptoError::InvalidLength)?;
    aead.decrypt_inout_detached(&nonce, aad, data.into(), &tag)
        .map_err(|_| CryptoError::Authentication)?;
    Ok(n)
}

impl AeadKey for HostAead {
    fn seal(&self, nonce: &[u8; NONCE_LEN], aad: &[u8], buf: &mut [u8]) -> Result<(), CryptoError> {
        match self {
            Self::Aes128Gcm(a) => seal_with(a.as_ref(), nonce, aad, buf),
            Self::Aes256Gcm(a) => seal_with(a.as_ref(), nonce, aad, buf),
            Self::Aes128Ccm(a) => seal_with(a.as_ref(), nonce, aad, buf),
            Self::Chacha20Poly1305(a) => seal_with(a.as_ref(), nonce, aad, buf),
        }
    }

    fn open(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<usize, CryptoError> {
        match self {
            Self::Aes128Gcm(a) => open_with(a.as_ref(), nonce, aad, buf),
            Self::Aes256Gcm(a) => open_with(a.as_ref(), nonce, aad, buf),
            Self::Aes128Ccm(a) => open_with(a.as_ref(), nonce, aad, buf),
            Self::Chacha20Poly1305(a) => open_with(a.as_ref(), nonce, aad, buf),
        }
    }
}

/// A ChaCha20 header-protection key, wiped on drop.
pub struct ChachaHpKey([u8; 32]);

impl Drop for ChachaHpKey {
    fn drop(&mut self) {
        zeroize(&mut self.0);
    }
}

/// A header-protection cipher: AES-ECB on one block, or raw ChaCha20.
pub enum HostHp {
    /// AES-128 (AES-128-GCM and AES-128-CCM suites).
    Aes128(Box<aes::Aes128>),
    /// AES-256 (AES-256-GCM suite).
    Aes256(Box<aes::Aes256>),
    /// ChaCha20 (ChaCha20-Poly1305 suite).
    Chacha20(ChachaHpKey),
}

impl std::fmt::Debug for HostHp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Aes128(_) => "HostHp::Aes128",
            Self::Aes256(_) => "HostHp::Aes256",
            Self::Chacha20(_) => "HostHp::Chacha20",
        })
    }
}

fn first_mask_bytes(block: &[u8]) -> Result<[u8; MASK_LEN], CryptoError> {
    let mut mask = [0u8; MASK_LEN];
    mask.copy_from_slice(block.get(..MASK_LEN).ok_or(CryptoError::Backend)?);
    Ok(mask)
}

impl HeaderKey for HostHp {
    fn mask(&self, sample: &[u8; SAMPLE_LEN]) -> Result<[u8; MASK_LEN], CryptoError> {
        match self {
            Self::Aes128(c) => {
                let mut block = aes::Block::from(*sample);
                c.encrypt_block(&mut block);
                first_mask_bytes(&block)
            }
            Self::Aes256(c) => {
                let mut block = aes::Block::from(*sample);
                c.encrypt_block(&mut block);
                first_mask_bytes(&block)
            }
            Self::Chacha20(key) => {
                let (counter, nonce) = sample.split_at(4);
                let counter =
                    u32::from_le_bytes(counter.try_into().map_err(|_| CryptoError::Backend)?);
                let nonce = chacha20::Nonce::try_from(nonce).map_err(|_| CryptoError::Backend)?;
                let mut core = ChaChaCore::<R20, Ietf>::new(&key.0.into(), &nonce);
                // The raw block function: any 32-bit counter is valid for a single block.
                core.set_block_pos(counter);
                let mut block = Default::default();
                core.write_keystream_block(&mut block);
                let mask = first_mask_bytes(&block);
                zeroize(&mut block);
                mask
            }
        }
    }
}

impl Crypto for HostCrypto {
    type Aead = HostAead;
    type Hp = HostHp;

    fn new_aead(&self, suite: CipherSuite, key: &[u8]) -> Result<HostAead, CryptoError> {
        if key.len() != suite.key_len() {
            return Err(CryptoError::InvalidLength);
        }
        Ok(match suite {
            CipherSuite::Aes128Gcm => HostAead::Aes128Gcm(new_boxed(key)?),
            CipherSuite::Aes256Gcm => HostAead::Aes256Gcm(new_boxed(key)?),
            CipherSuite::Aes128Ccm => HostAead::Aes128Ccm(new_boxed(key)?),
            CipherSuite::Chacha20Poly1305 => HostAead::Chacha20Poly1305(new_boxed(key)?),
        })
    }

    fn new_hp(&self, suite: CipherSuite, key: &[u8]) -> Result<HostHp, CryptoError> {
        if key.len() != suite.hp_key_len() {
            return Err(CryptoError::InvalidLength);
        }
        Ok(match suite {
            CipherSuite::Aes128Gcm | CipherSuite::Aes128Ccm => HostHp::Aes128(new_boxed(key)?),
            CipherSuite::Aes256Gcm => HostHp::Aes256(new_boxed(key)?),
            CipherSuite::Chacha20Poly1305 => {
                let mut k = [0u8; 32];
                k.copy_from_slice(key);
                HostHp::Chacha20(ChachaHpKey(k))
            }
        })
    }

    fn hmac(
        &self,
        hash: Hash,
        key: &[u8],
        parts: &[&[u8]],
        out: &mut [u8],
    ) -> Result<(), CryptoError> {
        if out.len() != hash.output_len() {
            return Err(CryptoError::InvalidLength);
        }
        match hash {
            Hash::Sha256 => {
                let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
                    .map_err(|_| CryptoError::InvalidLength)?;
                for p in parts {
                    mac.update(p);
                }
                out.copy_from_slice(&mac.finalize().into_bytes());
            }
            Hash::Sha384 => {
                let mut mac = <Hmac<Sha384> as KeyInit>::new_from_slice(key)
                    .map_err(|_| CryptoError::InvalidLength)?;
                for p in parts {
                    mac.update(p);
                }
                out.copy_from_slice(&mac.finalize().into_bytes());
            }
        }
        Ok(())
    }
}

/// The operating system's random number generator (`/dev/urandom`).
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRng;

impl Rng for OsRng {
    /// # Panics
    /// If `/dev/urandom` cannot be read: the host has no secure randomness to offer.
    fn fill(&mut self, dest: &mut [u8]) {
        let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(dest));
        if let Err(e) = read {
            panic!("cannot read /dev/urandom: {e}");
        }
    }
}
