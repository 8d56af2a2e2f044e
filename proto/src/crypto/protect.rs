//! Packet protection, RFC 9001 §5.3–5.4: AEAD over the payload, then header protection.
//!
//! Sending: the engine writes the header (with the Packet Number Length bits and room for the
//! packet number), the plaintext payload and [`TAG_LEN`] spare bytes, then calls
//! [`seal_packet`]. Receiving: the header parser finds `pn_offset` and the packet's end; the
//! engine calls [`unprotect_header`] (which yields the key phase, so the engine can pick the key
//! generation) and then [`open_payload`], or [`open_packet`] for both at once.

use core::ops::Range;

use super::hkdf::expand_label;
use super::limits::ConfidentialityCounter;
use super::zeroize::{zeroize, Secret, SecretBuf};
use super::{
    CipherSuite, Crypto, CryptoError, HeaderKey, Version, MASK_LEN, MAX_KEY_LEN, NONCE_LEN,
    SAMPLE_LEN, TAG_LEN,
};
use crate::crypto::AeadKey;

/// Largest packet number plus one (packet numbers are 62-bit).
const PN_LIMIT: u64 = 1 << 62;
/// Longest packet-number encoding; also the offset of the sample past `pn_offset`.
const MAX_PN_LEN: usize = 4;
/// Header form bit of the first byte: set for long headers.
const LONG_HEADER: u8 = 0x80;

/// The AEAD half of one direction's keys at one key phase: AEAD, IV and the secret they came
/// from (kept for key update). Counts the packets it seals against the confidentiality limit.
pub struct PacketKey<C: Crypto> {
    aead: C::Aead,
    iv: [u8; NONCE_LEN],
    suite: CipherSuite,
    version: Version,
    pub(super) secret: Secret,
    usage: ConfidentialityCounter,
}

/// Checks that `secret` has the suite's hash length and expands `label` from it into a key of
/// `len` bytes (wiped on drop).
fn derive_key<C: Crypto>(
    crypto: &C,
    suite: CipherSuite,
    secret: &[u8],
    label: &[u8],
    len: usize,
) -> Result<SecretBuf<MAX_KEY_LEN>, CryptoError> {
    let hash = suite.hash();
    if secret.len() != hash.output_len() {
        return Err(CryptoError::InvalidLength);
    }
    let mut key = SecretBuf::<MAX_KEY_LEN>::zeroed(len)?;
    expand_label(crypto, hash, secret, label, &[], key.as_mut_slice())?;
    Ok(key)
}

impl<C: Crypto> PacketKey<C> {
    /// Derives key and IV from a traffic `secret` (exactly `suite.hash().output_len()` bytes)
    /// with the labels of `version`, and sets up the AEAD.
    pub fn new(
        crypto: &C,
        suite: CipherSuite,
        version: Version,
        secret: &[u8],
    ) -> Result<Self, CryptoError> {
        let key = derive_key(crypto, suite, secret, version.key_label(), suite.key_len())?;
        let mut iv = [0u8; NONCE_LEN];
        expand_label(
            crypto,
            suite.hash(),
            secret,
            version.iv_label(),
            &[],
            &mut iv,
        )?;
        let aead = match crypto.new_aead(suite, key.as_slice()) {
            Ok(aead) => aead,
            Err(e) => {
                zeroize(&mut iv);
                return Err(e);
            }
        };
        Ok(Self {
            aead,
            iv,
            suite,
            version,
            secret: Secret::from_slice(secret)?,
            usage: ConfidentialityCounter::new(suite),
        })
    }

    /// The cipher suite.
    pub fn suite(&self) -> CipherSuite {
        self.suite
    }

    /// The QUIC version whose labels derived this key.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Packets sealed with this key so far, against the suite's confidentiality limit.
    pub fn usage(&self) -> &ConfidentialityCounter {
        &self.usage
    }

    /// Replaces the confidentiality counter (e.g. a lower local limit, or tests).
    pub fn set_usage(&mut self, usage: ConfidentialityCounter) {
        self.usage = usage;
    }

    /// The AEAD nonce of packet number `pn`: the IV XOR the left-zero-padded packet number.
    pub fn nonce(&self, pn: u64) -> [u8; NONCE_LEN] {
        let mut nonce = self.iv;
        for (n, p) in nonce.iter_mut().skip(NONCE_LEN - 8).zip(pn.to_be_bytes()) {
            *n ^= p;
        }
        nonce
    }

    /// Seals one payload: `buf` is the plaintext followed by [`TAG_LEN`] spare bytes, `header`
    /// the unprotected header (the AAD). Fails with `LimitReached` once the confidentiality
    /// limit is used up.
    pub fn seal_payload(
        &mut self,
        pn: u64,
        header: &[u8],
        buf: &mut [u8],
    ) -> Result<(), CryptoError> {
        if pn >= PN_LIMIT {
            return Err(CryptoError::Malformed);
        }
        if buf.len() < TAG_LEN {
            return Err(CryptoError::InvalidLength);
        }
        if !self.usage.can_seal() {
            return Err(CryptoError::LimitReached);
        }
        self.aead.seal(&self.nonce(pn), header, buf)?;
        self.usage.record()?;
        Ok(())
    }

    /// Opens one payload in place: `buf` is ciphertext plus tag, `header` the unprotected header.
    /// Returns the plaintext length (`buf.len() - TAG_LEN`).
    pub fn open_payload(
        &self,
        pn: u64,
        header: &[u8],
        buf: &mut [u8],
    ) -> Result<usize, CryptoError> {
        let expect = buf
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(CryptoError::Malformed)?;
        let n = self.aead.open(&self.nonce(pn), header, buf)?;
        if n != expect {
            return Err(CryptoError::Backend);
        }
        Ok(n)
    }
}

impl<C: Crypto> Drop for PacketKey<C> {
    fn drop(&mut self) {
        zeroize(&mut self.iv);
    }
}

impl<C: Crypto> core::fmt::Debug for PacketKey<C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PacketKey")
            .field("suite", &self.suite)
            .field("version", &self.version)
            .field("usage", &self.usage)
            .finish_non_exhaustive()
    }
}

/// The header-protection key of one direction; unchanged by key updates.
pub struct HeaderProtectionKey<C: Crypto> {
    hp: C::Hp,
    suite: CipherSuite,
}

impl<C: Crypto> HeaderProtectionKey<C> {
    /// Derives the header-protection key from a traffic `secret` with the labels of `version`.
    pub fn new(
        crypto: &C,
        suite: CipherSuite,
        version: Version,
        secret: &[u8],
    ) -> Result<Self, CryptoError> {
        let key = derive_key(
            crypto,
            suite,
            secret,
            version.hp_label(),
            suite.hp_key_len(),
        )?;
        let hp = crypto.new_hp(suite, key.as_slice())?;
        Ok(Self { hp, suite })
    }

    /// The cipher suite.
    pub fn suite(&self) -> CipherSuite {
        self.suite
    }

    /// The 5-byte mask for a 16-byte ciphertext sample.
    pub fn mask(&self, sample: &[u8; SAMPLE_LEN]) -> Result<[u8; MASK_LEN], CryptoError> {
        self.hp.mask(sample)
    }
}

impl<C: Crypto> core::fmt::Debug for HeaderProtectionKey<C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HeaderProtectionKey")
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

/// Both keys of one direction at one encryption level.
pub struct DirectionalKeys<C: Crypto> {
    /// AEAD key and IV (replaced on key update).
    pub packet: PacketKey<C>,
    /// Header-protection key (kept across key updates).
    pub header: HeaderProtectionKey<C>,
}

impl<C: Crypto> DirectionalKeys<C> {
    /// Derives key, IV and header-protection key from a traffic secret.
    pub fn new(
        crypto: &C,
        suite: CipherSuite,
        version: Version,
        secret: &[u8],
    ) -> Result<Self, CryptoError> {
        Ok(Self {
            packet: PacketKey::new(crypto, suite, version, secret)?,
            header: HeaderProtectionKey::new(crypto, suite, version, secret)?,
        })
    }

    /// [`seal_packet`] with these keys.
    pub fn seal_packet(
        &mut self,
        buf: &mut [u8],
        pn_offset: usize,
        pn: u64,
    ) -> Result<(), CryptoError> {
        seal_packet(&mut self.packet, &self.header, buf, pn_offset, pn)
    }

    /// [`open_packet`] with these keys.
    pub fn open_packet(
        &self,
        packet: &mut [u8],
        pn_offset: usize,
        largest_pn: Option<u64>,
    ) -> Result<OpenedPacket, CryptoError> {
        open_packet(&self.packet, &self.header, packet, pn_offset, largest_pn)
    }
}

impl<C: Crypto> core::fmt::Debug for DirectionalKeys<C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DirectionalKeys")
            .field("packet", &self.packet)
            .field("header", &self.header)
            .finish()
    }
}

/// The first-byte bits header protection covers: 4 for long headers, 5 for short headers.
fn first_byte_mask(first: u8) -> u8 {
    if first & LONG_HEADER != 0 {
        0x0f
    } else {
        0x1f
    }
}

/// XORs the mask over the first byte's protected bits and the `pn_len` packet-number bytes,
/// touching all four possible packet-number bytes so that timing does not depend on `pn_len`.
fn apply_pn_mask(packet: &mut [u8], pn_offset: usize, pn_len: usize, mask: &[u8; MASK_LEN]) {
    for (i, (b, m)) in packet
        .iter_mut()
        .skip(pn_offset)
        .take(MAX_PN_LEN)
        .zip(mask.iter().skip(1))
        .enumerate()
    {
        let keep = 0u8.wrapping_sub(u8::from(i < pn_len));
        *b ^= m & keep;
    }
}

/// Reads the 16-byte sample at `pn_offset + 4`, or `Malformed` if the packet is too short.
fn sample_at(packet: &[u8], pn_offset: usize) -> Result<[u8; SAMPLE_LEN], CryptoError> {
    let start = pn_offset
        .checked_add(MAX_PN_LEN)
        .ok_or(CryptoError::Malformed)?;
    let end = start
        .checked_add(SAMPLE_LEN)
        .ok_or(CryptoError::Malformed)?;
    let bytes = packet.get(start..end).ok_or(CryptoError::Malformed)?;
    <[u8; SAMPLE_LEN]>::try_from(bytes).map_err(|_| CryptoError::Malformed)
}

/// Protects one packet in place.
///
/// `buf` holds exactly the packet: the header, whose first byte carries the Packet Number
/// Length bits and whose packet number field (at `pn_offset`, `(buf[0] & 3) + 1` bytes) is
/// written here from `pn`; then the plaintext payload; then [`TAG_LEN`] spare bytes. The
/// payload is encrypted with the header as AAD, then header protection is applied.
///
/// The packet must be long enough to sample: `buf.len() >= pn_offset + 4 + 16` (pad the
/// payload otherwise); `Malformed` if not.
pub fn seal_packet<C: Crypto>(
    key: &mut PacketKey<C>,
    hp: &HeaderProtectionKey<C>,
    buf: &mut [u8],
    pn_offset: usize,
    pn: u64,
) -> Result<(), CryptoError> {
    let first = *buf.first().ok_or(CryptoError::Malformed)?;
    if pn_offset == 0 || pn >= PN_LIMIT {
        return Err(CryptoError::Malformed);
    }
    let pn_len = usize::from(first & 0x03) + 1;
    let header_len = pn_offset
        .checked_add(pn_len)
        .ok_or(CryptoError::Malformed)?;
    // Checks the sample fits, which also leaves room for the tag after the header.
    sample_at(buf, pn_offset)?;
    let pn_bytes = pn.to_be_bytes();
    let pn_field = buf
        .get_mut(pn_offset..header_len)
        .ok_or(CryptoError::Malformed)?;
    // The low `pn_len` bytes, big endian (a zip rather than copy_from_slice, whose length
    // check would be a panic path in the kernel build).
    let low = pn_bytes
        .get(pn_bytes.len().saturating_sub(pn_len)..)
        .ok_or(CryptoError::Malformed)?;
    for (d, s) in pn_field.iter_mut().zip(low) {
        *d = *s;
    }

    let (header, body) = crate::codec::split_mut(buf, header_len).ok_or(CryptoError::Malformed)?;
    key.seal_payload(pn, header, body)?;

    let mask = hp.mask(&sample_at(buf, pn_offset)?)?;
    if let Some(b) = buf.first_mut() {
        *b ^= mask[0] & first_byte_mask(first);
    }
    apply_pn_mask(buf, pn_offset, pn_len, &mask);
    Ok(())
}

/// What header-protection removal revealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnprotectedHeader {
    /// The full packet number, reconstructed against the largest one received (RFC 9000 A.3).
    pub packet_number: u64,
    /// Length of the packet number field (1..=4).
    pub pn_len: usize,
    /// Length of the header including the packet number: where the ciphertext starts.
    pub header_len: usize,
    /// Whether the packet has a long header.
    pub long_header: bool,
    /// The Key Phase bit (short header only; `false` for long headers).
    pub key_phase: bool,
    /// The Reserved Bits as they appear in the first byte (0x0c long, 0x18 short). Non-zero
    /// means PROTOCOL_VIOLATION, but only once the payload has been authenticated.
    pub reserved_bits: u8,
}

/// Removes header protection in place and recovers the packet number.
///
/// `packet` is exactly one packet (the header parser gives its end), `pn_offset` where its
/// packet number starts, `largest_pn` the largest packet number successfully processed in its
/// number space (`None` before any). Fails with `Malformed` when the packet is too short to
/// sample; never panics.
pub fn unprotect_header<C: Crypto>(
    hp: &HeaderProtectionKey<C>,
    packet: &mut [u8],
    pn_offset: usize,
    largest_pn: Option<u64>,
) -> Result<UnprotectedHeader, CryptoError> {
    if pn_offset == 0 {
        return Err(CryptoError::Malformed);
    }
    let sample = sample_at(packet, pn_offset)?;
    let mask = hp.mask(&sample)?;
    let first_byte = packet.first_mut().ok_or(CryptoError::Malformed)?;
    *first_byte ^= mask[0] & first_byte_mask(*first_byte);
    let pn_len = usize::from(*first_byte & 0x03) + 1;
    apply_pn_mask(packet, pn_offset, pn_len, &mask);
    read_header(packet, pn_offset, largest_pn)
}

/// Reads the packet number and the first byte's bits of a packet without header protection
/// (already removed, or a 1-RTT packet of a connection that negotiated
/// disable_1rtt_encryption).
pub fn read_header(
    packet: &[u8],
    pn_offset: usize,
    largest_pn: Option<u64>,
) -> Result<UnprotectedHeader, CryptoError> {
    let first = *packet.first().ok_or(CryptoError::Malformed)?;
    if pn_offset == 0 {
        return Err(CryptoError::Malformed);
    }
    let long_header = first & LONG_HEADER != 0;
    let pn_len = usize::from(first & 0x03) + 1;
    let field = packet
        .get(pn_offset..pn_offset.saturating_add(pn_len))
        .ok_or(CryptoError::Malformed)?;
    let truncated = field.iter().fold(0u32, |acc, b| acc << 8 | u32::from(*b));
    let packet_number = crate::packet::number::decode(largest_pn, truncated, pn_len);

    let (key_phase, reserved_bits) = if long_header {
        (false, first & 0x0c)
    } else {
        (first & 0x04 != 0, first & 0x18)
    };
    Ok(UnprotectedHeader {
        packet_number,
        pn_len,
        header_len: pn_offset + pn_len,
        long_header,
        key_phase,
        reserved_bits,
    })
}

/// Decrypts the payload of a packet whose header protection [`unprotect_header`] removed, in
/// place, and returns the plaintext range within `packet`.
///
/// On `Authentication` failure the payload bytes are unspecified (count the failure against
/// the [`IntegrityCounter`](super::IntegrityCounter)).
pub fn open_payload<C: Crypto>(
    key: &PacketKey<C>,
    packet: &mut [u8],
    header: &UnprotectedHeader,
) -> Result<Range<usize>, CryptoError> {
    let (aad, body) =
        crate::codec::split_mut(packet, header.header_len).ok_or(CryptoError::Malformed)?;
    let n = key.open_payload(header.packet_number, aad, body)?;
    Ok(header.header_len..header.header_len + n)
}

/// A packet [`open_packet`] authenticated and decrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedPacket {
    /// Packet number, key phase and reserved bits.
    pub header: UnprotectedHeader,
    /// Where the plaintext payload lies in the packet buffer.
    pub payload: Range<usize>,
}

/// [`unprotect_header`] then [`open_payload`] with one key: Initial, Handshake, 0-RTT, or 1-RTT
/// when the engine does not need to choose a key generation by key phase.
pub fn open_packet<C: Crypto>(
    key: &PacketKey<C>,
    hp: &HeaderProtectionKey<C>,
    packet: &mut [u8],
    pn_offset: usize,
    largest_pn: Option<u64>,
) -> Result<OpenedPacket, CryptoError> {
    let header = unprotect_header(hp, packet, pn_offset, largest_pn)?;
    let payload = open_payload(key, packet, &header)?;
    Ok(OpenedPacket { header, payload })
}
