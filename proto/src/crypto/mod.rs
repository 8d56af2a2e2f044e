//! Packet protection: RFC 9001 §5–6 and RFC 9369 §3.3 (QUIC v2), RFC 9000 §10.3 stateless reset.
//!
//! The core implements the protocol logic (HKDF-Expand-Label, Initial secrets, nonces, header
//! protection, packet-number recovery, key update, Retry integrity, stateless reset, usage
//! limits) but no cipher: primitives come from a backend implementing [`Crypto`]. `quic.ko`
//! implements it over the kernel crypto API (`gcm(aes)`, `ccm(aes)`,
//! `rfc7539(chacha20,poly1305)`, `ecb(aes)`/`chacha20` and `hmac(sha256|sha384)`), the host over
//! RustCrypto (crate `quic-hostcrypto`).
//!
//! Everything here is allocation-free; key material the core holds is wiped on drop
//! ([`zeroize`]).

pub mod hkdf;
pub mod initial;
pub mod key_update;
pub mod limits;
pub mod protect;
pub mod reset;
pub mod retry;
pub mod suite;
pub mod zeroize;

pub use initial::{initial_keys, initial_secrets, InitialKeys};
pub use limits::{ConfidentialityCounter, IntegrityCounter, LimitStatus};
pub use protect::{
    open_packet, open_payload, read_header, seal_packet, unprotect_header, DirectionalKeys,
    HeaderProtectionKey, OpenedPacket, PacketKey, UnprotectedHeader,
};
pub use suite::{CipherSuite, Hash, Side, Version};
pub use zeroize::Secret;

/// Length of every AEAD nonce (and packet-protection IV) QUIC uses.
pub const NONCE_LEN: usize = 12;
/// Length of the authentication tag of every AEAD QUIC uses (CCM_8 is not allowed).
pub const TAG_LEN: usize = 16;
/// Length of the ciphertext sample fed to header protection.
pub const SAMPLE_LEN: usize = 16;
/// Length of the header-protection mask (first-byte bits plus up to 4 packet-number bytes).
pub const MASK_LEN: usize = 5;
/// Largest AEAD or header-protection key (AES-256, ChaCha20).
pub const MAX_KEY_LEN: usize = 32;
/// Largest hash output, hence largest TLS traffic secret (SHA-384).
pub const MAX_SECRET_LEN: usize = 48;

/// Why a crypto operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CryptoError {
    /// A key, secret, label or output buffer had a length the operation does not accept.
    InvalidLength,
    /// The backend could not set up or run a cipher (allocation or `setkey` failure).
    Backend,
    /// AEAD authentication failed: forged, corrupted, or protected under other keys.
    Authentication,
    /// The packet is too short or its offsets are inconsistent (e.g. no room for the sample).
    Malformed,
    /// The key's confidentiality limit is used up: update keys or close (AEAD_LIMIT_REACHED).
    LimitReached,
    /// Unknown cipher, hash or version number.
    Unsupported,
}

impl core::fmt::Display for CryptoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::InvalidLength => "invalid key, secret or buffer length",
            Self::Backend => "crypto backend failure",
            Self::Authentication => "authentication failed",
            Self::Malformed => "malformed or truncated packet",
            Self::LimitReached => "AEAD usage limit reached",
            Self::Unsupported => "unsupported algorithm or version",
        })
    }
}

/// An AEAD keyed for one direction (`crypto_aead` with the key set).
///
/// Both operations work in place: the kernel maps `buf` with one scatterlist and passes `aad`
/// as the associated data. The nonce is always [`NONCE_LEN`] bytes and the tag [`TAG_LEN`].
pub trait AeadKey {
    /// Encrypts `buf[..buf.len() - TAG_LEN]` in place and writes the tag into the last
    /// [`TAG_LEN`] bytes of `buf`. Fails with [`CryptoError::InvalidLength`] if `buf` is shorter
    /// than the tag.
    fn seal(&self, nonce: &[u8; NONCE_LEN], aad: &[u8], buf: &mut [u8]) -> Result<(), CryptoError>;

    /// Authenticates and decrypts `buf` (ciphertext followed by the tag) in place and returns
    /// the plaintext length (`buf.len() - TAG_LEN`). On [`CryptoError::Authentication`] the
    /// contents of `buf` are unspecified (the kernel may have decrypted them already).
    fn open(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<usize, CryptoError>;
}

/// A header-protection key (`ecb(aes)` or `chacha20` with the key set), RFC 9001 §5.4.3–5.4.4.
pub trait HeaderKey {
    /// Returns the first [`MASK_LEN`] bytes of the header-protection function of `sample`:
    /// AES-ECB of the sample for the AES suites; for ChaCha20, the keystream with the block
    /// counter taken little-endian from `sample[0..4]` and the nonce from `sample[4..16]`.
    fn mask(&self, sample: &[u8; SAMPLE_LEN]) -> Result<[u8; MASK_LEN], CryptoError>;
}

/// A crypto backend: cipher constructors plus HMAC.
///
/// Construction may allocate (kernel transforms) and so returns `Result`. Objects are dropped
/// normally; a backend wipes its own copies of keys.
pub trait Crypto {
    /// Packet-protection AEAD for one key.
    type Aead: AeadKey;
    /// Header-protection cipher for one key.
    type Hp: HeaderKey;

    /// Creates the AEAD of `suite` keyed with `key` (`suite.key_len()` bytes).
    fn new_aead(&self, suite: CipherSuite, key: &[u8]) -> Result<Self::Aead, CryptoError>;

    /// Creates the header-protection cipher of `suite` keyed with `key` (`suite.hp_key_len()`
    /// bytes).
    fn new_hp(&self, suite: CipherSuite, key: &[u8]) -> Result<Self::Hp, CryptoError>;

    /// Computes HMAC-`hash` with `key` over the concatenation of `parts` into `out`, which is
    /// exactly `hash.output_len()` bytes (anything else is [`CryptoError::InvalidLength`]).
    /// `key` may have any length, including zero; the core passes at most 8 `parts` (HKDF-Expand
    /// block: previous block, 5 HkdfLabel pieces, counter).
    fn hmac(
        &self,
        hash: Hash,
        key: &[u8],
        parts: &[&[u8]],
        out: &mut [u8],
    ) -> Result<(), CryptoError>;
}

/// A source of cryptographically secure random bytes (`get_random_bytes` in the kernel).
pub trait Rng {
    /// Fills `dest` with random bytes.
    fn fill(&mut self, dest: &mut [u8]);
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b.iter()) {
        diff |= x ^ y;
    }
    core::hint::black_box(diff) == 0
}
