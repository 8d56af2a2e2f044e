// SPDX-License-Identifier: GPL-2.0
//! The kernel crypto API as the backend of `quic_proto::crypto::Crypto`: AEADs `gcm(aes)`,
//! `ccm(aes)` and `rfc7539(chacha20,poly1305)`, header protection with `ecb(aes)` and
//! `chacha20` skciphers, and HMAC-SHA256/384 (`hmac(sha256)`, `hmac(sha384)` shash) for HKDF.

use kernel::ffi::c_char;

use quic_proto::crypto::{
    AeadKey, CipherSuite, Crypto, CryptoError, Hash, HeaderKey, MASK_LEN, NONCE_LEN, SAMPLE_LEN,
    TAG_LEN,
};

use crate::sys;

fn aead_name(suite: CipherSuite) -> &'static [u8] {
    match suite {
        CipherSuite::Aes128Gcm | CipherSuite::Aes256Gcm => b"gcm(aes)\0",
        CipherSuite::Aes128Ccm => b"ccm(aes)\0",
        CipherSuite::Chacha20Poly1305 => b"rfc7539(chacha20,poly1305)\0",
    }
}

/// A keyed packet-protection AEAD (`struct crypto_aead`).
pub(crate) struct KernelAead {
    aead: *mut sys::kq_aead,
    ccm: bool,
}

impl KernelAead {
    /// The IV the kernel template wants: the 12-byte nonce for GCM and ChaCha20-Poly1305; for
    /// CCM the 16-byte counter block layout with L' = 2 (a 3-byte length field) first.
    fn iv(&self, nonce: &[u8; NONCE_LEN]) -> [u8; 16] {
        let mut iv = [0u8; 16];
        if self.ccm {
            iv[0] = 2;
            iv[1..13].copy_from_slice(nonce);
        } else {
            iv[..NONCE_LEN].copy_from_slice(nonce);
        }
        iv
    }

    fn crypt(
        &self,
        enc: bool,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<(), CryptoError> {
        if buf.len() < TAG_LEN {
            return Err(CryptoError::InvalidLength);
        }
        let (Ok(aadlen), Ok(buflen)) = (u32::try_from(aad.len()), u32::try_from(buf.len())) else {
            return Err(CryptoError::InvalidLength);
        };
        let mut iv = self.iv(nonce);
        // SAFETY: `aead` is a live keyed AEAD with its own request, used by one thread at a time
        // (`KernelAead` is not `Sync`); `aad` and `buf` are valid for their lengths (memory
        // outside the linear map is bounced by the C side); the AAD is only read (the C side
        // takes a non-const pointer for the scatterlist API).
        let rc = unsafe {
            sys::kq_aead_crypt(
                self.aead,
                i32::from(enc),
                iv.as_mut_ptr(),
                aad.as_ptr().cast_mut(),
                aadlen,
                buf.as_mut_ptr(),
                buflen,
            )
        };
        match rc {
            0 => Ok(()),
            rc if rc == -(sys::EBADMSG as i32) => Err(CryptoError::Authentication),
            _ => Err(CryptoError::Backend),
        }
    }
}

impl AeadKey for KernelAead {
    fn seal(&self, nonce: &[u8; NONCE_LEN], aad: &[u8], buf: &mut [u8]) -> Result<(), CryptoError> {
        self.crypt(true, nonce, aad, buf)
    }

    fn open(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<usize, CryptoError> {
        self.crypt(false, nonce, aad, buf)?;
        Ok(buf.len() - TAG_LEN)
    }
}

impl Drop for KernelAead {
    fn drop(&mut self) {
        // SAFETY: `aead` was allocated by `kq_aead_alloc` and is freed exactly once (the crypto
        // layer wipes the key context).
        unsafe { sys::kq_aead_free(self.aead) };
    }
}

/// A keyed header-protection cipher.
pub(crate) struct KernelHp {
    hp: *mut sys::kq_hp,
}

impl HeaderKey for KernelHp {
    fn mask(&self, sample: &[u8; SAMPLE_LEN]) -> Result<[u8; MASK_LEN], CryptoError> {
        let mut mask = [0u8; MASK_LEN];
        // SAFETY: `hp` is live; `sample` has 16 bytes and `mask` 5, as the C side reads/writes.
        // `KernelHp` is neither `Send` nor `Sync` (raw pointer), so its scratch buffer is never
        // used concurrently.
        let rc = unsafe { sys::kq_hp_mask(self.hp, sample.as_ptr(), mask.as_mut_ptr()) };
        if rc != 0 {
            return Err(CryptoError::Backend);
        }
        Ok(mask)
    }
}

impl Drop for KernelHp {
    fn drop(&mut self) {
        // SAFETY: allocated by `kq_hp_alloc`, freed exactly once.
        unsafe { sys::kq_hp_free(self.hp) };
    }
}

/// The backend: owns one HMAC transform per hash for key derivation.
pub(crate) struct KernelCrypto {
    sha256: *mut sys::crypto_shash,
    sha384: *mut sys::crypto_shash,
}

impl KernelCrypto {
    /// Allocates the HMAC transforms (process context).
    pub(crate) fn new() -> Result<Self, i32> {
        let sha256 = shash(b"hmac(sha256)\0")?;
        let sha384 = match shash(b"hmac(sha384)\0") {
            Ok(t) => t,
            Err(e) => {
                // SAFETY: allocated just above, not shared.
                unsafe { sys::kq_crypto_free_shash(sha256) };
                return Err(e);
            }
        };
        Ok(Self { sha256, sha384 })
    }
}

fn shash(name: &[u8]) -> Result<*mut sys::crypto_shash, i32> {
    // SAFETY: `name` is NUL-terminated.
    sys::from_err_ptr(unsafe { sys::kq_shash_alloc(name.as_ptr().cast::<c_char>()) })
}

impl Drop for KernelCrypto {
    fn drop(&mut self) {
        // SAFETY: both allocated in `new`, freed exactly once.
        unsafe {
            sys::kq_crypto_free_shash(self.sha256);
            sys::kq_crypto_free_shash(self.sha384);
        }
    }
}

impl Crypto for KernelCrypto {
    type Aead = KernelAead;
    type Hp = KernelHp;

    fn new_aead(&self, suite: CipherSuite, key: &[u8]) -> Result<KernelAead, CryptoError> {
        if key.len() != suite.key_len() {
            return Err(CryptoError::InvalidLength);
        }
        let name = aead_name(suite);
        // SAFETY: `name` is NUL-terminated; `key` is valid for `key.len()` bytes.
        let tfm = unsafe {
            sys::kq_aead_alloc(
                name.as_ptr().cast::<c_char>(),
                key.as_ptr(),
                key.len() as u32,
            )
        };
        let aead = sys::from_err_ptr(tfm).map_err(|_| CryptoError::Backend)?;
        Ok(KernelAead {
            aead,
            ccm: suite == CipherSuite::Aes128Ccm,
        })
    }

    fn new_hp(&self, suite: CipherSuite, key: &[u8]) -> Result<KernelHp, CryptoError> {
        if key.len() != suite.hp_key_len() {
            return Err(CryptoError::InvalidLength);
        }
        let chacha = suite == CipherSuite::Chacha20Poly1305;
        // SAFETY: `key` is valid for `key.len()` bytes.
        let hp = unsafe { sys::kq_hp_alloc(i32::from(chacha), key.as_ptr(), key.len() as u32) };
        let hp = sys::from_err_ptr(hp).map_err(|_| CryptoError::Backend)?;
        Ok(KernelHp { hp })
    }

    fn hmac(
        &self,
        hash: Hash,
        key: &[u8],
        parts: &[&[u8]],
        out: &mut [u8],
    ) -> Result<(), CryptoError> {
        if out.len() != hash.output_len() {
            return Err(CryptoError::InvalidLength);
        }
        // HKDF in QUIC concatenates at most a handful of parts (label, context, counter).
        const MAX_PARTS: usize = 8;
        if parts.len() > MAX_PARTS {
            return Err(CryptoError::InvalidLength);
        }
        let mut ptrs = [core::ptr::null::<u8>(); MAX_PARTS];
        let mut lens = [0u32; MAX_PARTS];
        for (i, p) in parts.iter().enumerate() {
            ptrs[i] = p.as_ptr();
            lens[i] = u32::try_from(p.len()).map_err(|_| CryptoError::InvalidLength)?;
        }
        let tfm = match hash {
            Hash::Sha256 => self.sha256,
            Hash::Sha384 => self.sha384,
        };
        // SAFETY: `tfm` is live; `ptrs[..n]`/`lens[..n]` describe valid slices; `out` has room
        // for the digest (checked above). shash works on virtual addresses.
        let rc = unsafe {
            sys::kq_hmac(
                tfm,
                key.as_ptr(),
                u32::try_from(key.len()).map_err(|_| CryptoError::InvalidLength)?,
                ptrs.as_ptr(),
                lens.as_ptr(),
                parts.len() as u32,
                out.as_mut_ptr(),
            )
        };
        if rc != 0 {
            return Err(CryptoError::Backend);
        }
        Ok(())
    }
}
