//! One handshake on a socket the kernel handed over: the credentials it needs, the rustls
//! configuration, libquic's socket driver, and what goes back into the socket and into DONE.

use std::fmt;
use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use quic::ksock::{client_handshake, server_handshake, Socket};
use quic::tls::{parse_alpn, TlsConfig, SYSTEM_CA_FILES};
use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::server::{ServerSessionMemoryCache, StoresServerSessions, WebPkiClientVerifier};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::CertificateDer;

use crate::config::{read_certs, CertKey, Config, Credentials, Psk};
use crate::genl::{AcceptRequest, AuthMode, Role};
use crate::keys;
use crate::psk::{self, CLib, PskFile};

/// A handshake that did not succeed: the errno DONE reports, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Positive errno.
    pub errno: i32,
    /// For the log.
    pub msg: String,
}

impl Failure {
    /// A failure with `errno`.
    pub fn new(errno: i32, msg: impl Into<String>) -> Self {
        Self {
            errno,
            msg: msg.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({})",
            self.msg,
            io::Error::from_raw_os_error(self.errno)
        )
    }
}

/// What a successful handshake reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Key serials of the authenticated peer identities (DONE's `remote-auth`).
    pub remote_auth: Vec<u32>,
    /// The negotiated ALPN.
    pub alpn: Option<String>,
    /// One line for the log.
    pub summary: String,
}

/// Runs the handshake of one request. The agent calls it on a blocking thread; it must
/// return by `deadline` (give or take a scheduling delay).
pub trait Handshaker: Send + Sync + 'static {
    /// Runs the handshake of `req` on `sock` (a duplicate of the installed descriptor, owned
    /// by the call).
    fn handshake(
        &self,
        req: &AcceptRequest,
        sock: OwnedFd,
        deadline: Instant,
    ) -> Result<Outcome, Failure>;
}

/// The protocol of a socket (`SO_PROTOCOL`).
pub fn socket_protocol(fd: RawFd) -> io::Result<i32> {
    let mut v: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: v is writable for len bytes.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_PROTOCOL,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(v)
    }
}

/// Checks that `fd` is a QUIC socket: `EPROTONOSUPPORT` (or the getsockopt error) if not.
pub fn check_quic(fd: RawFd) -> Result<(), Failure> {
    match socket_protocol(fd) {
        Ok(p) if p == quic_uapi::IPPROTO_QUIC => Ok(()),
        Ok(p) => Err(Failure::new(
            libc::EPROTONOSUPPORT,
            format!(
                "socket protocol {p} is not QUIC ({}): not ours to handshake",
                quic_uapi::IPPROTO_QUIC
            ),
        )),
        Err(e) => Err(Failure::new(
            e.raw_os_error().unwrap_or(libc::EBADF),
            format!("getsockopt(SO_PROTOCOL): {e}"),
        )),
    }
}

fn provider() -> Arc<CryptoProvider> {
    let mut p = rustls::crypto::ring::default_provider();
    p.cipher_suites
        .retain(|s| s.version() == &rustls::version::TLS13);
    Arc::new(p)
}

/// Builds the rustls configuration of each request from the agent's credentials and the
/// request's key serials.
pub struct TlsContext {
    creds: Credentials,
    default_server_name: Option<String>,
    require_client_cert: bool,
    tickets: usize,
    provider: Arc<CryptoProvider>,
    /// Server sessions shared by every request, so that clients can resume.
    sessions: Arc<dyn StoresServerSessions>,
    system_roots: OnceLock<Result<Vec<CertificateDer<'static>>, String>>,
}

impl fmt::Debug for TlsContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsContext")
            .field("default_server_name", &self.default_server_name)
            .finish_non_exhaustive()
    }
}

fn roots(certs: &[CertificateDer<'static>]) -> Result<RootCertStore, Failure> {
    let mut r = RootCertStore::empty();
    for c in certs {
        r.add(c.clone())
            .map_err(|e| Failure::new(libc::EINVAL, format!("unusable CA certificate: {e}")))?;
    }
    Ok(r)
}

fn keyring_cert_key(cert: i32, key: i32) -> Result<CertKey, Failure> {
    let read = |what: &str, s: i32| {
        keys::read(s).map_err(|e| {
            Failure::new(
                e.raw_os_error().unwrap_or(libc::ENOKEY),
                format!("reading {what} key {s} from the keyrings: {e}"),
            )
        })
    };
    let chain = keys::certs_from_payload(&read("certificate", cert)?)
        .map_err(|e| Failure::new(libc::EKEYREJECTED, format!("certificate key {cert}: {e}")))?;
    let key = keys::key_from_payload(&read("private", key)?)
        .map_err(|e| Failure::new(libc::EKEYREJECTED, format!("private key {key}: {e}")))?;
    Ok(CertKey { chain, key })
}

impl TlsContext {
    /// From the configuration and the credentials it names (already loaded).
    pub fn new(cfg: &Config, creds: Credentials) -> Self {
        Self {
            creds,
            default_server_name: cfg.client.server_name.clone(),
            require_client_cert: cfg.server.require_client_cert,
            tickets: cfg.server.tickets,
            provider: provider(),
            sessions: ServerSessionMemoryCache::new(256),
            system_roots: OnceLock::new(),
        }
    }

    fn client_roots(&self) -> Result<RootCertStore, Failure> {
        if let Some(c) = &self.creds.client_roots {
            return roots(c);
        }
        let sys = self.system_roots.get_or_init(|| {
            let path = std::env::var_os("SSL_CERT_FILE")
                .map(PathBuf::from)
                .or_else(|| {
                    SYSTEM_CA_FILES
                        .iter()
                        .map(PathBuf::from)
                        .find(|p| p.is_file())
                })
                .ok_or_else(|| "no client.ca_file and no system CA bundle".to_owned())?;
            read_certs(&path).map_err(|e| e.0)
        });
        match sys {
            Ok(c) => roots(c),
            Err(e) => Err(Failure::new(libc::ENOKEY, e.clone())),
        }
    }

    /// The certificate and key of the request (its key serials) or of the configuration.
    fn own_cert(
        &self,
        req: &AcceptRequest,
        fallback: Option<&CertKey>,
    ) -> Result<Option<CertKey>, Failure> {
        if req.auth == AuthMode::X509 {
            if let Some(k) = req.certificates.iter().find(|k| k.cert != 0) {
                if k.privkey == 0 {
                    return Err(Failure::new(
                        libc::ENOKEY,
                        format!("certificate key {} comes without a private key", k.cert),
                    ));
                }
                return keyring_cert_key(k.cert, k.privkey).map(Some);
            }
        }
        Ok(fallback.cloned())
    }

    /// The TLS configuration of a request, with the server name a client verifies.
    pub fn build(
        &self,
        req: &AcceptRequest,
        alpn: Vec<Vec<u8>>,
    ) -> Result<(TlsConfig, Option<String>), Failure> {
        if req.auth == AuthMode::Psk {
            return Err(Failure::new(
                libc::EOPNOTSUPP,
                "PSK handshakes go through libquic's C library, not rustls",
            ));
        }
        let cfg_err =
            |e: rustls::Error| Failure::new(libc::EINVAL, format!("TLS configuration: {e}"));
        match req.role {
            Role::Client => {
                let name = req
                    .peername
                    .clone()
                    .or_else(|| self.default_server_name.clone())
                    .ok_or_else(|| {
                        Failure::new(
                            libc::EINVAL,
                            "no peer name in the request and no client.server_name to verify \
                             the server against",
                        )
                    })?;
                let builder = ClientConfig::builder_with_provider(self.provider.clone())
                    .with_protocol_versions(&[&rustls::version::TLS13])
                    .map_err(cfg_err)?
                    .with_root_certificates(self.client_roots()?);
                let mine = match req.auth {
                    AuthMode::X509 => self.own_cert(req, self.creds.client_cert.as_ref())?,
                    _ => None,
                };
                let mut cfg = match mine {
                    Some(ck) => builder
                        .with_client_auth_cert(ck.chain, ck.key)
                        .map_err(cfg_err)?,
                    None => builder.with_no_client_auth(),
                };
                cfg.alpn_protocols = alpn;
                cfg.resumption = Resumption::disabled();
                let tls =
                    TlsConfig::from_rustls_client(Arc::new(cfg), Some(&name)).map_err(|e| {
                        Failure::new(libc::EINVAL, format!("server name {name:?}: {e}"))
                    })?;
                Ok((tls, Some(name)))
            }
            Role::Server => {
                let ck = self
                    .own_cert(req, self.creds.server_cert.as_ref())?
                    .ok_or_else(|| {
                        Failure::new(
                            libc::ENOKEY,
                            "no server certificate: none in the request, no server.cert_file",
                        )
                    })?;
                let builder = ServerConfig::builder_with_provider(self.provider.clone())
                    .with_protocol_versions(&[&rustls::version::TLS13])
                    .map_err(cfg_err)?;
                let builder = match &self.creds.server_client_roots {
                    Some(r) => {
                        let v = WebPkiClientVerifier::builder_with_provider(
                            Arc::new(roots(r)?),
                            self.provider.clone(),
                        );
                        let v = if self.require_client_cert {
                            v
                        } else {
                            v.allow_unauthenticated()
                        };
                        builder.with_client_cert_verifier(v.build().map_err(|e| {
                            Failure::new(libc::EINVAL, format!("client verifier: {e}"))
                        })?)
                    }
                    None => builder.with_no_client_auth(),
                };
                let mut cfg = builder
                    .with_single_cert(ck.chain, ck.key)
                    .map_err(cfg_err)?;
                cfg.alpn_protocols = alpn;
                cfg.session_storage = self.sessions.clone();
                cfg.send_tls13_tickets = self.tickets;
                cfg.max_early_data_size = 0;
                Ok((TlsConfig::from_rustls_server(Arc::new(cfg)), None))
            }
        }
    }
}

/// `SO_RCVTIMEO` / `SO_SNDTIMEO` as raw bytes, to put back after the handshake: the socket
/// goes back to its kernel user as it came.
struct SavedTimeouts {
    rcv: libc::timeval,
    snd: libc::timeval,
}

fn get_timeval(fd: RawFd, opt: libc::c_int) -> io::Result<libc::timeval> {
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    let mut len = size_of::<libc::timeval>() as libc::socklen_t;
    // SAFETY: tv is writable for len bytes.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            (&mut tv as *mut libc::timeval).cast(),
            &mut len,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(tv)
    }
}

fn set_timeval(fd: RawFd, opt: libc::c_int, tv: &libc::timeval) -> io::Result<()> {
    // SAFETY: tv is a valid timeval, passed with its size.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            (tv as *const libc::timeval).cast(),
            size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

impl SavedTimeouts {
    fn save(fd: RawFd) -> io::Result<Self> {
        Ok(Self {
            rcv: get_timeval(fd, libc::SO_RCVTIMEO)?,
            snd: get_timeval(fd, libc::SO_SNDTIMEO)?,
        })
    }

    fn restore(&self, fd: RawFd) {
        for (opt, tv) in [
            (libc::SO_RCVTIMEO, &self.rcv),
            (libc::SO_SNDTIMEO, &self.snd),
        ] {
            if let Err(e) = set_timeval(fd, opt, tv) {
                log::warn!("fd {fd}: restoring the socket's timeouts: {e}");
            }
        }
    }
}

/// The real handshaker: libquic over the kernel QUIC socket.
#[derive(Debug)]
pub struct QuicHandshaker {
    tls: TlsContext,
    /// libquic's C library (PSK handshakes): its name, and the library once loaded.
    psk_library: String,
    clib: OnceLock<Result<CLib, String>>,
}

impl QuicHandshaker {
    /// With this TLS context; PSK handshakes through the C library `psk_library`.
    pub fn new(tls: TlsContext, psk_library: &str) -> Self {
        Self {
            tls,
            psk_library: psk_library.to_owned(),
            clib: OnceLock::new(),
        }
    }

    /// A PSK handshake: the keys named by the request's identities (key serials), else the
    /// configured ones; a client offers the first, a server accepts any.
    fn psk(
        &self,
        req: &AcceptRequest,
        sock: &Socket,
        alpns: &str,
        deadline: Instant,
    ) -> Result<Outcome, Failure> {
        let lib = match self.clib.get_or_init(|| CLib::open(&self.psk_library)) {
            Ok(l) => l,
            Err(e) => {
                return Err(Failure::new(
                    libc::EOPNOTSUPP,
                    format!(
                        "PSK handshakes need libquic's C library ({}; make -C libquic \
                         install): {e}",
                        self.psk_library
                    ),
                ))
            }
        };
        let psks: Vec<Psk> = if req.peer_identities.is_empty() {
            self.tls.creds.psks.clone()
        } else {
            req.peer_identities
                .iter()
                .map(|&s| {
                    psk::from_keyring(s as i32).map_err(|e| {
                        Failure::new(
                            e.raw_os_error().unwrap_or(libc::ENOKEY),
                            format!("PSK key {s} from the keyrings: {e}"),
                        )
                    })
                })
                .collect::<Result<_, _>>()?
        };
        let client = req.role == Role::Client;
        let offered = match (client, psks.is_empty()) {
            (_, true) => {
                return Err(Failure::new(
                    libc::ENOKEY,
                    "no pre-shared key: none in the request, none in psk.files",
                ))
            }
            (true, false) => &psks[..1],
            (false, false) => &psks[..],
        };
        let file = PskFile::new(offered)
            .map_err(|e| Failure::new(e.raw_os_error().unwrap_or(libc::EINVAL), e.to_string()))?;
        let r = lib.handshake(client, sock.as_raw_fd(), file.path(), alpns);
        drop(file);
        if r != 0 {
            // The library returns an errno or a GnuTLS code (both negative, overlapping):
            // only the deadline tells a time-out for sure.
            let errno = if Instant::now() >= deadline {
                libc::ETIMEDOUT
            } else {
                libc::EPROTO
            };
            return Err(Failure::new(
                errno,
                format!("PSK handshake failed (libquic code {r})"),
            ));
        }
        // The identity used: certain for a client, and for a server offered a single one.
        let remote_auth = match (client, req.peer_identities.as_slice()) {
            (true, [first, ..]) | (false, [first]) => vec![*first],
            _ => Vec::new(),
        };
        // The library does not report the protocol chosen; with one offered, it is that one
        // (and the socket holds it already).
        let alpn = (!alpns.is_empty() && !alpns.contains(',')).then(|| alpns.to_owned());
        Ok(Outcome {
            remote_auth,
            summary: format!(
                "PSK {} {}: ALPN {}",
                if client {
                    "client, identity"
                } else {
                    "server, identities"
                },
                offered
                    .iter()
                    .map(|p| p.identity.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                alpn.as_deref().unwrap_or("(not reported)")
            ),
            alpn,
        })
    }
}

/// How long a peer certificate key lives in the agent's keyring: the kernel consumer looks
/// the identity up when DONE arrives; the timeout only bounds what the keyring keeps.
pub const PEER_KEY_TIMEOUT_S: u32 = 3600;

/// Records the peer's leaf certificate as an `asymmetric` key in the process keyring (as
/// tlshd does), described by the peer's name or address (so that a peer's newer key replaces
/// its older one) and expiring after [`PEER_KEY_TIMEOUT_S`]; its serial is the identity DONE
/// reports. `None` if the kernel refuses it.
fn record_peer_cert(der: &[u8], peer: &str) -> Option<u32> {
    let alg = self_signed_algorithm(der);
    if alg.is_some_and(|a| REFUSED_ALGS.refused(a, Instant::now())) {
        log::debug!("peer certificate of {peer} not recorded: the kernel cannot check its signature algorithm");
        return None;
    }
    match keys::add(
        "asymmetric",
        &format!("kquic x509 {peer}"),
        der,
        keys::KEY_SPEC_PROCESS_KEYRING,
    ) {
        Ok(s) if s > 0 => {
            if let Err(e) = keys::set_timeout(s, PEER_KEY_TIMEOUT_S) {
                log::warn!("peer key {s}: timeout not set: {e}");
            }
            Some(s as u32)
        }
        Ok(_) => None,
        Err(e) => {
            // No such algorithm in the kernel to check a self-signed certificate with: each
            // try costs the kernel's module requests, seconds under emulation, on the way to
            // DONE. Stop trying self-signed certificates of that algorithm for a while.
            let missing = matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOPKG));
            if let (true, Some(a)) = (missing, alg) {
                REFUSED_ALGS.mark(a, Instant::now());
            }
            log::warn!(
                "peer certificate of {peer} not recorded as a key: {e}{}",
                if missing {
                    " (its signature algorithm is not in the kernel; not tried again for 10 minutes)"
                } else {
                    ""
                }
            );
            None
        }
    }
}

/// How long certificates of a signature algorithm the kernel could not check are not offered
/// to it again.
const REFUSED_ALG_RETRY: Duration = Duration::from_secs(600);

/// Signature algorithms (a certificate's DER `AlgorithmIdentifier`) the kernel refused, and
/// when.
struct RefusedAlgs(Mutex<Vec<(Vec<u8>, Instant)>>);

static REFUSED_ALGS: RefusedAlgs = RefusedAlgs::new();

impl RefusedAlgs {
    /// None refused.
    const fn new() -> Self {
        Self(Mutex::new(Vec::new()))
    }

    /// Whether `alg` was refused less than [`REFUSED_ALG_RETRY`] before `now`.
    fn refused(&self, alg: &[u8], now: Instant) -> bool {
        let mut v = self.0.lock().unwrap_or_else(|e| e.into_inner());
        v.retain(|(_, t)| now.saturating_duration_since(*t) < REFUSED_ALG_RETRY);
        v.iter().any(|(a, _)| a == alg)
    }

    /// Records that the kernel refused `alg` at `now`.
    fn mark(&self, alg: &[u8], now: Instant) {
        let mut v = self.0.lock().unwrap_or_else(|e| e.into_inner());
        v.retain(|(a, _)| a != alg);
        v.push((alg.to_vec(), now));
    }
}

/// One DER element at the start of `d`: (tag, header length, total length).
fn der_element(d: &[u8]) -> Option<(u8, usize, usize)> {
    let tag = *d.first()?;
    let first = usize::from(*d.get(1)?);
    let (header, len) = if first < 0x80 {
        (2, first)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*d.get(2 + i)?);
        }
        (2 + n, len)
    };
    let total = header.checked_add(len)?;
    (total <= d.len()).then_some((tag, header, total))
}

/// The `signatureAlgorithm` (DER) of a self-signed DER certificate: the kernel checks the
/// signature of those when they are added, and only of those. `None` for other certificates
/// and for what does not parse. A certificate is `SEQUENCE { tbsCertificate,
/// signatureAlgorithm, signatureValue }`, its `tbsCertificate` `SEQUENCE { [0] version
/// OPTIONAL, serialNumber, signature, issuer, validity, subject, ... }`.
fn self_signed_algorithm(cert: &[u8]) -> Option<&[u8]> {
    let (tag, header, total) = der_element(cert)?;
    if tag != 0x30 {
        return None;
    }
    let body = &cert[header..total];
    let (tag, tbs_header, tbs_total) = der_element(body)?;
    if tag != 0x30 {
        return None;
    }
    let mut fields = Vec::with_capacity(5);
    let mut tbs = &body[tbs_header..tbs_total];
    let mut first = true;
    while fields.len() < 5 {
        let (tag, _, len) = der_element(tbs)?;
        if !(first && tag == 0xa0) {
            fields.push(&tbs[..len]);
        }
        first = false;
        tbs = &tbs[len..];
    }
    // serialNumber, signature, issuer, validity, subject.
    if fields[2] != fields[4] {
        return None;
    }
    let rest = &body[tbs_total..];
    let (tag, _, alg) = der_element(rest)?;
    (tag == 0x30).then(|| &rest[..alg])
}

impl Handshaker for QuicHandshaker {
    fn handshake(
        &self,
        req: &AcceptRequest,
        fd: OwnedFd,
        deadline: Instant,
    ) -> Result<Outcome, Failure> {
        check_quic(fd.as_raw_fd())?;
        if let Some(k) = req.keyring {
            if let Err(e) = keys::link(k as i32, keys::KEY_SPEC_PROCESS_KEYRING) {
                log::warn!("linking keyring {k} of the request: {e}");
            }
        }
        let sock = Socket::from(fd);
        let raw = sock.as_raw_fd();
        let saved = SavedTimeouts::save(raw)
            .map_err(|e| Failure::new(e.raw_os_error().unwrap_or(libc::EIO), e.to_string()))?;
        let r = self.run(req, &sock, deadline);
        saved.restore(raw);
        r
    }
}

impl QuicHandshaker {
    fn run(
        &self,
        req: &AcceptRequest,
        sock: &Socket,
        deadline: Instant,
    ) -> Result<Outcome, Failure> {
        let io_fail = |what: &str, e: io::Error| {
            Failure::new(
                e.raw_os_error().unwrap_or(libc::EIO),
                format!("{what}: {e}"),
            )
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Failure::new(
                libc::ETIMEDOUT,
                "no time left for the handshake",
            ));
        }
        // libquic bounds each wait by SO_RCVTIMEO: the whole handshake ends by the deadline.
        sock.set_read_timeout(Some(left))
            .map_err(|e| io_fail("SO_RCVTIMEO", e))?;
        sock.set_write_timeout(Some(left))
            .map_err(|e| io_fail("SO_SNDTIMEO", e))?;
        let list = sock
            .alpn()
            .map_err(|e| io_fail("getsockopt(QUIC_SOCKOPT_ALPN)", e))?;
        let alpn = parse_alpn(&list)
            .map_err(|e| Failure::new(libc::EINVAL, format!("socket ALPN {list:?}: {e}")))?;
        if req.auth == AuthMode::Psk {
            return self.psk(req, sock, &list, deadline);
        }
        let (tls, name) = self.tls.build(req, alpn)?;
        let r = match req.role {
            Role::Client => client_handshake(sock, &tls, name.as_deref()),
            Role::Server => server_handshake(sock, &tls),
        };
        let info = r.map_err(|e| {
            let mut errno = e.raw_os_error();
            if errno == libc::EAGAIN || Instant::now() >= deadline {
                errno = libc::ETIMEDOUT;
            }
            Failure::new(errno, format!("handshake: {e}"))
        })?;
        let alpn = info.alpn.as_ref().map(|_| info.alpn_str().to_owned());
        if let Some(a) = &alpn {
            // The kernel user learns the protocol the peers agreed on from the socket.
            sock.set_alpn(a)
                .map_err(|e| io_fail("setsockopt(QUIC_SOCKOPT_ALPN, negotiated)", e))?;
        }
        let peer = name
            .clone()
            .or_else(|| req.peername.clone())
            // The address without its port: one key per peer host.
            .or_else(|| sock.peer_addr().ok().map(|a| a.ip().to_string()))
            .unwrap_or_else(|| "peer".into());
        let leaf = sock.with_tls(|t| {
            t.and_then(|t| t.peer_certificates())
                .and_then(|c| c.first())
                .map(|c| c.to_vec())
        });
        let remote_auth = leaf
            .and_then(|der| record_peer_cert(&der, &peer))
            .into_iter()
            .collect();
        Ok(Outcome {
            remote_auth,
            summary: format!(
                "{} {peer}: ALPN {}, {:?}{}",
                if req.role == Role::Client {
                    "client to"
                } else {
                    "server for"
                },
                alpn.as_deref().unwrap_or("(none)"),
                info.cipher,
                if info.resumed { ", resumed" } else { "" }
            ),
            alpn,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithms_of_self_signed_certificates() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["a.example".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let der = cert.der().to_vec();
        // ecdsa-with-SHA256 (1.2.840.10045.4.3.2), rcgen's default.
        let ecdsa_sha256 = [
            0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
        ];
        assert_eq!(self_signed_algorithm(&der), Some(&ecdsa_sha256[..]));
        for cut in [0, 1, 2, 5, der.len() / 2, der.len() - 1] {
            assert_eq!(self_signed_algorithm(&der[..cut]), None, "cut at {cut}");
        }
        assert_eq!(self_signed_algorithm(b"garbage, not DER"), None);
        assert_eq!(
            self_signed_algorithm(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]),
            None
        );
        // Issued by a CA: not self-signed; the CA's own certificate is.
        let mut ca_params = rcgen::CertificateParams::new(vec![]).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "kquic test CA");
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["b.example".into()])
            .unwrap()
            .signed_by(&leaf_key, &ca, &ca_key)
            .unwrap();
        assert_eq!(self_signed_algorithm(leaf.der()), None);
        assert_eq!(self_signed_algorithm(ca.der()), Some(&ecdsa_sha256[..]));
    }

    #[test]
    fn refused_algorithms_expire() {
        let r = RefusedAlgs::new();
        let t0 = Instant::now();
        assert!(!r.refused(b"alg1", t0));
        r.mark(b"alg1", t0);
        assert!(r.refused(b"alg1", t0 + Duration::from_secs(1)));
        assert!(!r.refused(b"alg2", t0 + Duration::from_secs(1)));
        assert!(r.refused(b"alg1", t0 + REFUSED_ALG_RETRY - Duration::from_secs(1)));
        assert!(!r.refused(b"alg1", t0 + REFUSED_ALG_RETRY));
        // Marked again: refused again.
        r.mark(b"alg1", t0 + REFUSED_ALG_RETRY);
        assert!(r.refused(b"alg1", t0 + REFUSED_ALG_RETRY));
    }
    use crate::config::tests::{cert_pem, TempDir};
    use crate::genl::X509Keys;
    use std::net::UdpSocket;
    use std::os::fd::OwnedFd;
    use std::time::Duration;

    fn req(role: Role, auth: AuthMode) -> AcceptRequest {
        AcceptRequest {
            sockfd: 3,
            role,
            timeout_ms: None,
            auth,
            peer_identities: vec![],
            certificates: vec![],
            peername: Some("srv.example".into()),
            keyring: None,
        }
    }

    fn ctx(text: &str) -> TlsContext {
        let cfg = Config::parse(text).unwrap();
        let creds = Credentials::load(&cfg).unwrap();
        TlsContext::new(&cfg, creds)
    }

    #[test]
    fn a_socket_that_is_not_quic_is_refused() {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let f = check_quic(udp.as_raw_fd()).unwrap_err();
        assert_eq!(f.errno, libc::EPROTONOSUPPORT);
        assert!(f.msg.contains("protocol 17"), "{f}");
        // The handshaker says the same before touching anything else.
        let h = QuicHandshaker::new(ctx(""), "libquic.so.1");
        let fd = OwnedFd::from(udp);
        let f = h
            .handshake(
                &req(Role::Client, AuthMode::X509),
                fd,
                Instant::now() + Duration::from_secs(1),
            )
            .unwrap_err();
        assert_eq!(f.errno, libc::EPROTONOSUPPORT);
        // Not a socket at all.
        let file = std::fs::File::open("/dev/null").unwrap();
        assert_eq!(
            check_quic(file.as_raw_fd()).unwrap_err().errno,
            libc::ENOTSOCK
        );
    }

    #[test]
    fn tls_configs_per_request() {
        let d = TempDir::new("tlsctx");
        let (cert, key) = cert_pem("srv.example");
        let c = d.write("c.pem", cert.as_bytes());
        let k = d.write("k.pem", key.as_bytes());
        let full = ctx(&format!(
            "[server]\ncert_file = {c:?}\nkey_file = {k:?}\n[client]\nca_file = {c:?}\n"
        ));
        let alpn = || vec![b"smbd".to_vec()];

        let (t, name) = full
            .build(&req(Role::Client, AuthMode::X509), alpn())
            .unwrap();
        assert_eq!(t.role(), quic::tls::Role::Client);
        assert_eq!(name.as_deref(), Some("srv.example"));
        let (t, name) = full
            .build(&req(Role::Server, AuthMode::X509), alpn())
            .unwrap();
        assert_eq!((t.role(), name), (quic::tls::Role::Server, None));

        // PSK: not with rustls.
        let f = full
            .build(&req(Role::Client, AuthMode::Psk), alpn())
            .unwrap_err();
        assert_eq!(f.errno, libc::EOPNOTSUPP);
        // A client needs a name to verify.
        let mut r = req(Role::Client, AuthMode::Unauth);
        r.peername = None;
        assert_eq!(full.build(&r, alpn()).unwrap_err().errno, libc::EINVAL);
        let named = ctx(&format!(
            "[client]\nca_file = {c:?}\nserver_name = \"nfs.example\"\n"
        ));
        assert_eq!(
            named.build(&r, alpn()).unwrap().1.as_deref(),
            Some("nfs.example")
        );
        // A server needs a certificate.
        let bare = ctx("");
        let f = bare
            .build(&req(Role::Server, AuthMode::X509), alpn())
            .unwrap_err();
        assert_eq!(f.errno, libc::ENOKEY);
        // Key serials in the request are read from the keyrings: a certificate without its
        // key, and serials that name nothing readable, fail.
        let mut r = req(Role::Server, AuthMode::X509);
        r.certificates = vec![X509Keys {
            cert: 5,
            privkey: 0,
        }];
        assert_eq!(full.build(&r, alpn()).unwrap_err().errno, libc::ENOKEY);
        r.certificates[0].privkey = 6;
        assert!(full.build(&r, alpn()).is_err());
    }

    /// Client and server sessions of the agent's configurations against each other, CRYPTO
    /// bytes passed by hand: the verdict, the client's ALPN, and each side's view of the
    /// other's certificate.
    fn in_memory(
        client: &TlsConfig,
        server_name: &str,
        server: &TlsConfig,
    ) -> Result<(Option<Vec<u8>>, usize, usize), quic::tls::TlsError> {
        use quic::tls::{QuicVersion, TlsSession};
        let mut c = TlsSession::new_client(client, QuicVersion::V1, b"c-params", server_name)?;
        let mut s = TlsSession::new(server, QuicVersion::V1, b"s-params")?;
        for _ in 0..16 {
            if let Some(e) = c.error().or(s.error()) {
                return Err(e.clone());
            }
            if !c.is_handshaking() && !s.is_handshaking() {
                let n = |t: &TlsSession| t.peer_certificates().map_or(0, |p| p.len());
                return Ok((c.alpn().map(<[u8]>::to_vec), n(&c), n(&s)));
            }
            while let Some((level, data)) = c.poll_output() {
                s.feed(level, &data)?;
            }
            while let Some((level, data)) = s.poll_output() {
                c.feed(level, &data)?;
            }
        }
        panic!("handshake did not finish");
    }

    #[test]
    fn agent_configs_complete_handshakes() {
        let d = TempDir::new("inmem");
        let (scert, skey) = cert_pem("srv.example");
        let (ccert, ckey) = cert_pem("client.example");
        let sc = d.write("s.pem", scert.as_bytes());
        let sk = d.write("s.key", skey.as_bytes());
        let cc = d.write("c.pem", ccert.as_bytes());
        let ck = d.write("c.key", ckey.as_bytes());
        let client_ctx = ctx(&format!(
            "[client]\nca_file = {sc:?}\ncert_file = {cc:?}\nkey_file = {ck:?}\n"
        ));
        let server_ctx = ctx(&format!(
            "[server]\ncert_file = {sc:?}\nkey_file = {sk:?}\nclient_ca_file = {cc:?}\n\
             require_client_cert = true\n"
        ));
        let h3 = || vec![b"h3".to_vec()];
        let (server, _) = server_ctx
            .build(&req(Role::Server, AuthMode::X509), h3())
            .unwrap();

        // x509 both ways: the client shows its configured certificate, ALPN agreed.
        let (client, name) = client_ctx
            .build(
                &req(Role::Client, AuthMode::X509),
                vec![b"smbd".to_vec(), b"h3".to_vec()],
            )
            .unwrap();
        let name = name.unwrap();
        let (alpn, client_saw, server_saw) = in_memory(&client, &name, &server).unwrap();
        assert_eq!(alpn.as_deref(), Some(&b"h3"[..]));
        assert_eq!((client_saw, server_saw), (1, 1));

        // Unauthenticated client against a server that requires a certificate: refused.
        let (anon, name) = client_ctx
            .build(&req(Role::Client, AuthMode::Unauth), h3())
            .unwrap();
        assert!(in_memory(&anon, &name.unwrap(), &server).is_err());

        // A peer name the server's certificate does not carry: refused.
        let mut r = req(Role::Client, AuthMode::X509);
        r.peername = Some("other.example".into());
        let (client, name) = client_ctx.build(&r, h3()).unwrap();
        assert!(in_memory(&client, &name.unwrap(), &server).is_err());

        // No common ALPN: refused.
        let (client, name) = client_ctx
            .build(&req(Role::Client, AuthMode::X509), vec![b"smbd".to_vec()])
            .unwrap();
        assert!(in_memory(&client, &name.unwrap(), &server).is_err());
    }

    #[test]
    fn psk_requests() {
        let deadline = || Instant::now() + Duration::from_secs(2);
        let sock = || {
            let u = UdpSocket::bind("127.0.0.1:0").unwrap();
            u.set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            Socket::from(OwnedFd::from(u))
        };
        let mut r = req(Role::Client, AuthMode::Psk);

        // Without the C library: EOPNOTSUPP, saying what is missing.
        let h = QuicHandshaker::new(ctx(""), "libkquic-missing.so.1");
        let f = h.psk(&r, &sock(), "", deadline()).unwrap_err();
        assert_eq!(f.errno, libc::EOPNOTSUPP);
        assert!(f.msg.contains("libkquic-missing.so.1"), "{f}");

        let lib =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../build/libquic/libquic.so.1");
        if !lib.exists() {
            eprintln!("{} not built: the rest skipped", lib.display());
            return;
        }
        let lib = lib.to_str().unwrap();
        // No key anywhere.
        let h = QuicHandshaker::new(ctx(""), lib);
        assert_eq!(
            h.psk(&r, &sock(), "", deadline()).unwrap_err().errno,
            libc::ENOKEY
        );
        // A key serial that cannot be read.
        r.peer_identities = vec![1];
        assert!(h.psk(&r, &sock(), "", deadline()).is_err());
        // Configured keys reach the library, whose handshake fails on a UDP socket.
        let d = TempDir::new("psk");
        let p = d.write("psk.txt", b"id1:00112233445566778899aabbccddeeff\n");
        let h = QuicHandshaker::new(ctx(&format!("[psk]\nfiles = [{p:?}]\n")), lib);
        r.peer_identities.clear();
        for role in [Role::Client, Role::Server] {
            r.role = role;
            let f = h.psk(&r, &sock(), "smbd", deadline()).unwrap_err();
            assert_eq!(f.errno, libc::EPROTO, "{f}");
            assert!(f.msg.contains("libquic code"), "{f}");
        }
    }

    #[test]
    fn timeouts_are_saved_and_restored() {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        udp.set_read_timeout(Some(Duration::from_millis(1500)))
            .unwrap();
        let fd = udp.as_raw_fd();
        let saved = SavedTimeouts::save(fd).unwrap();
        udp.set_read_timeout(Some(Duration::from_secs(9))).unwrap();
        udp.set_write_timeout(Some(Duration::from_secs(9))).unwrap();
        saved.restore(fd);
        assert_eq!(
            udp.read_timeout().unwrap(),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(udp.write_timeout().unwrap(), None);
    }
}
