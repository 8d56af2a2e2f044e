//! Packet number truncation and recovery (RFC 9000 §17.1, Appendix A.2 and A.3).
//!
//! Packet numbers are 62-bit integers sent as their 1 to 4 least significant bytes. The
//! sender picks a length that covers twice the distance to the largest acknowledged packet;
//! the receiver picks the candidate closest to the next expected number.

use crate::codec::{CodecError, Writer};

/// Largest packet number (2^62 - 1).
pub const MAX_PN: u64 = (1 << 62) - 1;

/// Number of bytes (1..=4) to encode `full_pn`, given the largest packet number the peer has
/// acknowledged in this space (`None` if none yet). Follows RFC 9000 Appendix A.2: the range
/// of unacknowledged packets, doubled, must fit in the truncated number. Clamped to 4.
pub fn encoded_len(full_pn: u64, largest_acked: Option<u64>) -> usize {
    let num_unacked = match largest_acked {
        None => full_pn.saturating_add(1),
        Some(la) => full_pn.saturating_sub(la).max(1),
    };
    // Bits needed for 2 * num_unacked values: bit length of (num_unacked - 1) plus one.
    let bits = (u64::BITS - (num_unacked - 1).leading_zeros()) as usize + 1;
    bits.div_ceil(8).clamp(1, 4)
}

/// The low `len` bytes of `full_pn` (`len` in 1..=4; larger values are treated as 4).
pub fn truncate(full_pn: u64, len: usize) -> u32 {
    let len = len.clamp(1, 4);
    let mask = (1u64 << (8 * len)) - 1;
    (full_pn & mask) as u32
}

/// Writes the low `len` bytes (1..=4) of `full_pn` in network byte order.
pub fn write(w: &mut Writer<'_>, full_pn: u64, len: usize) -> Result<(), CodecError> {
    if !(1..=4).contains(&len) {
        return Err(CodecError::ValueTooLarge);
    }
    let be = truncate(full_pn, len).to_be_bytes();
    w.bytes(be.get(4 - len..).unwrap_or(&[]))
}

/// Reads a truncated packet number of `len` bytes (1..=4) from the start of `buf`.
pub fn read(buf: &[u8], len: usize) -> Option<u32> {
    if !(1..=4).contains(&len) {
        return None;
    }
    let bytes = buf.get(..len)?;
    Some(bytes.iter().fold(0u32, |v, b| (v << 8) | u32::from(*b)))
}

/// Recovers the full packet number from `truncated` (`len` bytes, 1..=4) given the largest
/// packet number successfully processed in this space (`None` if none), per RFC 9000
/// Appendix A.3. Never overflows; results stay below 2^62.
pub fn decode(largest_pn: Option<u64>, truncated: u32, len: usize) -> u64 {
    let len = len.clamp(1, 4);
    let expected = match largest_pn {
        None => 0,
        Some(l) => l.min(MAX_PN).saturating_add(1),
    };
    let win: u64 = 1 << (8 * len);
    let hwin = win / 2;
    let mask = win - 1;
    let candidate = (expected & !mask) | (u64::from(truncated) & mask);
    // `candidate + hwin <= expected` is `candidate <= expected - hwin` without underflow.
    if candidate.saturating_add(hwin) <= expected && candidate < (1u64 << 62) - win {
        candidate + win
    } else if (candidate > expected.saturating_add(hwin) || candidate > MAX_PN) && candidate >= win
    {
        // The second condition keeps results within 62 bits when `expected` is 2^62.
        candidate - win
    } else {
        candidate
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc9000_a3_decode_example() {
        assert_eq!(decode(Some(0xa82f30ea), 0x9b32, 2), 0xa82f9b32);
    }

    #[test]
    fn rfc9000_a2_encode_examples() {
        // 0xac5c02 with 0xabe8b3 acknowledged needs 16 bits ...
        assert_eq!(encoded_len(0xac5c02, Some(0xabe8b3)), 2);
        // ... and 0xace8fe needs 18 bits, so 3 bytes.
        assert_eq!(encoded_len(0xace8fe, Some(0xabe8b3)), 3);
        assert_eq!(truncate(0xac5c02, 2), 0x5c02);
        assert_eq!(truncate(0xace8fe, 3), 0xace8fe);
    }

    #[test]
    fn encode_edges() {
        assert_eq!(encoded_len(0, None), 1);
        assert_eq!(encoded_len(127, None), 1);
        assert_eq!(encoded_len(128, None), 2);
        assert_eq!(encoded_len(128, Some(0)), 1);
        assert_eq!(encoded_len(129, Some(0)), 2);
        assert_eq!(encoded_len(5, Some(10)), 1);
        assert_eq!(encoded_len(MAX_PN, None), 4);
        assert_eq!(encoded_len(u64::MAX, None), 4);
        let mut buf = [0u8; 4];
        let mut w = Writer::new(&mut buf);
        write(&mut w, 0x0102_0304_0506, 3).unwrap();
        assert_eq!(w.written(), &[0x04, 0x05, 0x06]);
        assert_eq!(write(&mut w, 1, 0), Err(CodecError::ValueTooLarge));
        assert_eq!(write(&mut w, 1, 5), Err(CodecError::ValueTooLarge));
        assert_eq!(read(&[1, 2, 3], 3), Some(0x010203));
        assert_eq!(read(&[1, 2, 3], 4), None);
        assert_eq!(read(&[1, 2, 3], 0), None);
    }

    #[test]
    fn decode_edges() {
        assert_eq!(decode(None, 0, 1), 0);
        assert_eq!(decode(None, 0xff, 1), 0xff);
        // Near the top of the space the candidate must not go past 2^62 - 1.
        assert_eq!(decode(Some(MAX_PN - 1), 0xff, 1), MAX_PN);
        assert_eq!(decode(Some(MAX_PN), 0x00, 1), MAX_PN - 0xff);
        assert_eq!(decode(Some(u64::MAX), 0xffff_ffff, 4), MAX_PN);
        for len in 1..=4 {
            for t in [0u32, 1, 0x7f, 0x80, 0xff, 0xffff, u32::MAX] {
                assert!(decode(Some(MAX_PN), t, len) <= MAX_PN);
                assert!(decode(Some(u64::MAX), t, len) <= MAX_PN);
            }
        }
    }

    proptest! {
        #[test]
        fn encode_then_decode(largest_acked in proptest::option::of(0..MAX_PN),
                              delta in 1u64..(1 << 31),
                              lag in any::<u64>()) {
            // The sender sends `pn` with `largest_acked` acknowledged ...
            let pn = match largest_acked {
                Some(la) => la + delta,
                None => delta - 1,
            };
            prop_assume!(pn <= MAX_PN);
            let len = encoded_len(pn, largest_acked);
            // ... and the receiver's largest received is anywhere in [largest_acked, pn - 1]
            // (or nothing at all when nothing was acknowledged).
            let largest_rx = match largest_acked {
                None if pn == 0 || lag % 2 == 0 => None,
                _ => {
                    let lo = largest_acked.unwrap_or(0);
                    Some(lo + lag % (pn - lo))
                }
            };
            prop_assert_eq!(decode(largest_rx, truncate(pn, len), len), pn);
        }

        #[test]
        fn decode_in_range(largest in proptest::option::of(any::<u64>()),
                           t in any::<u32>(), len in 0usize..6) {
            prop_assert!(decode(largest, t, len) <= MAX_PN);
        }
    }
}
