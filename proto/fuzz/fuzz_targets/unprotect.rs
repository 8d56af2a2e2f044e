//! Opens fuzzer-chosen packets with keys from fuzzer-chosen secrets; seals fuzzer-chosen
//! plaintexts and opens them back. Must never panic; whatever opens must re-seal to the same
//! bytes.
//!
//! Input: `[suite, flags, largest_pn (8, BE), pn_offset, secret (48), packet...]`.
//! `flags & 1`: treat `packet` as a plaintext to seal first (exercises the success path);
//! `flags & 2`: QUIC v2 labels; `flags & 4`: pass `largest_pn`, else `None`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quic_hostcrypto::HostCrypto;
use quic_proto::crypto::{CipherSuite, DirectionalKeys, Version};

const HEAD: usize = 1 + 1 + 8 + 1 + 48;

fuzz_target!(|data: &[u8]| {
    let Some((head, packet)) = data.split_at_checked(HEAD) else {
        return;
    };
    let suite = CipherSuite::ALL[usize::from(head[0] & 3)];
    let flags = head[1];
    let largest = u64::from_be_bytes(head[2..10].try_into().unwrap());
    let largest = (flags & 4 != 0).then_some(largest);
    let pn_offset = usize::from(head[10] % 64);
    let secret = &head[11..11 + suite.hash().output_len()];
    let version = if flags & 2 != 0 {
        Version::V2
    } else {
        Version::V1
    };
    let mut keys = DirectionalKeys::new(&HostCrypto, suite, version, secret).expect("key setup");

    let mut buf = packet.to_vec();
    if flags & 1 != 0 {
        // Seal the input as an unprotected packet; then it must open to the same plaintext.
        let plain = buf.clone();
        let pn = largest.unwrap_or(0) & ((1 << 62) - 1);
        if keys.seal_packet(&mut buf, pn_offset, pn).is_err() {
            assert!(
                buf.is_empty() || pn_offset == 0 || buf.len() < pn_offset + 20,
                "seal refused a packet that can be sampled"
            );
            return;
        }
        let sealed = buf.clone();
        let pn_len = usize::from(plain[0] & 3) + 1;
        let opened = keys
            .open_packet(&mut buf, pn_offset, pn.checked_sub(1))
            .expect("own packet opens");
        assert_eq!(opened.header.packet_number, pn);
        assert_eq!(opened.header.pn_len, pn_len);
        assert_eq!(
            &buf[opened.payload.clone()],
            &plain[pn_offset + pn_len..plain.len() - 16]
        );
        keys.seal_packet(&mut buf, pn_offset, pn).expect("re-seal");
        assert_eq!(buf, sealed);
        return;
    }
    let original = buf.clone();
    if let Ok(opened) = keys.open_packet(&mut buf, pn_offset, largest) {
        assert!(opened.payload.end + 16 == buf.len());
        keys.seal_packet(&mut buf, pn_offset, opened.header.packet_number)
            .expect("re-seal");
        assert_eq!(buf, original);
    }
});
