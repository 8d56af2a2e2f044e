//! The connection's own random bytes: HMAC-SHA256 in counter mode, keyed once from the
//! caller's [`Rng`] when the connection is made. The engine then needs no RNG handle on every
//! call, and a seeded host RNG makes whole connections reproducible in tests.

use crate::crypto::zeroize::zeroize;
use crate::crypto::{Crypto, Hash, Rng};

/// A deterministic random bit generator keyed from a real RNG.
pub(crate) struct Drbg {
    key: [u8; 32],
    counter: u64,
    buf: [u8; 32],
    used: usize,
}

impl Drbg {
    /// A generator keyed with 32 bytes from `rng`.
    pub(crate) fn new<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let mut key = [0u8; 32];
        rng.fill(&mut key);
        Self {
            key,
            counter: 0,
            buf: [0; 32],
            used: 32,
        }
    }

    fn refill<C: Crypto>(&mut self, crypto: &C) {
        self.counter = self.counter.wrapping_add(1);
        let ctr = self.counter.to_be_bytes();
        if crypto
            .hmac(
                Hash::Sha256,
                &self.key,
                &[b"kquic drbg", &ctr],
                &mut self.buf,
            )
            .is_err()
        {
            // A failing backend must not yield predictable output: mix the counter into the
            // previous block instead (still secret, never repeated).
            for (b, c) in self.buf.iter_mut().zip(ctr.iter().cycle()) {
                *b = b.wrapping_mul(31).wrapping_add(*c) ^ 0x5c;
            }
        }
        self.used = 0;
    }

    /// Fills `out` with random bytes.
    pub(crate) fn fill<C: Crypto>(&mut self, crypto: &C, out: &mut [u8]) {
        for b in out.iter_mut() {
            if self.used >= self.buf.len() {
                self.refill(crypto);
            }
            *b = self.buf.get(self.used).copied().unwrap_or(0);
            self.used += 1;
        }
    }

    /// A random `u64`.
    pub(crate) fn next_u64<C: Crypto>(&mut self, crypto: &C) -> u64 {
        let mut b = [0u8; 8];
        self.fill(crypto, &mut b);
        u64::from_le_bytes(b)
    }
}

impl Drop for Drbg {
    fn drop(&mut self) {
        zeroize(&mut self.key);
        zeroize(&mut self.buf);
    }
}

impl core::fmt::Debug for Drbg {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Drbg(..)")
    }
}
