//! Plain values shared by the adapter and its users: encryption levels, cipher types, QUIC
//! versions and the traffic secrets handed to the kernel.

use core::fmt;

use rustls::CipherSuite;
use zeroize::Zeroize;

/// `QUIC_CRYPTO_APP`: 1-RTT (application) level.
pub const QUIC_CRYPTO_APP: u8 = 0;
/// `QUIC_CRYPTO_INITIAL`: Initial level.
pub const QUIC_CRYPTO_INITIAL: u8 = 1;
/// `QUIC_CRYPTO_HANDSHAKE`: Handshake level.
pub const QUIC_CRYPTO_HANDSHAKE: u8 = 2;
/// `QUIC_CRYPTO_EARLY`: 0-RTT level.
pub const QUIC_CRYPTO_EARLY: u8 = 3;

/// `TLS_CIPHER_AES_GCM_128` from `linux/tls.h`.
pub const TLS_CIPHER_AES_GCM_128: u32 = 51;
/// `TLS_CIPHER_AES_GCM_256` from `linux/tls.h`.
pub const TLS_CIPHER_AES_GCM_256: u32 = 52;
/// `TLS_CIPHER_AES_CCM_128` from `linux/tls.h`.
pub const TLS_CIPHER_AES_CCM_128: u32 = 53;
/// `TLS_CIPHER_CHACHA20_POLY1305` from `linux/tls.h`.
pub const TLS_CIPHER_CHACHA20_POLY1305: u32 = 54;

/// `QUIC_VERSION_V1` on the wire.
pub const QUIC_VERSION_V1: u32 = 0x0000_0001;
/// `QUIC_VERSION_V2` on the wire (RFC 9369).
pub const QUIC_VERSION_V2: u32 = 0x6b33_43cf;

/// Largest traffic secret (SHA-384 suites).
pub const MAX_SECRET_LEN: usize = 48;

/// Size of `struct quic_crypto_secret`.
pub const CRYPTO_SECRET_STRUCT_LEN: usize = 8 + MAX_SECRET_LEN;

/// A QUIC encryption level, numbered as the kernel's `QUIC_CRYPTO_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Level {
    /// 1-RTT packets (`QUIC_CRYPTO_APP`).
    App = QUIC_CRYPTO_APP,
    /// Initial packets (`QUIC_CRYPTO_INITIAL`).
    Initial = QUIC_CRYPTO_INITIAL,
    /// Handshake packets (`QUIC_CRYPTO_HANDSHAKE`).
    Handshake = QUIC_CRYPTO_HANDSHAKE,
    /// 0-RTT packets (`QUIC_CRYPTO_EARLY`).
    Early = QUIC_CRYPTO_EARLY,
}

impl Level {
    /// The kernel's `QUIC_CRYPTO_*` number.
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// The level of a `QUIC_CRYPTO_*` number, `None` if out of range.
    pub fn from_u8(v: u8) -> Option<Self> {
        match v {
            QUIC_CRYPTO_APP => Some(Self::App),
            QUIC_CRYPTO_INITIAL => Some(Self::Initial),
            QUIC_CRYPTO_HANDSHAKE => Some(Self::Handshake),
            QUIC_CRYPTO_EARLY => Some(Self::Early),
            _ => None,
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl TryFrom<u8> for Level {
    type Error = u8;

    fn try_from(v: u8) -> Result<Self, u8> {
        Self::from_u8(v).ok_or(v)
    }
}

/// A TLS 1.3 AEAD as the kernel names it (`TLS_CIPHER_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cipher {
    /// TLS_AES_128_GCM_SHA256, `TLS_CIPHER_AES_GCM_128` (51).
    Aes128Gcm,
    /// TLS_AES_256_GCM_SHA384, `TLS_CIPHER_AES_GCM_256` (52).
    Aes256Gcm,
    /// TLS_AES_128_CCM_SHA256, `TLS_CIPHER_AES_CCM_128` (53). rustls does not implement it.
    Aes128Ccm,
    /// TLS_CHACHA20_POLY1305_SHA256, `TLS_CIPHER_CHACHA20_POLY1305` (54).
    Chacha20Poly1305,
}

impl Cipher {
    /// All ciphers, in the kernel's numbering order.
    pub const ALL: [Cipher; 4] = [
        Self::Aes128Gcm,
        Self::Aes256Gcm,
        Self::Aes128Ccm,
        Self::Chacha20Poly1305,
    ];

    /// The kernel's `TLS_CIPHER_*` value (`type` of `struct quic_crypto_secret`).
    pub fn tls_cipher_type(self) -> u32 {
        match self {
            Self::Aes128Gcm => TLS_CIPHER_AES_GCM_128,
            Self::Aes256Gcm => TLS_CIPHER_AES_GCM_256,
            Self::Aes128Ccm => TLS_CIPHER_AES_CCM_128,
            Self::Chacha20Poly1305 => TLS_CIPHER_CHACHA20_POLY1305,
        }
    }

    /// The cipher of a `TLS_CIPHER_*` value.
    pub fn from_tls_cipher_type(v: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.tls_cipher_type() == v)
    }

    /// Length of the traffic secrets of this suite (its hash output length).
    pub fn secret_len(self) -> usize {
        match self {
            Self::Aes256Gcm => 48,
            Self::Aes128Gcm | Self::Aes128Ccm | Self::Chacha20Poly1305 => 32,
        }
    }

    /// The TLS 1.3 cipher suite code point.
    pub fn suite(self) -> CipherSuite {
        match self {
            Self::Aes128Gcm => CipherSuite::TLS13_AES_128_GCM_SHA256,
            Self::Aes256Gcm => CipherSuite::TLS13_AES_256_GCM_SHA384,
            Self::Aes128Ccm => CipherSuite::TLS13_AES_128_CCM_SHA256,
            Self::Chacha20Poly1305 => CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
        }
    }

    /// The cipher of a TLS 1.3 cipher suite code point.
    pub fn from_suite(suite: CipherSuite) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.suite() == suite)
    }
}

/// QUIC version the handshake runs for (selects the transport parameter codepoint and, for the
/// QUIC layer, the key derivation labels).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum QuicVersion {
    /// QUIC v1, RFC 9000.
    #[default]
    V1,
    /// QUIC v2, RFC 9369.
    V2,
}

impl QuicVersion {
    /// The version number on the wire.
    pub fn wire(self) -> u32 {
        match self {
            Self::V1 => QUIC_VERSION_V1,
            Self::V2 => QUIC_VERSION_V2,
        }
    }

    /// The version of a wire version number, `None` if not supported.
    pub fn from_wire(v: u32) -> Option<Self> {
        match v {
            QUIC_VERSION_V1 => Some(Self::V1),
            QUIC_VERSION_V2 => Some(Self::V2),
            _ => None,
        }
    }

    pub(crate) fn to_rustls(self) -> rustls::quic::Version {
        match self {
            Self::V1 => rustls::quic::Version::V1,
            Self::V2 => rustls::quic::Version::V2,
        }
    }
}

/// One raw TLS traffic secret for one level and direction, ready for
/// `QUIC_SOCKOPT_CRYPTO_SECRET`. Zeroed when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    /// Encryption level (`Early`, `Handshake` or `App`; never `Initial`).
    pub level: Level,
    /// True for the secret that protects what this endpoint sends.
    pub send: bool,
    /// The negotiated AEAD of the suite the secret belongs to.
    pub cipher: Cipher,
    secret: [u8; MAX_SECRET_LEN],
    len: u8,
}

impl Secret {
    /// `None` if `bytes` is longer than [`MAX_SECRET_LEN`].
    pub fn new(level: Level, send: bool, cipher: Cipher, bytes: &[u8]) -> Option<Self> {
        if bytes.len() > MAX_SECRET_LEN {
            return None;
        }
        let mut secret = [0u8; MAX_SECRET_LEN];
        secret[..bytes.len()].copy_from_slice(bytes);
        Some(Self {
            level,
            send,
            cipher,
            secret,
            len: bytes.len() as u8,
        })
    }

    /// The secret itself (32 or 48 bytes).
    pub fn secret(&self) -> &[u8] {
        &self.secret[..usize::from(self.len)]
    }

    /// The kernel's `TLS_CIPHER_*` value.
    pub fn cipher_type(&self) -> u32 {
        self.cipher.tls_cipher_type()
    }

    /// The bytes of `struct quic_crypto_secret { u8 send; u8 level; u16 reserved; u32 type;
    /// u8 secret[48]; }` in host byte order, unused secret bytes zero.
    pub fn to_crypto_secret(&self) -> [u8; CRYPTO_SECRET_STRUCT_LEN] {
        let mut out = [0u8; CRYPTO_SECRET_STRUCT_LEN];
        out[0] = u8::from(self.send);
        out[1] = self.level.as_u8();
        out[4..8].copy_from_slice(&self.cipher_type().to_ne_bytes());
        out[8..].copy_from_slice(&self.secret);
        out
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.secret.zeroize();
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("level", &self.level)
            .field("send", &self.send)
            .field("cipher", &self.cipher)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_numbers_match_uapi() {
        for (l, n) in [
            (Level::App, 0),
            (Level::Initial, 1),
            (Level::Handshake, 2),
            (Level::Early, 3),
        ] {
            assert_eq!(l.as_u8(), n);
            assert_eq!(Level::from_u8(n), Some(l));
        }
        assert_eq!(Level::from_u8(4), None);
        assert_eq!(Level::try_from(9), Err(9));
    }

    #[test]
    fn cipher_numbers_match_linux_tls_h() {
        assert_eq!(Cipher::Aes128Gcm.tls_cipher_type(), 51);
        assert_eq!(Cipher::Aes256Gcm.tls_cipher_type(), 52);
        assert_eq!(Cipher::Aes128Ccm.tls_cipher_type(), 53);
        assert_eq!(Cipher::Chacha20Poly1305.tls_cipher_type(), 54);
        for c in Cipher::ALL {
            assert_eq!(Cipher::from_tls_cipher_type(c.tls_cipher_type()), Some(c));
            assert_eq!(Cipher::from_suite(c.suite()), Some(c));
        }
        assert_eq!(Cipher::from_tls_cipher_type(50), None);
    }

    #[test]
    fn versions() {
        assert_eq!(QuicVersion::from_wire(1), Some(QuicVersion::V1));
        assert_eq!(QuicVersion::from_wire(0x6b3343cf), Some(QuicVersion::V2));
        assert_eq!(QuicVersion::from_wire(0xff00_001d), None);
        assert_eq!(QuicVersion::V2.wire(), QUIC_VERSION_V2);
    }

    #[test]
    fn crypto_secret_layout() {
        let s = Secret::new(Level::Handshake, true, Cipher::Chacha20Poly1305, &[7u8; 32]).unwrap();
        let b = s.to_crypto_secret();
        assert_eq!(b.len(), 56);
        assert_eq!(b[0], 1);
        assert_eq!(b[1], 2);
        assert_eq!(&b[2..4], &[0, 0]);
        assert_eq!(u32::from_ne_bytes(b[4..8].try_into().unwrap()), 54);
        assert_eq!(&b[8..40], &[7u8; 32]);
        assert_eq!(&b[40..], &[0u8; 16]);
        assert!(Secret::new(Level::App, false, Cipher::Aes256Gcm, &[0u8; 49]).is_none());
        assert!(!format!("{s:?}").contains("7, 7"));
    }
}
