//! quinn client and server speaking the interop protocol: they live in the library
//! (`quic_interop::quinn_peer`) so that the `quinn-peer` binary can run them too.
// Not every test binary that includes `common` uses them.
#![allow(unused_imports)]

pub use quic_interop::quinn_peer::*;
pub use quic_interop::workload::Job;
