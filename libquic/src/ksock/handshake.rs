//! The userspace half of the kernel handshake: runs a [`TlsSession`] over a QUIC socket.
//!
//! The kernel carries the CRYPTO bytes (sendmsg/recvmsg with `QUIC_HANDSHAKE_INFO`) and takes
//! the traffic secrets (`QUIC_SOCKOPT_CRYPTO_SECRET`) and the peer's transport parameters
//! (`QUIC_SOCKOPT_TRANSPORT_PARAM_EXT`). After every TLS step, in this order:
//!
//! 1. install every new secret, except the 1-RTT (APP) *send* secret, which is held back;
//! 2. once TLS has the peer's transport parameters, hand them to the kernel (once);
//! 3. send the CRYPTO output, each chunk with its level (APP-level output waits for step 4);
//! 4. when TLS is no longer handshaking, install the held-back APP send secret: this tells the
//!    kernel the handshake is complete. Then send any APP-level output (NewSessionTicket).
//!
//! Otherwise wait for the peer's next handshake bytes (one level per `recvmsg`) and feed them.

use std::fmt;
use std::io;

use quic_uapi::QUIC_TRANSPORT_ERROR_INTERNAL;

use super::socket::Socket;
use crate::tls::{Cipher, Level, QuicVersion, Role, Secret, TlsConfig, TlsError, TlsSession};

/// Size of the buffer handshake messages are received into.
const HS_BUF_LEN: usize = 64 * 1024;

/// A failed handshake.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A system call failed. `TimedOut`: nothing arrived within the socket's `SO_RCVTIMEO`.
    Io(io::Error),
    /// TLS failed (the connection was closed with the error's code).
    Tls(TlsError),
    /// The kernel or the peer did something the handshake does not allow.
    Protocol(String),
}

impl Error {
    /// The closest `errno` (for a C API returning `-errno`).
    pub fn raw_os_error(&self) -> i32 {
        match self {
            Self::Io(e) => e.raw_os_error().unwrap_or(match e.kind() {
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => libc::ETIMEDOUT,
                io::ErrorKind::UnexpectedEof => libc::ECONNRESET,
                _ => libc::EIO,
            }),
            Self::Tls(TlsError::File { errno, .. }) => errno.unwrap_or(libc::EIO),
            Self::Tls(TlsError::Config(_) | TlsError::Pem(_)) => libc::EINVAL,
            Self::Tls(TlsError::PskUnsupported | TlsError::CipherUnsupported(_)) => {
                libc::EOPNOTSUPP
            }
            Self::Tls(_) | Self::Protocol(_) => libc::EPROTO,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "handshake I/O: {e}"),
            Self::Tls(e) => write!(f, "TLS: {e}"),
            Self::Protocol(m) => write!(f, "handshake protocol: {m}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Tls(e) => Some(e),
            Self::Protocol(_) => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<TlsError> for Error {
    fn from(e: TlsError) -> Self {
        Self::Tls(e)
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Io(e) => e,
            Error::Tls(e @ TlsError::File { .. }) => e.into(),
            other => io::Error::other(other),
        }
    }
}

/// What a completed handshake negotiated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandshakeInfo {
    /// The application protocol, if ALPN was used.
    pub alpn: Option<Vec<u8>>,
    /// The AEAD of the negotiated suite.
    pub cipher: Option<Cipher>,
    /// The handshake resumed an earlier session.
    pub resumed: bool,
    /// The peer's certificate chain (leaf first): the server's on a client; on a server, the
    /// client's when it authenticated with one (mutual TLS). Empty otherwise.
    pub peer_certificates: Vec<rustls::pki_types::CertificateDer<'static>>,
}

impl HandshakeInfo {
    /// The ALPN as text (empty if none or not UTF-8).
    pub fn alpn_str(&self) -> &str {
        self.alpn
            .as_deref()
            .and_then(|a| std::str::from_utf8(a).ok())
            .unwrap_or("")
    }
}

/// What the handshake loop needs from the kernel (a trait so that tests can stand in for it).
pub(crate) trait HandshakeIo {
    /// `QUIC_SOCKOPT_CRYPTO_SECRET`.
    fn install_secret(&mut self, s: &Secret) -> io::Result<()>;
    /// `QUIC_SOCKOPT_TRANSPORT_PARAM_EXT` (set).
    fn set_peer_params(&mut self, ext: &[u8]) -> io::Result<()>;
    /// sendmsg with `QUIC_HANDSHAKE_INFO`, all of `data`.
    fn send(&mut self, level: Level, data: &[u8]) -> io::Result<()>;
    /// Blocks for the next handshake bytes: their level and length in `buf`.
    fn recv(&mut self, buf: &mut [u8]) -> Result<(Level, usize), Error>;
    /// Best effort: close the connection after a TLS failure.
    fn close(&mut self, code: u64, reason: &str);
}

struct SockIo<'a>(&'a Socket);

impl HandshakeIo for SockIo<'_> {
    fn install_secret(&mut self, s: &Secret) -> io::Result<()> {
        self.0.set_crypto_secret(s)
    }

    fn set_peer_params(&mut self, ext: &[u8]) -> io::Result<()> {
        self.0.set_peer_transport_params_ext(ext)
    }

    fn send(&mut self, level: Level, data: &[u8]) -> io::Result<()> {
        self.0.send_all_handshake(level, data)
    }

    fn recv(&mut self, buf: &mut [u8]) -> Result<(Level, usize), Error> {
        loop {
            let r = match self.0.recv_raw(buf, 0) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Err(Error::Io(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no handshake message within SO_RCVTIMEO",
                    )))
                }
                Err(e) => return Err(Error::Io(e)),
            };
            return match r.handshake_level {
                Some(l) => Level::from_u8(l)
                    .map(|l| (l, r.len))
                    .ok_or_else(|| Error::Protocol(format!("handshake bytes at level {l}"))),
                None if r.len == 0 && r.stream_id < 0 => Err(Error::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed during the handshake",
                ))),
                None => Err(Error::Protocol(format!(
                    "{} bytes of stream {} before the handshake completed",
                    r.len, r.stream_id
                ))),
            };
        }
    }

    fn close(&mut self, code: u64, reason: &str) {
        let code = u32::try_from(code).unwrap_or(QUIC_TRANSPORT_ERROR_INTERNAL);
        let _ = self.0.close_connection(code, reason);
    }
}

/// Runs `tls` to completion over `io` (see the module documentation for the order of steps).
pub(crate) fn drive(io: &mut impl HandshakeIo, tls: &mut TlsSession) -> Result<(), Error> {
    let mut buf = vec![0u8; HS_BUF_LEN];
    let r = drive_inner(io, tls, &mut buf);
    if let Err(Error::Tls(e)) = &r {
        io.close(e.error_code().unwrap_or(1), "TLS handshake failed");
    }
    r
}

fn drive_inner(
    io: &mut impl HandshakeIo,
    tls: &mut TlsSession,
    buf: &mut [u8],
) -> Result<(), Error> {
    let mut app_send: Option<Secret> = None;
    let mut held_app_output: Vec<Vec<u8>> = Vec::new();
    let mut params_set = false;
    // A resuming client sees the parameters remembered with its ticket until the server's
    // EncryptedExtensions (Handshake level) arrive: only those may go to the kernel. A server
    // has the client's with the ClientHello.
    let mut peer_params_final = tls.role() != Role::Client;
    loop {
        while let Some(s) = tls.poll_secret() {
            if s.level == Level::App && s.send {
                app_send = Some(s);
            } else {
                io.install_secret(&s)?;
            }
        }
        if !params_set && peer_params_final {
            if let Some(p) = tls.peer_transport_params() {
                io.set_peer_params(p)?;
                params_set = true;
            }
        }
        while let Some((level, data)) = tls.poll_output() {
            if level == Level::App {
                held_app_output.push(data);
            } else {
                io.send(level, &data)?;
            }
        }
        if let Some(e) = tls.error() {
            return Err(Error::Tls(e.clone()));
        }
        if !tls.is_handshaking() {
            if !params_set {
                return Err(Error::Protocol(
                    "handshake completed without the peer's transport parameters".into(),
                ));
            }
            let Some(s) = app_send.take() else {
                return Err(Error::Protocol(
                    "handshake completed without a 1-RTT send secret".into(),
                ));
            };
            io.install_secret(&s)?;
            for data in held_app_output {
                io.send(Level::App, &data)?;
            }
            return Ok(());
        }
        let (level, n) = io.recv(buf)?;
        if level == Level::Handshake {
            peer_params_final = true;
        }
        tls.feed(level, &buf[..n])?;
    }
}

/// Runs `f` with the socket in blocking mode, restoring `O_NONBLOCK` afterwards.
fn blocking<T>(sock: &Socket, f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    let was_nonblocking = sock.is_nonblocking()?;
    if was_nonblocking {
        sock.set_nonblocking(false)?;
    }
    let r = f();
    if was_nonblocking {
        sock.set_nonblocking(true)?;
    }
    r
}

/// The QUIC version the socket is configured for (`QUIC_SOCKOPT_CONFIG`), v1 by default.
fn version_of(sock: &Socket) -> QuicVersion {
    sock.config()
        .ok()
        .and_then(|c| QuicVersion::from_wire(c.version))
        .unwrap_or_default()
}

fn finish(sock: &Socket, tls: TlsSession) -> HandshakeInfo {
    // The kernel learns the ALPN TLS selected (getsockopt `QUIC_SOCKOPT_ALPN` then reports it);
    // a failure leaves the configured list there, which is all it costs.
    if let Some(alpn) = tls.alpn().and_then(|a| std::str::from_utf8(a).ok()) {
        let _ = sock.set_alpn(alpn);
    }
    let info = HandshakeInfo {
        alpn: tls.alpn().map(<[u8]>::to_vec),
        cipher: tls.cipher(),
        resumed: tls.is_resumed(),
        peer_certificates: tls
            .peer_certificates()
            .map(<[_]>::to_vec)
            .unwrap_or_default(),
    };
    *sock.tls() = Some(tls);
    info
}

/// Client handshake on a connected socket (`connect()` done, nothing sent yet): blocks until
/// the connection is up, bounded by the socket's `SO_RCVTIMEO` per wait. `server_name`
/// overrides the config's (SNI and certificate check). A non-blocking socket is made blocking
/// for the duration.
pub fn client_handshake(
    sock: &Socket,
    config: &TlsConfig,
    server_name: Option<&str>,
) -> Result<HandshakeInfo, Error> {
    blocking(sock, || {
        let params = sock.local_transport_params_ext()?;
        let version = version_of(sock);
        let mut tls = match server_name {
            Some(n) => TlsSession::new_client(config, version, &params, n)?,
            None => TlsSession::new(config, version, &params)?,
        };
        drive(&mut SockIo(sock), &mut tls)?;
        Ok(finish(sock, tls))
    })
}

/// Server handshake on a socket returned by `accept()` (its receive queue holds the
/// ClientHello): blocks until the connection is up, bounded by the socket's `SO_RCVTIMEO` per
/// wait.
pub fn server_handshake(sock: &Socket, config: &TlsConfig) -> Result<HandshakeInfo, Error> {
    blocking(sock, || {
        let params = sock.local_transport_params_ext()?;
        let mut tls = TlsSession::new(config, version_of(sock), &params)?;
        drive(&mut SockIo(sock), &mut tls)?;
        Ok(finish(sock, tls))
    })
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::{channel, Receiver, Sender};
    use std::thread;
    use std::time::Duration;

    use rcgen::{CertificateParams, KeyPair};
    use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

    use super::*;

    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Ev {
        Secret(Level, bool),
        Params,
        Send(Level),
        Recv(Level),
    }

    /// One end of an in-memory "kernel": CRYPTO chunks travel over channels; every call is
    /// logged so the tests can check the order the contract demands.
    struct Fake {
        tx: Option<Sender<(Level, Vec<u8>)>>,
        rx: Receiver<(Level, Vec<u8>)>,
        log: Vec<Ev>,
        /// Bytes of a received chunk not yet handed out (the kernel returns one level per
        /// call, possibly in pieces).
        pending: Option<(Level, Vec<u8>)>,
        /// Largest piece a recv returns.
        piece: usize,
    }

    fn fake_pair(piece: usize) -> (Fake, Fake) {
        let (t1, r1) = channel();
        let (t2, r2) = channel();
        let mk = |tx, rx| Fake {
            tx: Some(tx),
            rx,
            log: Vec::new(),
            pending: None,
            piece,
        };
        (mk(t1, r2), mk(t2, r1))
    }

    impl HandshakeIo for Fake {
        fn install_secret(&mut self, s: &Secret) -> io::Result<()> {
            self.log.push(Ev::Secret(s.level, s.send));
            Ok(())
        }
        fn set_peer_params(&mut self, ext: &[u8]) -> io::Result<()> {
            assert!(!ext.is_empty());
            self.log.push(Ev::Params);
            Ok(())
        }
        fn send(&mut self, level: Level, data: &[u8]) -> io::Result<()> {
            self.log.push(Ev::Send(level));
            let tx = self.tx.as_ref().ok_or(io::ErrorKind::BrokenPipe)?;
            tx.send((level, data.to_vec()))
                .map_err(|_| io::ErrorKind::BrokenPipe.into())
        }
        fn recv(&mut self, buf: &mut [u8]) -> Result<(Level, usize), Error> {
            let (level, mut data) = match self.pending.take() {
                Some(p) => p,
                None => self
                    .rx
                    .recv_timeout(Duration::from_secs(10))
                    .map_err(|_| Error::Io(io::ErrorKind::TimedOut.into()))?,
            };
            let n = data.len().min(self.piece).min(buf.len());
            buf[..n].copy_from_slice(&data[..n]);
            if n < data.len() {
                self.pending = Some((level, data.split_off(n)));
            }
            self.log.push(Ev::Recv(level));
            Ok((level, n))
        }
        fn close(&mut self, _code: u64, _reason: &str) {
            self.tx = None;
        }
    }

    fn configs(client_alpn: &str, server_alpn: &str) -> (TlsConfig, TlsConfig) {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["kquic.test".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let der = CertificateDer::from(cert.der().to_vec());
        let server = TlsConfig::server()
            .cert_der(vec![der.clone()])
            .key_der(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
                key.serialize_der(),
            )))
            .alpn(server_alpn)
            .build()
            .unwrap();
        let client = TlsConfig::client()
            .ca_der(der)
            .server_name("kquic.test")
            .alpn(client_alpn)
            .build()
            .unwrap();
        (client, server)
    }

    type Side = (Result<(), Error>, Vec<Ev>, TlsSession);

    fn run(piece: usize, client_alpn: &str, server_alpn: &str) -> (Side, Side) {
        let (ccfg, scfg) = configs(client_alpn, server_alpn);
        let (mut cio, mut sio) = fake_pair(piece);
        let server = thread::spawn(move || {
            let mut tls = TlsSession::new(&scfg, QuicVersion::V1, b"server-params").unwrap();
            let r = drive(&mut sio, &mut tls);
            (r, sio.log, tls)
        });
        let mut tls = TlsSession::new(&ccfg, QuicVersion::V1, b"client-params").unwrap();
        let r = drive(&mut cio, &mut tls);
        // A client failure closes its end; the server's recv then times out or fails.
        drop(cio.tx.take());
        let c = (r, cio.log, tls);
        (c, server.join().unwrap())
    }

    fn pos(log: &[Ev], ev: &Ev) -> usize {
        log.iter()
            .position(|e| e == ev)
            .unwrap_or_else(|| panic!("{ev:?} missing from {log:?}"))
    }

    fn check_order(log: &[Ev], server: bool) {
        let app_send = Ev::Secret(Level::App, true);
        // The APP send secret is installed exactly once, after every other secret, the
        // transport parameters and every non-APP send.
        assert_eq!(log.iter().filter(|e| **e == app_send).count(), 1, "{log:?}");
        let at = pos(log, &app_send);
        for (i, e) in log.iter().enumerate() {
            match e {
                Ev::Secret(..) | Ev::Params | Ev::Send(Level::Initial | Level::Handshake) => {
                    assert!(i <= at, "{e:?} after the APP send secret: {log:?}")
                }
                Ev::Send(Level::App) => assert!(i > at, "APP output before its secret: {log:?}"),
                _ => {}
            }
        }
        assert_eq!(log.iter().filter(|e| **e == Ev::Params).count(), 1);
        if server {
            // The server completes only once it has read the client's Finished: its last
            // receive comes before the APP send secret.
            let last_recv = log.iter().rposition(|e| matches!(e, Ev::Recv(_))).unwrap();
            assert!(last_recv < at, "{log:?}");
            assert_eq!(log[last_recv], Ev::Recv(Level::Handshake));
        } else {
            // The client has queued its Finished (a Handshake-level send) just before.
            assert_eq!(log[at - 1], Ev::Send(Level::Handshake), "{log:?}");
            assert!(!log.contains(&Ev::Send(Level::App)));
        }
    }

    #[test]
    fn handshake_follows_the_kernel_contract() {
        for piece in [usize::MAX, 100, 1] {
            let ((cr, clog, ctls), (sr, slog, stls)) = run(piece, "h3,smbd", "smbd");
            cr.unwrap();
            sr.unwrap();
            check_order(&clog, false);
            check_order(&slog, true);
            assert_eq!(ctls.alpn(), Some(&b"smbd"[..]));
            assert_eq!(stls.alpn(), Some(&b"smbd"[..]));
            assert_eq!(ctls.peer_transport_params(), Some(&b"server-params"[..]));
            assert_eq!(stls.peer_transport_params(), Some(&b"client-params"[..]));
            // The server's tickets go out at APP level after completion.
            assert!(slog.contains(&Ev::Send(Level::App)));
        }
    }

    #[test]
    fn tls_failure_is_reported() {
        let ((cr, _, _), (sr, _, _)) = run(usize::MAX, "h3", "smbd");
        // No common ALPN: the server refuses with an alert (0x100 + 120).
        match sr {
            Err(Error::Tls(e)) => assert_eq!(e.error_code(), Some(0x100 + 120)),
            other => panic!("server: {other:?}"),
        }
        assert!(cr.is_err());
        assert_eq!(Error::Protocol(String::new()).raw_os_error(), libc::EPROTO);
        assert_eq!(
            Error::Io(io::ErrorKind::TimedOut.into()).raw_os_error(),
            libc::ETIMEDOUT
        );
    }
}
