//! A client and a server engine driven by fuzzer input over a simulated lossy, reordering,
//! duplicating and corrupting link; see `quic_sim::fuzz` (crate `quic-engine-tests`) for the
//! operations and the invariants checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| quic_sim::fuzz::run(data));
