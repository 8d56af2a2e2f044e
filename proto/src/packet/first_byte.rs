//! Bits of the first byte of a packet (RFC 9000 §17.2 and §17.3).
//!
//! Header protection (RFC 9001 §5.4) masks the low 4 bits of a long header first byte and the
//! low 5 bits of a short header first byte; the helpers that read those bits are meant for the
//! first byte after header protection was removed.

/// Header form: set for long headers.
pub const FORM_BIT: u8 = 0x80;
/// The fixed bit ("QUIC bit"); 1 unless greased (RFC 9287).
pub const FIXED_BIT: u8 = 0x40;
/// Long header type bits.
pub const LONG_TYPE_MASK: u8 = 0x30;
/// Short header latency spin bit (not protected).
pub const SPIN_BIT: u8 = 0x20;
/// Long header reserved bits (protected).
pub const LONG_RESERVED_BITS: u8 = 0x0c;
/// Short header reserved bits (protected).
pub const SHORT_RESERVED_BITS: u8 = 0x18;
/// Short header key phase bit (protected).
pub const KEY_PHASE_BIT: u8 = 0x04;
/// Packet number length bits (protected): length - 1.
pub const PN_LEN_MASK: u8 = 0x03;
/// Bits covered by header protection in a long header.
pub const LONG_PROTECTED_BITS: u8 = 0x0f;
/// Bits covered by header protection in a short header.
pub const SHORT_PROTECTED_BITS: u8 = 0x1f;

/// True when the packet has a long header.
pub const fn is_long(first: u8) -> bool {
    first & FORM_BIT != 0
}

/// The bits that header protection covers for this header form.
pub const fn protected_bits(first: u8) -> u8 {
    if is_long(first) {
        LONG_PROTECTED_BITS
    } else {
        SHORT_PROTECTED_BITS
    }
}

/// Packet number length in bytes (1..=4), from an unprotected first byte.
pub const fn pn_len(first: u8) -> usize {
    (first & PN_LEN_MASK) as usize + 1
}

/// Key phase of a short header, from an unprotected first byte.
pub const fn key_phase(first: u8) -> bool {
    first & KEY_PHASE_BIT != 0
}

/// Spin bit of a short header (readable before header protection is removed).
pub const fn spin(first: u8) -> bool {
    first & SPIN_BIT != 0
}

/// True when the reserved bits of an unprotected first byte are zero. A packet that
/// decrypts with non-zero reserved bits is a PROTOCOL_VIOLATION (RFC 9000 §17.2, §17.3.1).
pub const fn reserved_bits_ok(first: u8) -> bool {
    let reserved = if is_long(first) {
        LONG_RESERVED_BITS
    } else {
        SHORT_RESERVED_BITS
    };
    first & reserved == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits() {
        // RFC 9001 Appendix A.2 unprotected client Initial first byte.
        assert!(is_long(0xc3));
        assert_eq!(pn_len(0xc3), 4);
        assert!(reserved_bits_ok(0xc3));
        assert!(!reserved_bits_ok(0xc7));
        assert_eq!(protected_bits(0xc3), 0x0f);
        // Short header: 0x41 = fixed bit, pn len 2.
        assert!(!is_long(0x41));
        assert_eq!(pn_len(0x41), 2);
        assert!(key_phase(0x45));
        assert!(spin(0x61));
        assert!(!reserved_bits_ok(0x49));
        assert_eq!(protected_bits(0x41), 0x1f);
    }
}
