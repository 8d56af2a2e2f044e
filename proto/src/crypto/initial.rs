//! Initial secrets, RFC 9001 §5.2 and RFC 9369 §3.3.1: derived from the client's first
//! Destination Connection ID with a version-specific salt; always AES-128-GCM and SHA-256.

use super::hkdf::{expand_label_secret, extract};
use super::protect::DirectionalKeys;
use super::zeroize::Secret;
use super::{CipherSuite, Crypto, CryptoError, Hash, Side, Version};

/// Initial salt of QUIC version 1 (RFC 9001 §5.2).
pub const INITIAL_SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad,
    0xcc, 0xbb, 0x7f, 0x0a,
];

/// Initial salt of QUIC version 2 (RFC 9369 §3.3.1).
pub const INITIAL_SALT_V2: [u8; 20] = [
    0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb,
    0xf9, 0xbd, 0x2e, 0xd9,
];

/// The suite Initial packets are protected with.
pub const INITIAL_SUITE: CipherSuite = CipherSuite::Aes128Gcm;

impl Version {
    /// The salt for Initial secrets.
    pub const fn initial_salt(self) -> &'static [u8; 20] {
        match self {
            Self::V1 => &INITIAL_SALT_V1,
            Self::V2 => &INITIAL_SALT_V2,
        }
    }
}

/// `(client_initial_secret, server_initial_secret)` for the client's first Destination
/// Connection ID `dcid` (or the server-chosen one after a Retry).
pub fn initial_secrets<C: Crypto>(
    crypto: &C,
    version: Version,
    dcid: &[u8],
) -> Result<(Secret, Secret), CryptoError> {
    let hash = Hash::Sha256;
    let initial = extract(crypto, hash, version.initial_salt(), dcid)?;
    let client = expand_label_secret(
        crypto,
        hash,
        initial.as_slice(),
        b"client in",
        hash.output_len(),
    )?;
    let server = expand_label_secret(
        crypto,
        hash,
        initial.as_slice(),
        b"server in",
        hash.output_len(),
    )?;
    Ok((client, server))
}

/// Initial keys of one endpoint: `local` protects what it sends, `remote` opens what it receives.
#[derive(Debug)]
pub struct InitialKeys<C: Crypto> {
    /// Keys for packets this endpoint sends.
    pub local: DirectionalKeys<C>,
    /// Keys for packets the peer sends.
    pub remote: DirectionalKeys<C>,
}

/// Derives both directions' Initial keys for `side`.
pub fn initial_keys<C: Crypto>(
    crypto: &C,
    version: Version,
    dcid: &[u8],
    side: Side,
) -> Result<InitialKeys<C>, CryptoError> {
    let (client, server) = initial_secrets(crypto, version, dcid)?;
    let (local, remote) = match side {
        Side::Client => (client, server),
        Side::Server => (server, client),
    };
    Ok(InitialKeys {
        local: DirectionalKeys::new(crypto, INITIAL_SUITE, version, local.as_slice())?,
        remote: DirectionalKeys::new(crypto, INITIAL_SUITE, version, remote.as_slice())?,
    })
}
