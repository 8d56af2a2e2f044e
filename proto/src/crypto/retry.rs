//! Retry Integrity Tag, RFC 9001 §5.8 and RFC 9369 §3.3.3: AEAD_AES_128_GCM with a fixed key
//! and nonce over the Retry pseudo-packet (ODCID length, ODCID, then the Retry packet without
//! its tag), with an empty plaintext.

use super::{ct_eq, AeadKey, CipherSuite, Crypto, CryptoError, Version, NONCE_LEN, TAG_LEN};

/// Retry integrity key of QUIC version 1.
pub const RETRY_KEY_V1: [u8; 16] = [
    0xbe, 0x0c, 0x69, 0x0b, 0x9f, 0x66, 0x57, 0x5a, 0x1d, 0x76, 0x6b, 0x54, 0xe3, 0x68, 0xc8, 0x4e,
];
/// Retry integrity nonce of QUIC version 1.
pub const RETRY_NONCE_V1: [u8; NONCE_LEN] = [
    0x46, 0x15, 0x99, 0xd3, 0x5d, 0x63, 0x2b, 0xf2, 0x23, 0x98, 0x25, 0xbb,
];
/// Retry integrity key of QUIC version 2.
pub const RETRY_KEY_V2: [u8; 16] = [
    0x8f, 0xb4, 0xb0, 0x1b, 0x56, 0xac, 0x48, 0xe2, 0x60, 0xfb, 0xcb, 0xce, 0xad, 0x7c, 0xcc, 0x92,
];
/// Retry integrity nonce of QUIC version 2.
pub const RETRY_NONCE_V2: [u8; NONCE_LEN] = [
    0xd8, 0x69, 0x69, 0xbc, 0x2d, 0x7c, 0x6d, 0x99, 0x90, 0xef, 0xb0, 0x4a,
];

/// Length of the Retry Integrity Tag.
pub const RETRY_TAG_LEN: usize = TAG_LEN;

/// Longest connection ID of QUIC v1/v2.
const MAX_CID_LEN: usize = 20;

/// The Retry integrity AEAD of one version, set up once and reused (servers tag many Retries).
pub struct RetryIntegrity<C: Crypto> {
    aead: C::Aead,
    nonce: [u8; NONCE_LEN],
}

impl<C: Crypto> RetryIntegrity<C> {
    /// Sets up the AEAD with the fixed key of `version`.
    pub fn new(crypto: &C, version: Version) -> Result<Self, CryptoError> {
        let (key, nonce) = match version {
            Version::V1 => (&RETRY_KEY_V1, RETRY_NONCE_V1),
            Version::V2 => (&RETRY_KEY_V2, RETRY_NONCE_V2),
        };
        Ok(Self {
            aead: crypto.new_aead(CipherSuite::Aes128Gcm, key)?,
            nonce,
        })
    }

    /// Scratch space [`tag`](Self::tag) and [`verify`](Self::verify) need for a Retry packet of
    /// `retry_len` bytes *without* its tag.
    pub fn scratch_len(odcid: &[u8], retry_len: usize) -> usize {
        retry_len.saturating_add(1 + odcid.len() + TAG_LEN)
    }

    /// Computes the tag of `retry` (the Retry packet up to, not including, the tag) sent in
    /// response to an Initial whose Destination Connection ID was `odcid`. `scratch` holds the
    /// pseudo-packet: at least [`scratch_len`](Self::scratch_len) bytes.
    pub fn tag(
        &self,
        odcid: &[u8],
        retry: &[u8],
        scratch: &mut [u8],
    ) -> Result<[u8; RETRY_TAG_LEN], CryptoError> {
        let odcid_len = u8::try_from(odcid.len()).map_err(|_| CryptoError::InvalidLength)?;
        if odcid.len() > MAX_CID_LEN || retry.is_empty() {
            return Err(CryptoError::InvalidLength);
        }
        let aad_len = 1 + odcid.len() + retry.len();
        let scratch = scratch
            .get_mut(..aad_len + TAG_LEN)
            .ok_or(CryptoError::InvalidLength)?;
        let bad = CryptoError::InvalidLength;
        let (aad, tag) = crate::codec::split_mut(scratch, aad_len).ok_or(bad)?;
        let (len_byte, rest) = crate::codec::split_mut(aad, 1).ok_or(bad)?;
        // Element-wise copies (the lengths match by construction): no panic path for the
        // kernel's objtool to trip over.
        for b in len_byte.iter_mut() {
            *b = odcid_len;
        }
        let (cid, packet) = crate::codec::split_mut(rest, odcid.len()).ok_or(bad)?;
        for (d, s) in cid
            .iter_mut()
            .zip(odcid)
            .chain(packet.iter_mut().zip(retry))
        {
            *d = *s;
        }
        self.aead.seal(&self.nonce, aad, tag)?;
        <[u8; RETRY_TAG_LEN]>::try_from(&*tag).map_err(|_| bad)
    }

    /// Checks the tag at the end of the Retry `packet` (tag included) in constant time:
    /// `Authentication` if it does not match, `Malformed` if the packet cannot hold one.
    pub fn verify(
        &self,
        odcid: &[u8],
        packet: &[u8],
        scratch: &mut [u8],
    ) -> Result<(), CryptoError> {
        let body_len = packet
            .len()
            .checked_sub(RETRY_TAG_LEN)
            .filter(|&n| n > 0)
            .ok_or(CryptoError::Malformed)?;
        let (body, received) = packet.split_at(body_len);
        let expected = self.tag(odcid, body, scratch)?;
        if ct_eq(&expected, received) {
            Ok(())
        } else {
            Err(CryptoError::Authentication)
        }
    }
}

impl<C: Crypto> core::fmt::Debug for RetryIntegrity<C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RetryIntegrity").finish_non_exhaustive()
    }
}
