//! Decodes fuzzer-chosen transport parameter extensions. Must never panic; every failure is
//! a TRANSPORT_PARAMETER_ERROR, and whatever decodes must be valid, re-encode to exactly
//! `encoded_len()` bytes and decode back equal.
//!
//! Input: `[ctl, extension body...]`; `ctl & 1` set: the server sent it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quic_proto::codec::Writer;
use quic_proto::crypto::Side;
use quic_proto::error::TransportError;
use quic_proto::transport_params::TransportParams;

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, body)) = data.split_first() else {
        return;
    };
    let side = if ctl & 1 == 0 {
        Side::Client
    } else {
        Side::Server
    };
    match TransportParams::decode(body, side) {
        Ok(tp) => {
            assert!(tp.validate().is_ok());
            assert!(tp.validate_for(side).is_ok());
            let mut buf = vec![0u8; tp.encoded_len()];
            let mut w = Writer::new(&mut buf);
            tp.encode(&mut w, side).expect("decoded parameters encode");
            assert_eq!(w.position(), buf.len());
            assert_eq!(TransportParams::decode(&buf, side), Ok(tp));
            // The ABI view is stable once narrowed (the two flags that stand for values the
            // struct does not carry are left to the connection by `from_uapi`).
            let abi = tp.to_uapi(true);
            let mut again = TransportParams::from_uapi(&abi).to_uapi(true);
            again.stateless_reset = abi.stateless_reset;
            again.disable_compatible_version = abi.disable_compatible_version;
            assert_eq!(again, abi);
        }
        Err(e) => assert_eq!(e.code, TransportError::TransportParameterError),
    }
});
