//! Wiping key material without `unsafe`.

use core::sync::atomic::{compiler_fence, Ordering};

use super::{CryptoError, MAX_SECRET_LEN};

/// Overwrites `buf` with zeros in a way the optimiser may not elide.
///
/// The stores are followed by an opaque use of the buffer (`black_box`) and a compiler fence, so
/// they are not removed as dead even when the buffer is about to go out of scope.
pub fn zeroize(buf: &mut [u8]) {
    for b in buf.iter_mut() {
        *b = 0;
    }
    core::hint::black_box(&mut *buf);
    compiler_fence(Ordering::SeqCst);
}

/// A fixed-capacity byte buffer that is wiped when dropped: secrets, derived keys and IVs.
pub struct SecretBuf<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

/// A TLS traffic secret (up to SHA-384 length), wiped on drop.
pub type Secret = SecretBuf<MAX_SECRET_LEN>;

impl<const N: usize> SecretBuf<N> {
    /// A zero-filled buffer of `len` bytes, or `InvalidLength` if `len > N`.
    pub fn zeroed(len: usize) -> Result<Self, CryptoError> {
        if len > N {
            return Err(CryptoError::InvalidLength);
        }
        Ok(Self { bytes: [0; N], len })
    }

    /// A copy of `src`, or `InvalidLength` if it is longer than `N`.
    pub fn from_slice(src: &[u8]) -> Result<Self, CryptoError> {
        let mut s = Self::zeroed(src.len())?;
        s.as_mut_slice().copy_from_slice(src);
        Ok(s)
    }

    /// The bytes held.
    pub fn as_slice(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }

    /// The bytes held, writable.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        self.bytes.get_mut(..self.len).unwrap_or(&mut [])
    }

    /// Number of bytes held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no bytes are held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<const N: usize> Drop for SecretBuf<N> {
    fn drop(&mut self) {
        zeroize(&mut self.bytes);
    }
}

impl<const N: usize> core::fmt::Debug for SecretBuf<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "SecretBuf({} bytes, redacted)", self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wipes_and_bounds() {
        let mut b = [0xaau8; 7];
        zeroize(&mut b);
        assert_eq!(b, [0; 7]);
        assert!(SecretBuf::<4>::from_slice(&[1, 2, 3, 4, 5]).is_err());
        let s = SecretBuf::<4>::from_slice(&[1, 2, 3]).unwrap();
        assert_eq!(s.as_slice(), &[1, 2, 3]);
        assert_eq!(s.len(), 3);
        assert!(!s.is_empty());
        assert!(!std::format!("{s:?}").contains('1'));
    }
}
