//! One connection's TLS handshake, sans-IO.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::quic::{self, KeyChange};
use rustls::HandshakeKind;

use super::cache::parse_server_name;
use super::config::{Inner, Role, TlsConfig};
use super::error::TlsError;
use super::framer::MsgFramer;
use super::keylog::SecretSink;
use super::types::{Cipher, Level, QuicVersion, Secret};

/// The TLS 1.3 handshake of one QUIC connection, on rustls.
///
/// Feed it the CRYPTO bytes received at each level with [`TlsSession::feed`]; after every call
/// (and after construction) first install all secrets from [`TlsSession::poll_secret`], then
/// send all CRYPTO bytes from [`TlsSession::poll_output`] at the level each chunk names. Secrets
/// come in the order rustls derives them, and every secret needed to send a chunk is returned
/// before it. Initial secrets are not TLS's business: the QUIC layer derives them from the DCID.
pub struct TlsSession {
    conn: quic::Connection,
    role: Role,
    sink: Arc<SecretSink>,
    secrets: VecDeque<Secret>,
    output: VecDeque<(Level, Vec<u8>)>,
    /// Level of the CRYPTO bytes rustls writes next.
    send_level: Level,
    framers: [MsgFramer; 4],
    /// An early (0-RTT) secret was handed out and kept by the server.
    early: bool,
    error: Option<TlsError>,
}

impl TlsSession {
    /// Starts a handshake with `config`, sending `local_params` (the encoded
    /// quic_transport_parameters extension body, as `QUIC_SOCKOPT_TRANSPORT_PARAM_EXT` gives
    /// it). A client has its ClientHello (and 0-RTT secret, when resuming with early data)
    /// ready at once.
    pub fn new(
        config: &TlsConfig,
        version: QuicVersion,
        local_params: &[u8],
    ) -> Result<Self, TlsError> {
        Self::start(config, version, local_params, None)
    }

    /// Client: like [`TlsSession::new`], with a server name other than the config's.
    pub fn new_client(
        config: &TlsConfig,
        version: QuicVersion,
        local_params: &[u8],
        server_name: &str,
    ) -> Result<Self, TlsError> {
        if config.role() != Role::Client {
            return Err(TlsError::Config("server name given to a server".into()));
        }
        let name = parse_server_name(server_name)?;
        Self::start(config, version, local_params, Some(name))
    }

    fn start(
        config: &TlsConfig,
        version: QuicVersion,
        local_params: &[u8],
        name: Option<ServerName<'static>>,
    ) -> Result<Self, TlsError> {
        let sink = Arc::new(SecretSink::default());
        let params = local_params.to_vec();
        let conn: quic::Connection = match &config.inner {
            Inner::Client {
                cfg, server_name, ..
            } => {
                let name = name
                    .or_else(|| server_name.clone())
                    .unwrap_or_else(|| ServerName::from(IpAddr::V4(Ipv4Addr::UNSPECIFIED)));
                // A private copy whose key log is this connection's own: secrets of concurrent
                // connections cannot mix. It shares the verifier and session store.
                let mut c = (**cfg).clone();
                c.key_log = sink.clone();
                quic::ClientConnection::new(Arc::new(c), version.to_rustls(), name, params)
                    .map_err(|e| TlsError::Config(e.to_string()))?
                    .into()
            }
            Inner::Server { cfg } => {
                let mut c = (**cfg).clone();
                c.key_log = sink.clone();
                quic::ServerConnection::new(Arc::new(c), version.to_rustls(), params)
                    .map_err(|e| TlsError::Config(e.to_string()))?
                    .into()
            }
        };
        let mut s = Self {
            conn,
            role: config.role(),
            sink,
            secrets: VecDeque::new(),
            output: VecDeque::new(),
            send_level: Level::Initial,
            framers: [MsgFramer::default(); 4],
            early: false,
            error: None,
        };
        s.collect()?;
        Ok(s)
    }

    /// Consumes CRYPTO bytes received at `level`, in stream order. On error the handshake is
    /// over: close the connection with [`TlsError::error_code`]; later calls repeat the error.
    pub fn feed(&mut self, level: Level, data: &[u8]) -> Result<(), TlsError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if let Err(e) = self.framers[level.index()].check(self.role, level, data) {
            return Err(self.fail(e));
        }
        if let Err(e) = self.conn.read_hs(data) {
            let err = match self.conn.alert() {
                Some(a) => TlsError::alert(u8::from(a), e.to_string()),
                None => TlsError::internal(e.to_string()),
            };
            return Err(self.fail(err));
        }
        self.collect()
    }

    fn fail(&mut self, e: TlsError) -> TlsError {
        self.secrets.clear();
        self.output.clear();
        self.error = Some(e.clone());
        e
    }

    /// Moves what rustls produced into the secret and output queues.
    fn collect(&mut self) -> Result<(), TlsError> {
        let logged = self.sink.take();
        if !logged.is_empty() {
            let cipher = self
                .conn
                .negotiated_cipher_suite()
                .and_then(|s| Cipher::from_suite(s.suite()));
            for (kind, bytes) in logged {
                let Some(cipher) = cipher else {
                    return Err(self.fail(TlsError::internal("secret without a cipher suite")));
                };
                if kind.level == Level::Early {
                    // rustls derives the early secret whenever a PSK is used; it is live only
                    // when 0-RTT was offered (client) or accepted (server).
                    if self.conn.zero_rtt_keys().is_none() {
                        continue;
                    }
                    self.early = true;
                }
                let send = kind.client == (self.role == Role::Client);
                let secret = (bytes.len() == cipher.secret_len())
                    .then(|| Secret::new(kind.level, send, cipher, &bytes))
                    .flatten();
                match secret {
                    Some(s) => self.secrets.push_back(s),
                    None => return Err(self.fail(TlsError::internal("unexpected secret length"))),
                }
            }
        }
        loop {
            let mut buf = Vec::new();
            // Bytes written by a call that reports a key change still belong to the old level.
            let change = self.conn.write_hs(&mut buf);
            if !buf.is_empty() {
                match self.output.back_mut() {
                    Some((l, b)) if *l == self.send_level => b.extend_from_slice(&buf),
                    _ => self.output.push_back((self.send_level, buf)),
                }
            }
            match change {
                None => break,
                Some(KeyChange::Handshake { .. }) => self.send_level = Level::Handshake,
                Some(KeyChange::OneRtt { .. }) => self.send_level = Level::App,
            }
        }
        Ok(())
    }

    /// Next CRYPTO bytes to send, with their level. Consecutive bytes of one level come as one
    /// chunk.
    pub fn poll_output(&mut self) -> Option<(Level, Vec<u8>)> {
        self.output.pop_front()
    }

    /// Next traffic secret to install (`QUIC_SOCKOPT_CRYPTO_SECRET`).
    pub fn poll_secret(&mut self) -> Option<Secret> {
        self.secrets.pop_front()
    }

    /// Client or server.
    pub fn role(&self) -> Role {
        self.role
    }

    /// True until the handshake is complete (the client sent, the server verified, the client
    /// Finished). A client still takes NewSessionTickets at [`Level::App`] afterwards.
    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// The handshake error, once one happened.
    pub fn error(&self) -> Option<&TlsError> {
        self.error.as_ref()
    }

    /// The peer's quic_transport_parameters extension body. A client resuming with 0-RTT sees
    /// the remembered parameters until the server's arrive.
    pub fn peer_transport_params(&self) -> Option<&[u8]> {
        self.conn.quic_transport_parameters()
    }

    /// The negotiated application protocol.
    pub fn alpn(&self) -> Option<&[u8]> {
        self.conn.alpn_protocol()
    }

    /// The negotiated cipher (on a client offering 0-RTT: the resumed one, until the
    /// ServerHello).
    pub fn cipher(&self) -> Option<Cipher> {
        self.conn
            .negotiated_cipher_suite()
            .and_then(|s| Cipher::from_suite(s.suite()))
    }

    /// The handshake resumed an earlier session.
    pub fn is_resumed(&self) -> bool {
        self.conn.handshake_kind() == Some(HandshakeKind::Resumed)
    }

    /// Server: 0-RTT was accepted. Client: the server accepted our 0-RTT (known after its
    /// EncryptedExtensions).
    pub fn early_data_accepted(&self) -> bool {
        match &self.conn {
            quic::Connection::Client(c) => c.is_early_data_accepted(),
            quic::Connection::Server(_) => self.early,
        }
    }

    /// Client: an early (0-RTT) send secret was handed out, so 0-RTT may be sent now.
    pub fn early_data_offered(&self) -> bool {
        self.role == Role::Client && self.early
    }

    /// Server: the SNI the client sent.
    pub fn server_name(&self) -> Option<&str> {
        match &self.conn {
            quic::Connection::Server(s) => s.server_name(),
            quic::Connection::Client(_) => None,
        }
    }

    /// The peer's certificate chain, leaf first.
    pub fn peer_certificates(&self) -> Option<&[CertificateDer<'static>]> {
        self.conn.peer_certificates()
    }

    /// Client: NewSessionTickets received so far.
    pub fn tickets_received(&self) -> u32 {
        match &self.conn {
            quic::Connection::Client(c) => c.tls13_tickets_received(),
            quic::Connection::Server(_) => 0,
        }
    }

    /// RFC 5705 keying material exporter (after the handshake).
    pub fn export_keying_material(
        &self,
        out: &mut [u8],
        label: &[u8],
        context: Option<&[u8]>,
    ) -> Result<(), TlsError> {
        self.conn
            .export_keying_material(out, label, context)
            .map(|_| ())
            .map_err(|e| TlsError::Config(e.to_string()))
    }
}

impl std::fmt::Debug for TlsSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSession")
            .field("role", &self.role)
            .field("handshaking", &self.is_handshaking())
            .field("send_level", &self.send_level)
            .field("pending_secrets", &self.secrets.len())
            .field("pending_output", &self.output.len())
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_safety() {
        fn send<T: Send>() {}
        fn send_sync<T: Send + Sync>() {}
        send::<TlsSession>();
        send_sync::<TlsConfig>();
        send_sync::<super::super::SessionCache>();
        send_sync::<Secret>();
    }
}
