//! kquic-agent: the userspace handshake daemon for in-kernel QUIC users.
//!
//! A kernel subsystem (SMB, NFS, a sample module) that wants a QUIC connection opens a kernel
//! QUIC socket and asks net/handshake for a TLS handshake (`tls_client_hello_x509()` and
//! friends). The kernel announces the request on the `handshake` generic netlink family's
//! `tlshd` multicast group; this agent answers with ACCEPT, receives the socket as a file
//! descriptor, runs the QUIC handshake on it with libquic (rustls), and answers DONE with the
//! status and the authenticated peer identity.
//!
//! - [`genl`]: the family's numbers and messages;
//! - [`nl`]: the netlink sockets (neli);
//! - [`agent`]: the READY → ACCEPT → handshake → DONE state machine;
//! - [`handshake`]: one handshake on a received socket ([`psk`]: PSK mode, through
//!   libquic's C library);
//! - [`config`], [`keys`], [`notify`]: configuration, keyrings, systemd readiness.

pub mod agent;
pub mod config;
pub mod genl;
pub mod handshake;
pub mod keys;
pub mod nl;
pub mod notify;
pub mod psk;
