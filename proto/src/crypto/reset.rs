//! Stateless reset, RFC 9000 §10.3: token derivation, detection and construction.
//!
//! Tokens are `HMAC-SHA256(static_key, "kquic stateless reset" | connection_id)` truncated to
//! 16 bytes (§10.3.2), so an endpoint that lost its state can still produce the token of any
//! connection ID it issued, and nobody without the key can.

use super::zeroize::zeroize;
use super::{ct_eq, Crypto, CryptoError, Hash, Rng};

pub use crate::cid::{ResetToken, RESET_TOKEN_LEN};

/// Smallest stateless reset: 5 bytes (38 unpredictable bits after the first two) plus the token.
pub const MIN_STATELESS_RESET_LEN: usize = 21;
/// Length of the per-endpoint static key.
pub const RESET_KEY_LEN: usize = 32;

/// Compares two tokens in constant time (use this, not `==`, on tokens from the network).
pub fn token_eq(a: &ResetToken, b: &ResetToken) -> bool {
    ct_eq(a, b)
}

/// The endpoint's static key tokens are derived from (wiped on drop).
pub struct StatelessResetKey {
    key: [u8; RESET_KEY_LEN],
}

impl StatelessResetKey {
    /// A key from caller-chosen bytes (e.g. configured so tokens survive a restart).
    pub fn new(key: [u8; RESET_KEY_LEN]) -> Self {
        Self { key }
    }

    /// A fresh random key.
    pub fn random<R: Rng>(rng: &mut R) -> Self {
        let mut key = [0u8; RESET_KEY_LEN];
        rng.fill(&mut key);
        Self { key }
    }

    /// The token of connection ID `cid`.
    pub fn token<C: Crypto>(&self, crypto: &C, cid: &[u8]) -> Result<ResetToken, CryptoError> {
        let mut mac = [0u8; 32];
        let res = crypto.hmac(
            Hash::Sha256,
            &self.key,
            &[b"kquic stateless reset", cid],
            &mut mac,
        );
        let mut token = [0u8; RESET_TOKEN_LEN];
        if res.is_ok() {
            for (t, m) in token.iter_mut().zip(mac.iter()) {
                *t = *m;
            }
        }
        zeroize(&mut mac);
        res.map(|()| token)
    }
}

impl Drop for StatelessResetKey {
    fn drop(&mut self) {
        zeroize(&mut self.key);
    }
}

impl core::fmt::Debug for StatelessResetKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("StatelessResetKey(..)")
    }
}

/// The last 16 bytes of a datagram that is long enough to be a stateless reset.
pub fn trailing_token(datagram: &[u8]) -> Option<ResetToken> {
    if datagram.len() < MIN_STATELESS_RESET_LEN {
        return None;
    }
    let tail = datagram.get(datagram.len() - RESET_TOKEN_LEN..)?;
    let mut token = [0u8; RESET_TOKEN_LEN];
    token.copy_from_slice(tail);
    Some(token)
}

/// Whether `datagram` ends with one of `tokens` (RFC 9000 §10.3.1).
///
/// Call it only when the datagram's first packet could not be matched to a connection or
/// decrypted, with the tokens of connection IDs in use (not unused or retired ones). Every
/// token is compared, each in constant time.
pub fn is_stateless_reset<'a>(
    datagram: &[u8],
    tokens: impl IntoIterator<Item = &'a ResetToken>,
) -> bool {
    let Some(tail) = trailing_token(datagram) else {
        return false;
    };
    let mut found = false;
    for t in tokens {
        found |= token_eq(&tail, t);
    }
    found
}

/// Builds a stateless reset answering a packet of `trigger_len` bytes into `out` and returns
/// its length.
///
/// The packet looks like a short-header packet: first byte `0b01xxxxxx`, random bytes, the token
/// last. Its length is `trigger_len - 1` (always smaller than what triggered it, so resets
/// cannot loop; exactly one byte less is what §10.3 asks for triggers of up to 43 bytes),
/// capped at `max_len` and `out.len()`. A `max_len` of at least 42 keeps resets as long as the
/// smallest packets the engine sends. Fails with `InvalidLength` when the result would be below
/// [`MIN_STATELESS_RESET_LEN`]: then no reset may be sent.
pub fn build_stateless_reset<R: Rng>(
    rng: &mut R,
    token: &ResetToken,
    trigger_len: usize,
    max_len: usize,
    out: &mut [u8],
) -> Result<usize, CryptoError> {
    let len = trigger_len.saturating_sub(1).min(max_len).min(out.len());
    if len < MIN_STATELESS_RESET_LEN {
        return Err(CryptoError::InvalidLength);
    }
    let (random, tail) = out
        .get_mut(..len)
        .and_then(|p| crate::codec::split_mut(p, len - RESET_TOKEN_LEN))
        .ok_or(CryptoError::InvalidLength)?;
    rng.fill(random);
    if let Some(first) = random.first_mut() {
        *first = (*first & 0x3f) | 0x40;
    }
    tail.copy_from_slice(token);
    Ok(len)
}
