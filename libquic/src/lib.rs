//! kquic userspace library.
//!
//! - [`tls`]: the TLS 1.3 handshake adapter (rustls) that the C library
//!   (`quic_client_handshake` and friends), the handshake daemon and the tests drive;
//! - [`ksock`]: an `IPPROTO_QUIC` kernel socket (stream cmsgs, socket options) and the
//!   userspace handshake that runs [`tls`] over it;
//! - [`api`]: the Rust API over kernel sockets (listener, connection, streams, datagrams,
//!   events); with the `tokio` feature, [`tokio`](mod@crate::tokio) has the same over tokio.

pub mod api;
pub mod ksock;
pub mod tls;
#[cfg(feature = "tokio")]
pub mod tokio;
