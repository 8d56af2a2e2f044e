//! QUIC variable-length integers (RFC 9000 §16).
//!
//! The two high bits of the first byte give the length (1, 2, 4 or 8 bytes); the remaining
//! bits hold the value in network byte order, so values range over `0..=2^62-1`.

use crate::codec::CodecError;

/// The largest value a varint can hold: 2^62 - 1.
pub const MAX: u64 = (1 << 62) - 1;

/// Largest value encodable in 1, 2 and 4 bytes.
const MAX_1: u64 = (1 << 6) - 1;
const MAX_2: u64 = (1 << 14) - 1;
const MAX_4: u64 = (1 << 30) - 1;

/// Length of the minimal encoding of `v`, or `None` when `v > MAX`.
pub const fn encoded_len(v: u64) -> Option<usize> {
    if v <= MAX_1 {
        Some(1)
    } else if v <= MAX_2 {
        Some(2)
    } else if v <= MAX_4 {
        Some(4)
    } else if v <= MAX {
        Some(8)
    } else {
        None
    }
}

/// Length of the minimal encoding of `v` for size computations; values above [`MAX`] count as
/// 8 bytes (they cannot be encoded, and every encoder rejects them).
pub const fn size(v: u64) -> usize {
    match encoded_len(v) {
        Some(n) => n,
        None => 8,
    }
}

/// The largest value that an encoding of `len` bytes holds, or `None` for an invalid length.
pub const fn max_for_len(len: usize) -> Option<u64> {
    match len {
        1 => Some(MAX_1),
        2 => Some(MAX_2),
        4 => Some(MAX_4),
        8 => Some(MAX),
        _ => None,
    }
}

/// Checks that `v` can be encoded in exactly `len` bytes.
pub fn check_fits(v: u64, len: usize) -> Result<(), CodecError> {
    match max_for_len(len) {
        Some(max) if v <= max => Ok(()),
        _ => Err(CodecError::ValueTooLarge),
    }
}

/// Decodes a varint from the start of `buf`: returns the value and the bytes it took.
pub fn decode(buf: &[u8]) -> Result<(u64, usize), CodecError> {
    let first = *buf.first().ok_or(CodecError::UnexpectedEnd)?;
    let len = 1usize << (first >> 6);
    let bytes = buf.get(..len).ok_or(CodecError::UnexpectedEnd)?;
    let mut v = u64::from(first & 0x3f);
    for b in bytes.iter().skip(1) {
        v = (v << 8) | u64::from(*b);
    }
    Ok((v, len))
}

/// Encodes `v` minimally at the start of `buf`; returns the bytes written.
pub fn encode(v: u64, buf: &mut [u8]) -> Result<usize, CodecError> {
    let len = encoded_len(v).ok_or(CodecError::ValueTooLarge)?;
    encode_with_len(v, len, buf)
}

/// Encodes `v` using exactly `len` bytes (1, 2, 4 or 8) at the start of `buf`, e.g. to fill
/// a Length field whose size was fixed before the value was known. Returns `len`.
pub fn encode_with_len(v: u64, len: usize, buf: &mut [u8]) -> Result<usize, CodecError> {
    check_fits(v, len)?;
    let dst = buf.get_mut(..len).ok_or(CodecError::BufferFull)?;
    let prefix: u8 = match len {
        1 => 0x00,
        2 => 0x40,
        4 => 0x80,
        _ => 0xc0,
    };
    let be = v.to_be_bytes();
    let src = be.get(8 - len..).ok_or(CodecError::ValueTooLarge)?;
    dst.copy_from_slice(src);
    if let Some(b) = dst.first_mut() {
        *b |= prefix;
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc9000_examples() {
        let cases: &[(&[u8], u64)] = &[
            (
                &[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c],
                151_288_809_941_952_652,
            ),
            (&[0x9d, 0x7f, 0x3e, 0x7d], 494_878_333),
            (&[0x7b, 0xbd], 15_293),
            (&[0x25], 37),
            (&[0x40, 0x25], 37),
        ];
        for (bytes, value) in cases {
            assert_eq!(decode(bytes), Ok((*value, bytes.len())));
        }
        // Minimal encodings of the examples (all but the non-minimal 0x4025).
        for (bytes, value) in cases.iter().take(4) {
            let mut buf = [0u8; 8];
            let n = encode(*value, &mut buf).unwrap();
            assert_eq!(&buf[..n], *bytes);
        }
        let mut buf = [0u8; 2];
        assert_eq!(encode_with_len(37, 2, &mut buf), Ok(2));
        assert_eq!(buf, [0x40, 0x25]);
    }

    #[test]
    fn boundaries() {
        assert_eq!(encoded_len(0), Some(1));
        assert_eq!(encoded_len(63), Some(1));
        assert_eq!(encoded_len(64), Some(2));
        assert_eq!(encoded_len(16383), Some(2));
        assert_eq!(encoded_len(16384), Some(4));
        assert_eq!(encoded_len((1 << 30) - 1), Some(4));
        assert_eq!(encoded_len(1 << 30), Some(8));
        assert_eq!(encoded_len(MAX), Some(8));
        assert_eq!(encoded_len(MAX + 1), None);
        assert_eq!(size(u64::MAX), 8);
        let mut buf = [0u8; 8];
        assert_eq!(encode(MAX + 1, &mut buf), Err(CodecError::ValueTooLarge));
        assert_eq!(encode(u64::MAX, &mut buf), Err(CodecError::ValueTooLarge));
        assert_eq!(
            encode_with_len(64, 1, &mut buf),
            Err(CodecError::ValueTooLarge)
        );
        assert_eq!(
            encode_with_len(1, 3, &mut buf),
            Err(CodecError::ValueTooLarge)
        );
        assert_eq!(encode(16384, &mut buf[..3]), Err(CodecError::BufferFull));
        assert_eq!(encode(MAX, &mut buf), Ok(8));
        assert_eq!(buf, [0xff; 8]);
        assert_eq!(decode(&buf), Ok((MAX, 8)));
    }

    #[test]
    fn truncated_input() {
        assert_eq!(decode(&[]), Err(CodecError::UnexpectedEnd));
        assert_eq!(decode(&[0x40]), Err(CodecError::UnexpectedEnd));
        assert_eq!(decode(&[0x80, 0, 0]), Err(CodecError::UnexpectedEnd));
        assert_eq!(
            decode(&[0xc0, 0, 0, 0, 0, 0, 0]),
            Err(CodecError::UnexpectedEnd)
        );
    }

    proptest! {
        #[test]
        fn roundtrip(v in 0..=MAX) {
            let mut buf = [0u8; 8];
            let n = encode(v, &mut buf).unwrap();
            prop_assert_eq!(Some(n), encoded_len(v));
            prop_assert_eq!(decode(&buf[..n]), Ok((v, n)));
            // Every longer encoding decodes to the same value.
            for len in [1usize, 2, 4, 8] {
                if len >= n {
                    let mut b2 = [0u8; 8];
                    prop_assert_eq!(encode_with_len(v, len, &mut b2), Ok(len));
                    prop_assert_eq!(decode(&b2), Ok((v, len)));
                }
            }
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..10)) {
            if let Ok((v, n)) = decode(&bytes) {
                prop_assert!(v <= MAX);
                prop_assert!(n <= bytes.len());
            }
        }
    }
}
