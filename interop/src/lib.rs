//! kquic against stacks nobody here wrote.
//!
//! - [`workload`]: the application protocol all interop peers speak (hash-checked streams,
//!   echoed datagrams);
//! - [`relay`]: a deterministic UDP impairment relay on loopback (loss, reordering,
//!   duplication, corruption, NAT rebinding);
//! - [`certs`]: test certificates made at run time;
//! - [`nullcrypto`]: a do-nothing packet protection backend, for benchmarks only.
//!
//! The binaries: `kquic-peer` (our engine over UDP), `kquic-relay`, `kquic-bench`.

pub mod certs;
pub mod mempair;
pub mod nullcrypto;
pub mod peer;
pub mod relay;
pub mod workload;
