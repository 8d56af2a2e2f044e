//! A deterministic simulation of two kquic connection engines talking over a simulated link,
//! with a simulated clock: the test bed of the engine (`quic_proto::conn`).
//!
//! - [`rng`]: a seeded RNG for the engines and the link;
//! - [`pki`]: a throw-away certificate authority for rustls (feature `rustls`);
//! - [`handshaker`] and [`fake_tls`]: the TLS side of a host, rustls or a fake handshake;
//! - [`link`]: one direction of the network: delay, jitter (reordering), loss, duplication,
//!   corruption, MTU, rate limit, all drawn from the seed;
//! - [`sim`]: client and server hosts, each a connection plus its TLS session, driven exactly
//!   as the kernel glue will drive them; the server side also runs the endpoint logic
//!   (accept, Retry, Version Negotiation, stateless reset).

pub mod fake_tls;
pub mod fuzz;
pub mod handshaker;
pub mod link;
#[cfg(feature = "rustls")]
pub mod pki;
pub mod rng;
pub mod sim;

pub use handshaker::{Handshaker, TlsSetup};
pub use link::LinkParams;
pub use rng::SimRng;
pub use sim::{Host, Setup, Sim, Who, CLIENT_ADDR, SERVER_ADDR};
