//! HKDF (RFC 5869) and TLS 1.3 HKDF-Expand-Label (RFC 8446 §7.1) over the backend's HMAC.

use super::zeroize::{Secret, SecretBuf};
use super::{Crypto, CryptoError, Hash, MAX_SECRET_LEN};

/// Prefix TLS 1.3 puts before every HKDF label.
const LABEL_PREFIX: &[u8] = b"tls13 ";

/// Most `info` parts [`expand`] accepts (Expand-Label uses 5).
const MAX_INFO_PARTS: usize = 6;

/// HKDF-Extract: `PRK = HMAC-hash(salt, ikm)`, `hash.output_len()` bytes.
pub fn extract<C: Crypto>(
    crypto: &C,
    hash: Hash,
    salt: &[u8],
    ikm: &[u8],
) -> Result<Secret, CryptoError> {
    let mut prk = Secret::zeroed(hash.output_len())?;
    crypto.hmac(hash, salt, &[ikm], prk.as_mut_slice())?;
    Ok(prk)
}

/// HKDF-Expand of `prk` with `info` given as the concatenation of `info` parts, filling `out`.
///
/// `out` may be at most `255 * hash.output_len()` bytes; `info` at most 6 parts.
pub fn expand<C: Crypto>(
    crypto: &C,
    hash: Hash,
    prk: &[u8],
    info: &[&[u8]],
    out: &mut [u8],
) -> Result<(), CryptoError> {
    let hash_len = hash.output_len();
    if out.len() > 255 * hash_len || info.len() > MAX_INFO_PARTS {
        return Err(CryptoError::InvalidLength);
    }
    // T(0) is empty; T(i) = HMAC(PRK, T(i-1) | info | i).
    let mut t = SecretBuf::<MAX_SECRET_LEN>::zeroed(0)?;
    let mut counter = 0u8;
    for chunk in out.chunks_mut(hash_len) {
        counter = counter.wrapping_add(1);
        let ctr = [counter];
        let mut next = SecretBuf::<MAX_SECRET_LEN>::zeroed(hash_len)?;
        {
            let mut parts: [&[u8]; MAX_INFO_PARTS + 2] = [&[]; MAX_INFO_PARTS + 2];
            let mut n = 0;
            let all = core::iter::once(t.as_slice())
                .chain(info.iter().copied())
                .chain(core::iter::once(&ctr[..]));
            for part in all {
                if let Some(slot) = parts.get_mut(n) {
                    *slot = part;
                    n += 1;
                }
            }
            crypto.hmac(
                hash,
                prk,
                parts.get(..n).unwrap_or(&[]),
                next.as_mut_slice(),
            )?;
        }
        t = next;
        let src = t
            .as_slice()
            .get(..chunk.len())
            .ok_or(CryptoError::InvalidLength)?;
        chunk.copy_from_slice(src);
    }
    Ok(())
}

/// HKDF-Expand-Label(`secret`, `label`, `context`, `out.len()`) of TLS 1.3: HKDF-Expand with
/// `info = u16 length | u8 len | "tls13 " label | u8 len | context`.
pub fn expand_label<C: Crypto>(
    crypto: &C,
    hash: Hash,
    secret: &[u8],
    label: &[u8],
    context: &[u8],
    out: &mut [u8],
) -> Result<(), CryptoError> {
    let out_len = u16::try_from(out.len()).map_err(|_| CryptoError::InvalidLength)?;
    let label_len =
        u8::try_from(LABEL_PREFIX.len() + label.len()).map_err(|_| CryptoError::InvalidLength)?;
    let context_len = u8::try_from(context.len()).map_err(|_| CryptoError::InvalidLength)?;
    let [len_hi, len_lo] = out_len.to_be_bytes();
    let head = [len_hi, len_lo, label_len];
    let ctx_head = [context_len];
    expand(
        crypto,
        hash,
        secret,
        &[&head, LABEL_PREFIX, label, &ctx_head, context],
        out,
    )
}

/// HKDF-Expand-Label into a new [`Secret`] of `len` bytes.
pub(crate) fn expand_label_secret<C: Crypto>(
    crypto: &C,
    hash: Hash,
    secret: &[u8],
    label: &[u8],
    len: usize,
) -> Result<Secret, CryptoError> {
    let mut out = Secret::zeroed(len)?;
    expand_label(crypto, hash, secret, label, &[], out.as_mut_slice())?;
    Ok(out)
}
