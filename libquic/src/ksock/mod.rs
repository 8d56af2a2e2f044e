//! Kernel QUIC sockets (`IPPROTO_QUIC`) from Rust: the socket itself ([`Socket`]: bind,
//! connect, listen, accept, `SOL_QUIC` options, stream sendmsg/recvmsg with `QUIC_STREAM_INFO`)
//! and the userspace TLS handshake that brings a connection up ([`client_handshake`],
//! [`server_handshake`]), driving [`crate::tls::TlsSession`] over the socket.
//!
//! ```no_run
//! use quic::ksock::{client_handshake, SockType, Socket};
//! use quic::tls::TlsConfig;
//! use quic_uapi::{MSG_QUIC_STREAM_FIN, MSG_QUIC_STREAM_NEW};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let addr = "127.0.0.1:4433".parse()?;
//! let sock = Socket::for_addr(&addr, SockType::Stream)?;
//! sock.set_alpn("sample")?;
//! sock.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
//! sock.connect(&addr)?;
//! let tls = TlsConfig::client().system_roots().server_name("example.org").alpn("sample").build()?;
//! client_handshake(&sock, &tls, None)?;
//! sock.send(b"hello", -1, MSG_QUIC_STREAM_NEW | MSG_QUIC_STREAM_FIN)?;
//! let mut buf = [0u8; 1024];
//! let r = sock.recv(&mut buf)?;
//! println!("stream {}: {:?}", r.stream_id, &buf[..r.len]);
//! # Ok(())
//! # }
//! ```

pub mod cmsg;
mod handshake;
mod socket;

pub use handshake::{client_handshake, server_handshake, Error, HandshakeInfo};
pub use socket::{Family, Recv, SockType, Socket};
