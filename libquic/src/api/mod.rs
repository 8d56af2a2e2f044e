//! The Rust API over kernel QUIC sockets: [`QuicListener`] and [`QuicConnection`] (connect or
//! accept, with the TLS handshake done by this library), per-stream [`QuicStream`]s with
//! [`std::io::Read`]/[`std::io::Write`], datagrams, typed [`Event`]s and [`Options`] from
//! `quic-uapi`. The same over tokio is [`crate::tokio`] (feature `tokio`).
//!
//! TLS is configured with [`TlsConfig`] (its builder, or a ready [`rustls::ClientConfig`] /
//! [`rustls::ServerConfig`] through [`TlsConfig::from_rustls_client`] /
//! [`TlsConfig::from_rustls_server`]).
//!
//! ```no_run
//! use std::io::Read;
//! use quic::api::{Options, QuicConnection, TlsConfig};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let tls = TlsConfig::client().system_roots().server_name("example.org").alpn("echo").build()?;
//! let conn = QuicConnection::connect("192.0.2.1:4433".parse()?, &tls, &Options::new().alpn("echo"))?;
//! let mut s = conn.open_stream(false)?;
//! s.write_all_and_finish(b"hello")?;
//! let mut reply = Vec::new();
//! s.read_to_end(&mut reply)?;
//! # Ok(())
//! # }
//! ```

mod blocking;
pub(crate) mod demux;
mod event;
mod options;

pub use blocking::{QuicConnection, QuicListener, QuicStream};
pub use event::{Event, EventKind};
pub use options::Options;
pub use rustls;

pub use crate::ksock::HandshakeInfo;
pub use crate::tls::TlsConfig;
