//! kquic userspace library.
//!
//! For now: [`tls`], the TLS 1.3 handshake adapter (rustls) that the C library
//! (`quic_client_handshake` and friends), the handshake daemon and the tests drive.

pub mod tls;
