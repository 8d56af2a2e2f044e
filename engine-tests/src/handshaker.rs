//! The TLS side of a simulated host, behind one trait: the real rustls adapter or the fake
//! handshake of [`crate::fake_tls`].

use quic_proto::conn::Level;

/// A traffic secret TLS hands to the connection.
#[derive(Debug, Clone)]
pub struct SecretOut {
    /// Its level.
    pub level: Level,
    /// It protects what this endpoint sends.
    pub send: bool,
    /// `TLS_CIPHER_*` number.
    pub cipher: u32,
    /// The secret.
    pub secret: Vec<u8>,
}

/// What a host's TLS stack does, in the terms the kernel exchanges with userspace.
pub trait Handshaker {
    /// CRYPTO bytes received at `level`; `Err` carries the TLS alert that ends the handshake.
    fn feed(&mut self, level: Level, data: &[u8]) -> Result<(), u8>;
    /// The next secret to install.
    fn poll_secret(&mut self) -> Option<SecretOut>;
    /// The next CRYPTO bytes to send.
    fn poll_output(&mut self) -> Option<(Level, Vec<u8>)>;
    /// True until the handshake is complete.
    fn is_handshaking(&self) -> bool;
    /// True once the handshake failed.
    fn failed(&self) -> bool;
    /// The peer's quic_transport_parameters extension body.
    fn peer_transport_params(&self) -> Option<Vec<u8>>;
    /// Client: 0-RTT was offered.
    fn early_data_offered(&self) -> bool {
        false
    }
    /// 0-RTT was accepted.
    fn early_data_accepted(&self) -> bool {
        false
    }
    /// Client: NewSessionTickets received.
    fn tickets_received(&self) -> u32 {
        0
    }
    /// The 1-RTT secret one side sends with (`client_side`), where the stack can tell (the
    /// fake handshake): lets tests forge authentic packets.
    fn app_secret(&self, client_side: bool) -> Option<Vec<u8>> {
        let _ = client_side;
        None
    }
}

/// Which TLS stack the hosts of a simulation run.
#[derive(Clone)]
pub enum TlsSetup {
    /// rustls, with these client and server configurations.
    #[cfg(feature = "rustls")]
    Rustls {
        /// Client configuration.
        client: quic::tls::TlsConfig,
        /// Server configuration.
        server: quic::tls::TlsConfig,
    },
    /// The fake handshake.
    Fake,
}

impl TlsSetup {
    /// A handshake for a new connection of `version` sending transport parameters `tp`.
    pub fn start(&self, client: bool, version: u32, tp: &[u8], seed: u64) -> Box<dyn Handshaker> {
        let _ = version;
        match self {
            #[cfg(feature = "rustls")]
            Self::Rustls {
                client: c,
                server: s,
            } => {
                let cfg = if client { c } else { s };
                let v = quic::tls::QuicVersion::from_wire(version).expect("version");
                Box::new(quic::tls::TlsSession::new(cfg, v, tp).expect("TLS session"))
            }
            Self::Fake => Box::new(crate::fake_tls::FakeTls::new(client, tp, seed)),
        }
    }
}

#[cfg(feature = "rustls")]
mod rustls_impl {
    use super::*;
    use quic::tls::{Level as TlsLevel, TlsSession};

    fn to_tls(l: Level) -> TlsLevel {
        TlsLevel::from_u8(l.abi()).expect("level")
    }

    fn from_tls(l: TlsLevel) -> Level {
        Level::from_abi(l.as_u8()).expect("level")
    }

    impl Handshaker for TlsSession {
        fn feed(&mut self, level: Level, data: &[u8]) -> Result<(), u8> {
            TlsSession::feed(self, to_tls(level), data).map_err(|e| e.tls_alert().unwrap_or(80))
        }
        fn poll_secret(&mut self) -> Option<SecretOut> {
            let s = TlsSession::poll_secret(self)?;
            Some(SecretOut {
                level: from_tls(s.level),
                send: s.send,
                cipher: s.cipher_type(),
                secret: s.secret().to_vec(),
            })
        }
        fn poll_output(&mut self) -> Option<(Level, Vec<u8>)> {
            TlsSession::poll_output(self).map(|(l, d)| (from_tls(l), d))
        }
        fn is_handshaking(&self) -> bool {
            TlsSession::is_handshaking(self)
        }
        fn failed(&self) -> bool {
            self.error().is_some()
        }
        fn peer_transport_params(&self) -> Option<Vec<u8>> {
            TlsSession::peer_transport_params(self).map(|p| p.to_vec())
        }
        fn early_data_offered(&self) -> bool {
            TlsSession::early_data_offered(self)
        }
        fn early_data_accepted(&self) -> bool {
            TlsSession::early_data_accepted(self)
        }
        fn tickets_received(&self) -> u32 {
            TlsSession::tickets_received(self)
        }
    }
}
