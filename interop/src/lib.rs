//! kquic against stacks nobody here wrote.
//!
//! - [`workload`]: the application protocol all interop peers speak (hash-checked streams,
//!   echoed datagrams);
//! - [`relay`]: a deterministic UDP impairment relay on loopback (loss, reordering,
//!   duplication, corruption, NAT rebinding);
//! - [`certs`]: test certificates made at run time;
//! - [`cli`]: the option parsing of `quinn-peer` and `kquic-ko-peer`;
//! - [`quinn_peer`]: quinn's client and server for the interop protocol;
//! - [`nullcrypto`]: a do-nothing packet protection backend, for benchmarks only.
//!
//! The binaries: `kquic-peer` (our engine over UDP), `kquic-relay`, `kquic-bench`,
//! `quinn-peer` (quinn's side as a program) and `kquic-ko-peer` (the protocol over `quic.ko`'s
//! `IPPROTO_QUIC` sockets, for the VM).

pub mod certs;
pub mod cli;
pub mod mempair;
pub mod nullcrypto;
pub mod peer;
pub mod quinn_peer;
pub mod relay;
pub mod workload;
