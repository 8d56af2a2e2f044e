//! Key update, RFC 9001 §6: the next 1-RTT secret is
//! `HKDF-Expand-Label(secret, "quic ku" | "quicv2 ku", "", Hash.length)`; key and IV are derived
//! from it as usual and the header-protection key stays the same.

use super::hkdf::expand_label_secret;
use super::protect::PacketKey;
use super::zeroize::Secret;
use super::{Crypto, CryptoError, Hash, Version};

/// The secret of the next key phase.
pub fn next_secret<C: Crypto>(
    crypto: &C,
    hash: Hash,
    version: Version,
    secret: &[u8],
) -> Result<Secret, CryptoError> {
    if secret.len() != hash.output_len() {
        return Err(CryptoError::InvalidLength);
    }
    expand_label_secret(crypto, hash, secret, version.ku_label(), hash.output_len())
}

impl<C: Crypto> PacketKey<C> {
    /// The packet key of the next key phase (fresh usage counter). Pair it with the same
    /// [`HeaderProtectionKey`](super::HeaderProtectionKey).
    ///
    /// Per RFC 9001 §9.5, derive the next receive key ahead of time, not while processing the
    /// packet that flips the key phase.
    pub fn next(&self, crypto: &C) -> Result<Self, CryptoError> {
        let suite = self.suite();
        let secret = next_secret(crypto, suite.hash(), self.version(), self.secret.as_slice())?;
        PacketKey::new(crypto, suite, self.version(), secret.as_slice())
    }
}
