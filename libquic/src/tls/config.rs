//! Handshake configuration: a builder producing the rustls client or server config.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, Resumption};
use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::{NoServerSessionStorage, ServerSessionMemoryCache, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};

use super::cache::{parse_server_name, SessionCache};
use super::error::TlsError;
use super::types::Cipher;

/// Which end of the handshake this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Sends the ClientHello.
    Client,
    /// Answers it.
    Server,
}

/// How a server lets clients resume.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerResumption {
    /// No tickets are issued.
    Disabled,
    /// Self-encrypted tickets (`rustls::crypto::ring::Ticketer`, a random key per config).
    /// rustls never accepts 0-RTT with these (RFC 8446 section 8.1 anti-replay), so
    /// [`TlsConfigBuilder::early_data`] requires [`ServerResumption::Stateful`].
    Stateless,
    /// Tickets name sessions kept in a server-side cache of `capacity` entries; each is usable
    /// once. Allows 0-RTT.
    Stateful {
        /// Sessions kept.
        capacity: usize,
    },
}

/// Files searched by [`TlsConfigBuilder::system_roots`] (first one that exists), after the
/// `SSL_CERT_FILE` environment variable.
pub const SYSTEM_CA_FILES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// Parses a comma separated ALPN list as the socket API's `QUIC_SOCKOPT_ALPN` takes it
/// (`"smbd,h3"`; blanks around names are ignored). Empty input gives an empty list.
pub fn parse_alpn(list: &str) -> Result<Vec<Vec<u8>>, TlsError> {
    if list.trim().is_empty() {
        return Ok(Vec::new());
    }
    list.split(',')
        .map(|p| {
            let p = p.trim();
            if p.is_empty() || p.len() > 255 {
                Err(TlsError::Config(format!("bad ALPN list {list:?}")))
            } else {
                Ok(p.as_bytes().to_vec())
            }
        })
        .collect()
}

enum Verify {
    /// Verify against these roots (WebPKI, with the server name).
    Roots(Vec<CertificateDer<'static>>),
    Custom(Arc<dyn ServerCertVerifier>),
    Insecure,
}

/// How a server authenticates clients by certificate (mutual TLS).
struct ClientAuth {
    /// The CAs a client certificate must chain to.
    roots: Vec<CertificateDer<'static>>,
    /// Clients without a certificate are let in too (a certificate sent is still verified).
    optional: bool,
}

/// Builds a [`TlsConfig`]. Errors of setters that read files are kept and reported by
/// [`TlsConfigBuilder::build`].
pub struct TlsConfigBuilder {
    role: Role,
    alpn: Vec<Vec<u8>>,
    server_name: Option<String>,
    verify: Option<Verify>,
    cert_chain: Vec<CertificateDer<'static>>,
    key: Option<PrivateKeyDer<'static>>,
    client_auth: Option<ClientAuth>,
    psk: bool,
    ciphers: Option<Vec<Cipher>>,
    session_cache: Option<SessionCache>,
    early_data: bool,
    server_resumption: ServerResumption,
    tickets: usize,
    error: Option<TlsError>,
}

fn pem_err(what: &str, path: Option<&Path>, e: impl fmt::Display) -> TlsError {
    match path {
        Some(p) => TlsError::Pem(format!("{what} {}: {e}", p.display())),
        None => TlsError::Pem(format!("{what}: {e}")),
    }
}

/// A file's error: [`TlsError::File`] when it could not be opened or read, else a PEM error.
fn file_err(what: &str, path: &Path, e: pem::Error) -> TlsError {
    match e {
        pem::Error::Io(io) => TlsError::file(what, path, &io),
        e => pem_err(what, Some(path), e),
    }
}

/// All certificates of a PEM file (at least one).
fn read_certs(what: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let v = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| file_err(what, path, e))?;
    if v.is_empty() {
        return Err(pem_err("no certificate in", Some(path), "empty"));
    }
    Ok(v)
}

/// The system's CA bundle: `SSL_CERT_FILE`, else the first of [`SYSTEM_CA_FILES`] that exists.
fn system_ca_file() -> Option<PathBuf> {
    std::env::var_os("SSL_CERT_FILE")
        .map(PathBuf::from)
        .or_else(|| {
            SYSTEM_CA_FILES
                .iter()
                .map(PathBuf::from)
                .find(|p| p.is_file())
        })
}

impl TlsConfigBuilder {
    fn new(role: Role) -> Self {
        Self {
            role,
            alpn: Vec::new(),
            server_name: None,
            verify: None,
            cert_chain: Vec::new(),
            key: None,
            client_auth: None,
            psk: false,
            ciphers: None,
            session_cache: (role == Role::Client).then(SessionCache::default),
            early_data: false,
            server_resumption: ServerResumption::Stateful { capacity: 256 },
            tickets: 2,
            error: None,
        }
    }

    fn fail(&mut self, e: TlsError) {
        self.error.get_or_insert(e);
    }

    /// ALPN protocols from a comma separated list (`"smbd,h3"`), in preference order.
    pub fn alpn(mut self, list: &str) -> Self {
        match parse_alpn(list) {
            Ok(v) => self.alpn = v,
            Err(e) => self.fail(e),
        }
        self
    }

    /// ALPN protocols, in preference order.
    pub fn alpn_protocols<I, P>(mut self, protos: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<[u8]>,
    {
        self.alpn = protos.into_iter().map(|p| p.as_ref().to_vec()).collect();
        self
    }

    /// Client: the server's name, sent as SNI and checked against its certificate.
    pub fn server_name(mut self, name: &str) -> Self {
        self.server_name = Some(name.to_owned());
        self
    }

    fn add_roots(&mut self, certs: Vec<CertificateDer<'static>>) {
        match &mut self.verify {
            Some(Verify::Roots(r)) => r.extend(certs),
            _ => self.verify = Some(Verify::Roots(certs)),
        }
    }

    /// Client: trust the CA certificates of a PEM file (may be called more than once). A file
    /// that cannot be read fails [`build`](Self::build) with [`TlsError::File`].
    pub fn ca_file(mut self, path: impl AsRef<Path>) -> Self {
        match read_certs("CA file", path.as_ref()) {
            Ok(v) => self.add_roots(v),
            Err(e) => self.fail(e),
        }
        self
    }

    /// Client: trust the CA certificates of PEM text.
    pub fn ca_pem(mut self, pem: &[u8]) -> Self {
        match CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>() {
            Ok(v) if v.is_empty() => self.fail(pem_err("CA PEM", None, "no certificate")),
            Ok(v) => self.add_roots(v),
            Err(e) => self.fail(pem_err("CA PEM", None, e)),
        }
        self
    }

    /// Client: trust a DER CA certificate.
    pub fn ca_der(mut self, cert: CertificateDer<'static>) -> Self {
        self.add_roots(vec![cert]);
        self
    }

    /// Client: trust the system's CA bundle (`SSL_CERT_FILE`, else the first of
    /// [`SYSTEM_CA_FILES`] that exists).
    pub fn system_roots(self) -> Self {
        match system_ca_file() {
            Some(p) => self.ca_file(p),
            None => {
                let mut s = self;
                s.fail(TlsError::Pem("no system CA bundle found".into()));
                s
            }
        }
    }

    /// Client: verify the server with a custom rustls verifier.
    pub fn verifier(mut self, verifier: Arc<dyn ServerCertVerifier>) -> Self {
        self.verify = Some(Verify::Custom(verifier));
        self
    }

    /// Client: accept any server certificate (handshake signatures are still checked).
    /// For tests only: it gives no authentication at all.
    pub fn dangerous_no_verify(mut self) -> Self {
        self.verify = Some(Verify::Insecure);
        self
    }

    /// Server: the certificate chain (leaf first) from a PEM file. Client: its certificate for
    /// servers that ask for one (mutual TLS; with [`key_file`](Self::key_file)).
    pub fn cert_file(mut self, path: impl AsRef<Path>) -> Self {
        let path = path.as_ref();
        match CertificateDer::pem_file_iter(path).and_then(|it| it.collect::<Result<Vec<_>, _>>()) {
            Ok(v) => self.cert_chain = v,
            Err(e) => self.fail(file_err("certificate file", path, e)),
        }
        self
    }

    /// Server: the certificate chain (leaf first) from PEM text (client: its own, as
    /// [`cert_file`](Self::cert_file)).
    pub fn cert_pem(mut self, pem: &[u8]) -> Self {
        match CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>() {
            Ok(v) => self.cert_chain = v,
            Err(e) => self.fail(pem_err("certificate PEM", None, e)),
        }
        self
    }

    /// Server (or client, for mutual TLS): the certificate chain (leaf first), DER.
    pub fn cert_der(mut self, chain: Vec<CertificateDer<'static>>) -> Self {
        self.cert_chain = chain;
        self
    }

    /// Server (or client, for mutual TLS): the private key (PKCS#8, PKCS#1 or SEC1) from a
    /// PEM file. RSA and ECDSA keys both work.
    pub fn key_file(mut self, path: impl AsRef<Path>) -> Self {
        let path = path.as_ref();
        match PrivateKeyDer::from_pem_file(path) {
            Ok(k) => self.key = Some(k),
            Err(e) => self.fail(file_err("key file", path, e)),
        }
        self
    }

    /// Server (or client, for mutual TLS): the private key from PEM text.
    pub fn key_pem(mut self, pem: &[u8]) -> Self {
        match PrivateKeyDer::from_pem_slice(pem) {
            Ok(k) => self.key = Some(k),
            Err(e) => self.fail(pem_err("key PEM", None, e)),
        }
        self
    }

    /// Server (or client, for mutual TLS): the private key, DER.
    pub fn key_der(mut self, key: PrivateKeyDer<'static>) -> Self {
        self.key = Some(key);
        self
    }

    fn add_client_roots(&mut self, certs: Vec<CertificateDer<'static>>) {
        match &mut self.client_auth {
            Some(a) => a.roots.extend(certs),
            None => {
                self.client_auth = Some(ClientAuth {
                    roots: certs,
                    optional: false,
                })
            }
        }
    }

    /// Server: require a client certificate that chains to a CA of this PEM file (mutual TLS;
    /// may be called more than once). A client without one fails the handshake with the TLS
    /// alert certificate_required (CONNECTION_CLOSE `0x100 + 116`).
    pub fn client_auth_ca_file(mut self, path: impl AsRef<Path>) -> Self {
        match read_certs("client CA file", path.as_ref()) {
            Ok(v) => self.add_client_roots(v),
            Err(e) => self.fail(e),
        }
        self
    }

    /// Server: as [`client_auth_ca_file`](Self::client_auth_ca_file), from PEM text.
    pub fn client_auth_ca_pem(mut self, pem: &[u8]) -> Self {
        match CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>() {
            Ok(v) if v.is_empty() => self.fail(pem_err("client CA PEM", None, "no certificate")),
            Ok(v) => self.add_client_roots(v),
            Err(e) => self.fail(pem_err("client CA PEM", None, e)),
        }
        self
    }

    /// Server: as [`client_auth_ca_file`](Self::client_auth_ca_file), one DER CA certificate.
    pub fn client_auth_ca_der(mut self, cert: CertificateDer<'static>) -> Self {
        self.add_client_roots(vec![cert]);
        self
    }

    /// Server: client certificates chaining to the system's CA bundle (`SSL_CERT_FILE`, else
    /// the first of [`SYSTEM_CA_FILES`]).
    pub fn client_auth_system_roots(self) -> Self {
        match system_ca_file() {
            Some(p) => self.client_auth_ca_file(p),
            None => {
                let mut s = self;
                s.fail(TlsError::Pem("no system CA bundle found".into()));
                s
            }
        }
    }

    /// Server, with a client CA set: also let clients in that send no certificate (one that
    /// is sent must still verify). Default: a certificate is required.
    pub fn client_auth_optional(mut self, optional: bool) -> Self {
        if let Some(a) = &mut self.client_auth {
            a.optional = optional;
        }
        self
    }

    /// Pre-shared-key mode (the socket API's `pkey_file` on a client). rustls has no external
    /// PSK support: [`TlsConfigBuilder::build`] then fails with [`TlsError::PskUnsupported`].
    pub fn psk_file(mut self, _path: impl AsRef<Path>) -> Self {
        self.psk = true;
        self
    }

    /// Restrict the TLS 1.3 suites offered/accepted to these, in preference order
    /// (e.g. `&[Cipher::Chacha20Poly1305]`). Default: AES-256-GCM, AES-128-GCM, ChaCha20.
    pub fn ciphers(mut self, ciphers: &[Cipher]) -> Self {
        self.ciphers = Some(ciphers.to_vec());
        self
    }

    /// Client: keep session tickets in `cache` (share it to resume across configs).
    /// By default each client config has its own cache.
    pub fn session_cache(mut self, cache: SessionCache) -> Self {
        self.session_cache = Some(cache);
        self
    }

    /// Client: neither store nor use session tickets.
    pub fn no_session_cache(mut self) -> Self {
        self.session_cache = None;
        self
    }

    /// Client: send 0-RTT when resuming. Server: accept 0-RTT (advertised in tickets with
    /// max_early_data_size 0xffffffff, as QUIC requires).
    pub fn early_data(mut self, on: bool) -> Self {
        self.early_data = on;
        self
    }

    /// Server: how clients may resume (default: stateful, 256 sessions).
    pub fn resumption(mut self, mode: ServerResumption) -> Self {
        self.server_resumption = mode;
        self
    }

    /// Server: tickets sent after each handshake (default 2).
    pub fn tickets(mut self, n: usize) -> Self {
        self.tickets = n;
        self
    }

    fn provider(&self) -> Result<Arc<CryptoProvider>, TlsError> {
        let mut provider = ring::default_provider();
        provider
            .cipher_suites
            .retain(|s| s.version() == &rustls::version::TLS13);
        if let Some(want) = &self.ciphers {
            if want.is_empty() {
                return Err(TlsError::Config("empty cipher list".into()));
            }
            let mut suites = Vec::with_capacity(want.len());
            for c in want {
                let s = provider
                    .cipher_suites
                    .iter()
                    .find(|s| s.suite() == c.suite())
                    .ok_or(TlsError::CipherUnsupported(*c))?;
                if !suites.contains(s) {
                    suites.push(*s);
                }
            }
            provider.cipher_suites = suites;
        }
        Ok(Arc::new(provider))
    }

    /// Checks the settings and builds the rustls config.
    pub fn build(self) -> Result<TlsConfig, TlsError> {
        if self.psk {
            return Err(TlsError::PskUnsupported);
        }
        if let Some(e) = self.error {
            return Err(e);
        }
        let provider = self.provider()?;
        match self.role {
            Role::Client => self.build_client(provider),
            Role::Server => self.build_server(provider),
        }
    }

    fn build_client(mut self, provider: Arc<CryptoProvider>) -> Result<TlsConfig, TlsError> {
        if self.client_auth.is_some() {
            return Err(TlsError::Config(
                "client_auth_* are server settings (a client gives its own certificate with \
                 cert_file/key_file)"
                    .into(),
            ));
        }
        let chain = std::mem::take(&mut self.cert_chain);
        let key = self.key.take();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| TlsError::Config(e.to_string()))?;
        let insecure = matches!(self.verify, Some(Verify::Insecure));
        let with_verifier =
            match self.verify {
                None => return Err(TlsError::Config(
                    "no way to verify the server: set ca_file/ca_pem/system_roots, a verifier, \
                     or dangerous_no_verify"
                        .into(),
                )),
                Some(Verify::Roots(certs)) => {
                    let mut roots = RootCertStore::empty();
                    for c in certs {
                        roots
                            .add(c)
                            .map_err(|e| TlsError::Pem(format!("unusable CA certificate: {e}")))?;
                    }
                    builder.with_root_certificates(roots)
                }
                Some(Verify::Custom(v)) => builder.dangerous().with_custom_certificate_verifier(v),
                Some(Verify::Insecure) => builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(NoVerify(provider))),
            };
        let mut cfg = match (chain.is_empty(), key) {
            (true, None) => with_verifier.with_client_cert_resolver(no_client_cert()),
            (false, Some(key)) => with_verifier
                .with_client_auth_cert(chain, key)
                .map_err(|e| TlsError::Config(format!("client certificate/key: {e}")))?,
            (true, Some(_)) => {
                return Err(TlsError::Config(
                    "a client key without its certificate".into(),
                ))
            }
            (false, None) => {
                return Err(TlsError::Config(
                    "a client certificate without its private key".into(),
                ))
            }
        };

        let server_name = match &self.server_name {
            Some(n) => Some(parse_server_name(n)?),
            None if insecure => None,
            None => {
                return Err(TlsError::Config(
                    "a client that verifies the server needs its server name".into(),
                ))
            }
        };
        if self.early_data && self.session_cache.is_none() {
            return Err(TlsError::Config(
                "0-RTT needs session resumption (a session cache)".into(),
            ));
        }
        cfg.alpn_protocols = self.alpn;
        cfg.resumption = match &self.session_cache {
            Some(c) => Resumption::store(Arc::new(c.clone())),
            None => Resumption::disabled(),
        };
        cfg.enable_early_data = self.early_data;
        Ok(TlsConfig {
            inner: Inner::Client {
                cfg: Arc::new(cfg),
                server_name,
                cache: self.session_cache,
            },
        })
    }

    fn build_server(self, provider: Arc<CryptoProvider>) -> Result<TlsConfig, TlsError> {
        if self.cert_chain.is_empty() {
            return Err(TlsError::Config("server needs a certificate chain".into()));
        }
        let Some(key) = self.key else {
            return Err(TlsError::Config("server needs a private key".into()));
        };
        if self.early_data && !matches!(self.server_resumption, ServerResumption::Stateful { .. }) {
            return Err(TlsError::Config(
                "0-RTT needs stateful resumption: rustls rejects early data with stateless tickets"
                    .into(),
            ));
        }
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| TlsError::Config(e.to_string()))?;
        let builder = match self.client_auth {
            None => builder.with_no_client_auth(),
            Some(auth) => {
                let mut roots = RootCertStore::empty();
                for c in auth.roots {
                    roots.add(c).map_err(|e| {
                        TlsError::Pem(format!("unusable client CA certificate: {e}"))
                    })?;
                }
                let mut v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
                if auth.optional {
                    v = v.allow_unauthenticated();
                }
                let v = v
                    .build()
                    .map_err(|e| TlsError::Config(format!("client certificate verifier: {e}")))?;
                builder.with_client_cert_verifier(v)
            }
        };
        let mut cfg = builder
            .with_single_cert(self.cert_chain, key)
            .map_err(|e| TlsError::Config(format!("certificate/key: {e}")))?;
        cfg.alpn_protocols = self.alpn;
        cfg.send_tls13_tickets = self.tickets;
        match self.server_resumption {
            ServerResumption::Disabled => {
                cfg.session_storage = Arc::new(NoServerSessionStorage {});
                cfg.send_tls13_tickets = 0;
            }
            ServerResumption::Stateless => {
                cfg.ticketer = ring::Ticketer::new()
                    .map_err(|e| TlsError::Config(format!("ticketer: {e}")))?;
            }
            ServerResumption::Stateful { capacity } => {
                cfg.session_storage = ServerSessionMemoryCache::new(capacity.max(1));
            }
        }
        // QUIC allows only 0 or 0xffffffff (RFC 9001 section 4.6.1).
        cfg.max_early_data_size = if self.early_data { u32::MAX } else { 0 };
        Ok(TlsConfig {
            inner: Inner::Server { cfg: Arc::new(cfg) },
        })
    }
}

#[derive(Clone)]
pub(crate) enum Inner {
    Client {
        cfg: Arc<ClientConfig>,
        /// `None`: no SNI (only allowed without verification).
        server_name: Option<ServerName<'static>>,
        cache: Option<SessionCache>,
    },
    Server {
        cfg: Arc<ServerConfig>,
    },
}

/// A finished handshake configuration, shared by any number of [`TlsSession`]s
/// (cheap to clone). Client connections made from one config resume each other's sessions.
///
/// [`TlsSession`]: super::TlsSession
#[derive(Clone)]
pub struct TlsConfig {
    pub(crate) inner: Inner,
}

impl TlsConfig {
    /// Starts a client configuration.
    pub fn client() -> TlsConfigBuilder {
        TlsConfigBuilder::new(Role::Client)
    }

    /// Starts a server configuration.
    pub fn server() -> TlsConfigBuilder {
        TlsConfigBuilder::new(Role::Server)
    }

    /// Starts a configuration for `role`.
    pub fn builder(role: Role) -> TlsConfigBuilder {
        TlsConfigBuilder::new(role)
    }

    /// Wraps a ready rustls client config (it must allow TLS 1.3). Its `key_log` is replaced
    /// per connection. `server_name` `None` sends no SNI.
    pub fn from_rustls_client(
        cfg: Arc<ClientConfig>,
        server_name: Option<&str>,
    ) -> Result<Self, TlsError> {
        let server_name = server_name.map(parse_server_name).transpose()?;
        Ok(Self {
            inner: Inner::Client {
                cfg,
                server_name,
                cache: None,
            },
        })
    }

    /// Wraps a ready rustls server config. Its `key_log` is replaced per connection.
    pub fn from_rustls_server(cfg: Arc<ServerConfig>) -> Self {
        Self {
            inner: Inner::Server { cfg },
        }
    }

    /// Client or server.
    pub fn role(&self) -> Role {
        match self.inner {
            Inner::Client { .. } => Role::Client,
            Inner::Server { .. } => Role::Server,
        }
    }

    /// Client: the session cache in use, if built with one.
    pub fn session_cache(&self) -> Option<&SessionCache> {
        match &self.inner {
            Inner::Client { cache, .. } => cache.as_ref(),
            Inner::Server { .. } => None,
        }
    }
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Inner::Client {
                cfg, server_name, ..
            } => f
                .debug_struct("TlsConfig::Client")
                .field("server_name", server_name)
                .field("alpn", &cfg.alpn_protocols)
                .field("early_data", &cfg.enable_early_data)
                .finish_non_exhaustive(),
            Inner::Server { cfg } => f
                .debug_struct("TlsConfig::Server")
                .field("alpn", &cfg.alpn_protocols)
                .field("max_early_data_size", &cfg.max_early_data_size)
                .finish_non_exhaustive(),
        }
    }
}

/// A client without a certificate. One process-wide instance: rustls resumes a session only
/// under the same client certificate resolver (and verifier) `Arc` that stored it, and
/// `with_no_client_auth` would make a new one per config.
#[derive(Debug)]
struct NoClientCert;

impl ResolvesClientCert for NoClientCert {
    fn resolve(&self, _hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        None
    }

    fn has_certs(&self) -> bool {
        false
    }
}

fn no_client_cert() -> Arc<dyn ResolvesClientCert> {
    static NONE: OnceLock<Arc<dyn ResolvesClientCert>> = OnceLock::new();
    NONE.get_or_init(|| Arc::new(NoClientCert)).clone()
}

/// Accepts any certificate but still checks the handshake signatures made with it.
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpn_lists() {
        assert_eq!(
            parse_alpn("smbd,h3").unwrap(),
            vec![b"smbd".to_vec(), b"h3".to_vec()]
        );
        assert_eq!(
            parse_alpn(" smbd , h3 ").unwrap(),
            vec![b"smbd".to_vec(), b"h3".to_vec()]
        );
        assert!(parse_alpn("").unwrap().is_empty());
        assert!(parse_alpn("h3,,smbd").is_err());
        assert!(parse_alpn(&"x".repeat(256)).is_err());
    }

    #[test]
    fn config_errors() {
        let e = TlsConfig::client()
            .psk_file("/nonexistent")
            .dangerous_no_verify()
            .build()
            .unwrap_err();
        assert_eq!(e, TlsError::PskUnsupported);
        let e = TlsConfig::client()
            .dangerous_no_verify()
            .ciphers(&[Cipher::Aes128Ccm])
            .build()
            .unwrap_err();
        assert_eq!(e, TlsError::CipherUnsupported(Cipher::Aes128Ccm));
        assert!(matches!(
            TlsConfig::client()
                .ciphers(&[])
                .dangerous_no_verify()
                .build(),
            Err(TlsError::Config(_))
        ));
        // Verification without a name, no verification mode at all.
        assert!(matches!(
            TlsConfig::client().ca_pem(b"").build(),
            Err(TlsError::Pem(_))
        ));
        assert!(matches!(
            TlsConfig::client().server_name("a.test").build(),
            Err(TlsError::Config(_))
        ));
        assert!(matches!(
            TlsConfig::client()
                .server_name("bad name!")
                .dangerous_no_verify()
                .build(),
            Err(TlsError::Config(_))
        ));
        assert!(matches!(
            TlsConfig::client()
                .alpn("a,,b")
                .dangerous_no_verify()
                .build(),
            Err(TlsError::Config(_))
        ));
        assert!(matches!(
            TlsConfig::client()
                .dangerous_no_verify()
                .no_session_cache()
                .early_data(true)
                .build(),
            Err(TlsError::Config(_))
        ));
        assert!(matches!(
            TlsConfig::client()
                .ca_file("/nonexistent/ca.pem")
                .server_name("a.test")
                .build(),
            Err(TlsError::File { .. })
        ));
        // Server without certificate, key file missing.
        assert!(matches!(
            TlsConfig::server().build(),
            Err(TlsError::Config(_))
        ));
        assert!(matches!(
            TlsConfig::server().key_file("/nonexistent/key.pem").build(),
            Err(TlsError::File { .. })
        ));
        let c = TlsConfig::client().dangerous_no_verify().build().unwrap();
        assert_eq!(c.role(), Role::Client);
        assert!(c.session_cache().is_some());
    }

    /// A missing certificate, key or CA file is an I/O error that keeps ENOENT (kind NotFound
    /// once converted), naming the file; a file that exists but holds no PEM is a PEM error.
    #[test]
    fn missing_files_are_io_errors() {
        let cases = [
            (
                TlsConfig::server()
                    .cert_file("/nonexistent/cert.pem")
                    .key_file("/nonexistent/key.pem")
                    .build(),
                "certificate file /nonexistent/cert.pem",
            ),
            (
                TlsConfig::server().key_file("/nonexistent/key.pem").build(),
                "key file /nonexistent/key.pem",
            ),
            (
                TlsConfig::client()
                    .ca_file("/nonexistent/ca.pem")
                    .server_name("a.test")
                    .build(),
                "CA file /nonexistent/ca.pem",
            ),
            (
                TlsConfig::server()
                    .client_auth_ca_file("/nonexistent/clients.pem")
                    .build(),
                "client CA file /nonexistent/clients.pem",
            ),
        ];
        for (r, what) in cases {
            let e = r.unwrap_err();
            assert_eq!(e.os_error(), Some(libc::ENOENT), "{e}");
            let msg = e.to_string();
            assert!(
                msg.starts_with(what) && msg.contains("No such file"),
                "{msg}"
            );
            let io: std::io::Error = e.into();
            assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
        }
        // An existing file that is not PEM: a parse error, not an I/O one.
        let e = TlsConfig::client()
            .ca_file("/dev/null")
            .server_name("a.test")
            .build()
            .unwrap_err();
        assert!(matches!(e, TlsError::Pem(_)), "{e:?}");
        assert_eq!(e.os_error(), None);
    }

    #[test]
    fn mutual_tls_settings() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["c.test".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let der = CertificateDer::from(cert.der().to_vec());
        let pkey = || PrivateKeyDer::Pkcs8(key.serialize_der().into());
        // A client with its certificate; a server requiring (or allowing) client certificates.
        TlsConfig::client()
            .dangerous_no_verify()
            .cert_der(vec![der.clone()])
            .key_der(pkey())
            .build()
            .unwrap();
        for optional in [false, true] {
            TlsConfig::server()
                .cert_der(vec![der.clone()])
                .key_der(pkey())
                .client_auth_ca_der(der.clone())
                .client_auth_optional(optional)
                .build()
                .unwrap();
        }
        // Half a client identity, client CAs on a client.
        assert!(matches!(
            TlsConfig::client()
                .dangerous_no_verify()
                .cert_der(vec![der.clone()])
                .build(),
            Err(TlsError::Config(_))
        ));
        assert!(matches!(
            TlsConfig::client()
                .dangerous_no_verify()
                .key_der(pkey())
                .build(),
            Err(TlsError::Config(_))
        ));
        assert!(matches!(
            TlsConfig::client()
                .dangerous_no_verify()
                .client_auth_ca_der(der)
                .build(),
            Err(TlsError::Config(_))
        ));
    }
}
