//! Cipher suites, hashes, QUIC versions (as far as packet protection cares) and endpoint side.

/// Hash function of a TLS 1.3 cipher suite, used for HKDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hash {
    /// SHA-256 (32-byte output).
    Sha256,
    /// SHA-384 (48-byte output).
    Sha384,
}

impl Hash {
    /// Output length in bytes (also the length of traffic secrets).
    pub const fn output_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
        }
    }
}

/// A TLS 1.3 cipher suite usable with QUIC (every one except `TLS_AES_128_CCM_8_SHA256`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CipherSuite {
    /// `TLS_AES_128_GCM_SHA256`: AEAD_AES_128_GCM, AES-128-ECB header protection.
    Aes128Gcm,
    /// `TLS_AES_256_GCM_SHA384`: AEAD_AES_256_GCM, AES-256-ECB header protection.
    Aes256Gcm,
    /// `TLS_AES_128_CCM_SHA256`: AEAD_AES_128_CCM (16-byte tag), AES-128-ECB header protection.
    Aes128Ccm,
    /// `TLS_CHACHA20_POLY1305_SHA256`: AEAD_CHACHA20_POLY1305, ChaCha20 header protection.
    Chacha20Poly1305,
}

/// `TLS_CIPHER_AES_GCM_128` of `<linux/tls.h>`, the number the socket ABI uses.
pub const TLS_CIPHER_AES_GCM_128: u16 = 51;
/// `TLS_CIPHER_AES_GCM_256` of `<linux/tls.h>`.
pub const TLS_CIPHER_AES_GCM_256: u16 = 52;
/// `TLS_CIPHER_AES_CCM_128` of `<linux/tls.h>`.
pub const TLS_CIPHER_AES_CCM_128: u16 = 53;
/// `TLS_CIPHER_CHACHA20_POLY1305` of `<linux/tls.h>`.
pub const TLS_CIPHER_CHACHA20_POLY1305: u16 = 54;

impl CipherSuite {
    /// All suites, in the ABI's numbering order.
    pub const ALL: [CipherSuite; 4] = [
        Self::Aes128Gcm,
        Self::Aes256Gcm,
        Self::Aes128Ccm,
        Self::Chacha20Poly1305,
    ];

    /// AEAD key length in bytes.
    pub const fn key_len(self) -> usize {
        match self {
            Self::Aes128Gcm | Self::Aes128Ccm => 16,
            Self::Aes256Gcm | Self::Chacha20Poly1305 => 32,
        }
    }

    /// Packet-protection IV length in bytes (the AEAD nonce length).
    pub const fn iv_len(self) -> usize {
        super::NONCE_LEN
    }

    /// Header-protection key length in bytes (same cipher strength as the AEAD).
    pub const fn hp_key_len(self) -> usize {
        self.key_len()
    }

    /// Authentication tag length in bytes.
    pub const fn tag_len(self) -> usize {
        super::TAG_LEN
    }

    /// Hash of the suite (HKDF and secret length).
    pub const fn hash(self) -> Hash {
        match self {
            Self::Aes256Gcm => Hash::Sha384,
            _ => Hash::Sha256,
        }
    }

    /// The `TLS_CIPHER_*` number of `<linux/tls.h>` the socket ABI uses for this suite.
    pub const fn tls_cipher(self) -> u16 {
        match self {
            Self::Aes128Gcm => TLS_CIPHER_AES_GCM_128,
            Self::Aes256Gcm => TLS_CIPHER_AES_GCM_256,
            Self::Aes128Ccm => TLS_CIPHER_AES_CCM_128,
            Self::Chacha20Poly1305 => TLS_CIPHER_CHACHA20_POLY1305,
        }
    }

    /// Maps a `TLS_CIPHER_*` number of `<linux/tls.h>` to a suite.
    pub const fn from_tls_cipher(n: u16) -> Option<Self> {
        match n {
            TLS_CIPHER_AES_GCM_128 => Some(Self::Aes128Gcm),
            TLS_CIPHER_AES_GCM_256 => Some(Self::Aes256Gcm),
            TLS_CIPHER_AES_CCM_128 => Some(Self::Aes128Ccm),
            TLS_CIPHER_CHACHA20_POLY1305 => Some(Self::Chacha20Poly1305),
            _ => None,
        }
    }

    /// The IANA TLS 1.3 cipher suite identifier (0x1301..0x1304).
    pub const fn tls13_id(self) -> u16 {
        match self {
            Self::Aes128Gcm => 0x1301,
            Self::Aes256Gcm => 0x1302,
            Self::Chacha20Poly1305 => 0x1303,
            Self::Aes128Ccm => 0x1304,
        }
    }

    /// Maps an IANA TLS 1.3 cipher suite identifier to a suite (CCM_8, 0x1305, is not usable).
    pub const fn from_tls13_id(id: u16) -> Option<Self> {
        match id {
            0x1301 => Some(Self::Aes128Gcm),
            0x1302 => Some(Self::Aes256Gcm),
            0x1303 => Some(Self::Chacha20Poly1305),
            0x1304 => Some(Self::Aes128Ccm),
            _ => None,
        }
    }
}

/// The QUIC version whose key-derivation constants (salt, labels, Retry key) apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// QUIC version 1 (RFC 9000/9001), wire value `0x00000001`.
    V1,
    /// QUIC version 2 (RFC 9369), wire value `0x6b3343cf`.
    V2,
}

/// Wire value of QUIC version 1.
pub const VERSION_1: u32 = 0x0000_0001;
/// Wire value of QUIC version 2.
pub const VERSION_2: u32 = 0x6b33_43cf;

impl Version {
    /// Maps a long-header Version field to a version this module knows.
    pub const fn from_wire(v: u32) -> Option<Self> {
        match v {
            VERSION_1 => Some(Self::V1),
            VERSION_2 => Some(Self::V2),
            _ => None,
        }
    }

    /// The long-header Version field value.
    pub const fn wire(self) -> u32 {
        match self {
            Self::V1 => VERSION_1,
            Self::V2 => VERSION_2,
        }
    }

    /// HKDF label deriving the AEAD key ("quic key" / "quicv2 key").
    pub const fn key_label(self) -> &'static [u8] {
        match self {
            Self::V1 => b"quic key",
            Self::V2 => b"quicv2 key",
        }
    }

    /// HKDF label deriving the IV ("quic iv" / "quicv2 iv").
    pub const fn iv_label(self) -> &'static [u8] {
        match self {
            Self::V1 => b"quic iv",
            Self::V2 => b"quicv2 iv",
        }
    }

    /// HKDF label deriving the header-protection key ("quic hp" / "quicv2 hp").
    pub const fn hp_label(self) -> &'static [u8] {
        match self {
            Self::V1 => b"quic hp",
            Self::V2 => b"quicv2 hp",
        }
    }

    /// HKDF label deriving the next secret on key update ("quic ku" / "quicv2 ku").
    pub const fn ku_label(self) -> &'static [u8] {
        match self {
            Self::V1 => b"quic ku",
            Self::V2 => b"quicv2 ku",
        }
    }
}

/// Which end of the connection this endpoint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The endpoint that sent the first Initial.
    Client,
    /// The endpoint that accepted it.
    Server,
}
