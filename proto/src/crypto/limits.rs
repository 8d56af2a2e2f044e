//! AEAD usage limits, RFC 9001 §6.6 and Appendix B.
//!
//! The confidentiality limit counts packets *sealed* with one key (one key phase): the engine
//! must update keys before reaching it. The integrity limit counts packets that *failed* to
//! open over the whole connection, across all keys: past it the connection is closed with
//! AEAD_LIMIT_REACHED (0x0f). Limits assume packets of up to 2^16 bytes (no size restriction).

use super::CipherSuite;

/// AEAD_AES_128_GCM / AEAD_AES_256_GCM confidentiality limit: 2^23 packets.
pub const AES_GCM_CONFIDENTIALITY_LIMIT: u64 = 1 << 23;
/// AEAD_AES_128_GCM / AEAD_AES_256_GCM integrity limit: 2^52 forged packets.
pub const AES_GCM_INTEGRITY_LIMIT: u64 = 1 << 52;
/// AEAD_CHACHA20_POLY1305 confidentiality limit: above the 2^62 packet numbers, so none.
pub const CHACHA20_CONFIDENTIALITY_LIMIT: u64 = 1 << 62;
/// AEAD_CHACHA20_POLY1305 integrity limit: 2^36 forged packets.
pub const CHACHA20_INTEGRITY_LIMIT: u64 = 1 << 36;
/// AEAD_AES_128_CCM confidentiality and integrity limit: 2^21.5 packets, rounded down
/// (2^21 * sqrt(2) = 2965820.27...).
pub const AES_CCM_LIMIT: u64 = 2_965_820;

impl CipherSuite {
    /// Most packets one key of this suite may seal (RFC 9001 §6.6).
    pub const fn confidentiality_limit(self) -> u64 {
        match self {
            Self::Aes128Gcm | Self::Aes256Gcm => AES_GCM_CONFIDENTIALITY_LIMIT,
            Self::Aes128Ccm => AES_CCM_LIMIT,
            Self::Chacha20Poly1305 => CHACHA20_CONFIDENTIALITY_LIMIT,
        }
    }

    /// Most packets per connection that may fail authentication (RFC 9001 §6.6).
    pub const fn integrity_limit(self) -> u64 {
        match self {
            Self::Aes128Gcm | Self::Aes256Gcm => AES_GCM_INTEGRITY_LIMIT,
            Self::Aes128Ccm => AES_CCM_LIMIT,
            Self::Chacha20Poly1305 => CHACHA20_INTEGRITY_LIMIT,
        }
    }
}

/// What the engine should do about a usage counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitStatus {
    /// Well within the limit.
    Ok,
    /// Within 1/16 of the confidentiality limit: initiate a key update now.
    UpdateKeys,
    /// The limit is reached: stop using the key (confidentiality) or close the connection with
    /// AEAD_LIMIT_REACHED (integrity).
    Exhausted,
}

/// Packets sealed under one key (one key phase), against the suite's confidentiality limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfidentialityCounter {
    sealed: u64,
    limit: u64,
}

impl ConfidentialityCounter {
    /// A fresh counter for a key of `suite`.
    pub const fn new(suite: CipherSuite) -> Self {
        Self::with_limit(suite.confidentiality_limit())
    }

    /// A fresh counter with an explicit limit (tests, or a stricter local policy).
    pub const fn with_limit(limit: u64) -> Self {
        Self { sealed: 0, limit }
    }

    /// Packets sealed so far.
    pub const fn sealed(&self) -> u64 {
        self.sealed
    }

    /// The limit in force.
    pub const fn limit(&self) -> u64 {
        self.limit
    }

    /// Where the counter stands: `UpdateKeys` from `limit - limit / 16` on, `Exhausted` at the
    /// limit.
    pub const fn status(&self) -> LimitStatus {
        if self.sealed >= self.limit {
            LimitStatus::Exhausted
        } else if self.sealed >= self.limit - self.limit / 16 {
            LimitStatus::UpdateKeys
        } else {
            LimitStatus::Ok
        }
    }

    /// Whether one more packet may be sealed.
    pub const fn can_seal(&self) -> bool {
        self.sealed < self.limit
    }

    /// Counts one sealed packet; fails with `LimitReached` (counting nothing) at the limit.
    pub fn record(&mut self) -> Result<LimitStatus, super::CryptoError> {
        if !self.can_seal() {
            return Err(super::CryptoError::LimitReached);
        }
        self.sealed += 1;
        Ok(self.status())
    }
}

/// Packets that failed authentication within a connection, across all keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntegrityCounter {
    failures: u64,
    limit: u64,
}

impl IntegrityCounter {
    /// A fresh counter using the limit of `suite` (Initial packets: AES-128-GCM).
    pub const fn new(suite: CipherSuite) -> Self {
        Self::with_limit(suite.integrity_limit())
    }

    /// A fresh counter with an explicit limit.
    pub const fn with_limit(limit: u64) -> Self {
        Self { failures: 0, limit }
    }

    /// Switches to the limit of the negotiated suite, keeping the failures counted so far.
    pub fn set_suite(&mut self, suite: CipherSuite) {
        self.limit = suite.integrity_limit();
    }

    /// Failures counted so far.
    pub const fn failures(&self) -> u64 {
        self.failures
    }

    /// `Exhausted` once more packets failed than the limit allows, else `Ok`.
    pub const fn status(&self) -> LimitStatus {
        if self.failures > self.limit {
            LimitStatus::Exhausted
        } else {
            LimitStatus::Ok
        }
    }

    /// Counts one packet that failed authentication and returns the new status.
    pub fn record_failure(&mut self) -> LimitStatus {
        self.failures = self.failures.saturating_add(1);
        self.status()
    }
}
