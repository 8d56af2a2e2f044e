//! TLS 1.3 for QUIC in userspace, on rustls: a sans-IO adapter between the CRYPTO streams the
//! kernel passes up (sendmsg/recvmsg with `QUIC_HANDSHAKE_INFO`) and the raw traffic secrets it
//! takes back (`QUIC_SOCKOPT_CRYPTO_SECRET`).
//!
//! Build a [`TlsConfig`] once, then run one [`TlsSession`] per connection. The same adapter
//! serves the userspace library on a kernel socket, the handshake daemon and in-process tests.
//!
//! rustls limits: no external PSK ([`TlsError::PskUnsupported`]); no TLS_AES_128_CCM_SHA256
//! ([`TlsError::CipherUnsupported`]); session tickets are in-process handles, not bytes
//! ([`SessionCache`]); 0-RTT only with stateful server resumption ([`ServerResumption`]).

mod cache;
mod config;
mod error;
mod framer;
mod keylog;
mod session;
mod types;

pub use cache::{SessionCache, SessionTicket, MAX_TICKETS_PER_SERVER};
pub use config::{
    parse_alpn, Role, ServerResumption, TlsConfig, TlsConfigBuilder, SYSTEM_CA_FILES,
};
pub use error::{
    TlsError, ALERT_INTERNAL_ERROR, ALERT_UNEXPECTED_MESSAGE, CRYPTO_ERROR_BASE, INTERNAL_ERROR,
    PROTOCOL_VIOLATION,
};
pub use session::TlsSession;
pub use types::*;
