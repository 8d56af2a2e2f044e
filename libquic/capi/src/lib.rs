//! The rustls backend of kquic's C library (`libquic.so`/`libquic.a`).
//!
//! `quic_client_handshake()`/`quic_server_handshake()` (in `libquic/c/libquic.c`) call these
//! functions for certificate mode; they run [`quic::ksock`]'s handshake driver over the
//! caller's socket with a [`quic::tls::TlsConfig`] built from the C arguments. The C side
//! keeps the exported names; these are internal (`libquic/c/libquic.map` hides them).

use std::ffi::{c_char, c_int, CStr};
use std::mem::ManuallyDrop;
use std::os::fd::{FromRawFd, IntoRawFd};
use std::panic::{catch_unwind, AssertUnwindSafe};

use quic::ksock::{self, Socket};
use quic::tls::{TlsConfig, TlsError};

/// How the client checks the server, from `quic_client_handshake()`'s arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientVerify {
    /// A host name: SNI, and the certificate is verified against the system trust store for it.
    Host(String),
    /// No host name: as lxin/quic, the server certificate is not verified.
    None,
}

/// The client configuration `quic_client_handshake(fd, NULL, hostname, alpns)` uses; with
/// `identity`, a PEM file holding the client's private key and certificate chain
/// (`quic_client_handshake(fd, "client.pem", hostname, alpns)`, for servers that require client
/// certificates).
pub fn client_config(
    verify: &ClientVerify,
    alpns: Option<&str>,
    identity: Option<&str>,
) -> Result<TlsConfig, TlsError> {
    let mut b = TlsConfig::client();
    if let Some(f) = identity {
        b = b.key_file(f).cert_file(f);
    }
    b = match verify {
        ClientVerify::Host(h) => b.system_roots().server_name(h),
        ClientVerify::None => b.dangerous_no_verify(),
    };
    if let Some(a) = alpns.filter(|a| !a.is_empty()) {
        b = b.alpn(a);
    }
    b.build()
}

/// Client certificates a server asks for: `QUIC_SOCKOPT_CONFIG.certificate_request` of its
/// socket, with GnuTLS's values (as lxin/quic's handshake uses it): 0 none, 1 request (a
/// certificate sent must verify), 2 (and 3) require.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientCerts {
    /// None asked for.
    Ignore,
    /// Asked for, optional.
    Request,
    /// Required.
    Require,
}

impl ClientCerts {
    /// From `quic_config.certificate_request`.
    pub fn from_config(v: u8) -> Self {
        match v {
            0 => Self::Ignore,
            1 => Self::Request,
            _ => Self::Require,
        }
    }
}

/// The server configuration `quic_server_handshake(fd, key, cert, alpns)` uses. Client
/// certificates, when asked for, are verified against the system's CA bundle
/// (`SSL_CERT_FILE`, else the distribution's bundle), as the client verifies servers.
pub fn server_config(
    key: &str,
    cert: &str,
    alpns: Option<&str>,
    client_certs: ClientCerts,
) -> Result<TlsConfig, TlsError> {
    let mut b = TlsConfig::server().key_file(key).cert_file(cert);
    if client_certs != ClientCerts::Ignore {
        b = b
            .client_auth_system_roots()
            .client_auth_optional(client_certs == ClientCerts::Request);
    }
    if let Some(a) = alpns.filter(|a| !a.is_empty()) {
        b = b.alpn(a);
    }
    b.build()
}

/// A negative errno for a configuration failure: a file that cannot be read keeps its errno.
fn config_errno(e: &TlsError, files: &[&str]) -> c_int {
    if let Some(errno) = e.os_error() {
        return -errno;
    }
    for f in files {
        if let Err(io) = std::fs::metadata(f) {
            return -io.raw_os_error().unwrap_or(libc::ENOENT);
        }
    }
    match e {
        TlsError::PskUnsupported | TlsError::CipherUnsupported(_) => -libc::EOPNOTSUPP,
        _ => -libc::EINVAL,
    }
}

/// `NULL` → `None`; text that is not UTF-8 → `Err(-EINVAL)`.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string valid for the call.
unsafe fn opt_str<'a>(p: *const c_char) -> Result<Option<&'a str>, c_int> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller promises a NUL-terminated string.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str().map(Some).map_err(|_| -libc::EINVAL)
}

/// Runs `f` over a borrowed socket: the caller keeps the fd open.
fn with_borrowed(fd: c_int, f: impl FnOnce(&Socket) -> Result<(), ksock::Error>) -> c_int {
    if fd < 0 {
        return -libc::EBADF;
    }
    // SAFETY: the fd stays open for the call (the C caller owns it); ManuallyDrop and
    // into_raw_fd below make sure this Socket never closes it.
    let sock = ManuallyDrop::new(unsafe { Socket::from_raw_fd(fd) });
    let r = catch_unwind(AssertUnwindSafe(|| f(&sock)));
    // Give the fd back without closing it; the TLS session kept in the Socket is dropped.
    let _ = ManuallyDrop::into_inner(sock).into_raw_fd();
    match r {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => {
            let errno = e.raw_os_error();
            -if errno > 0 { errno } else { libc::EIO }
        }
        Err(_) => -libc::EIO,
    }
}

/// Certificate-mode client handshake (the rustls backend of `quic_client_handshake`);
/// `identity` (NULL: none) is a PEM file with the client's key and certificate chain.
///
/// # Safety
/// `identity`, `hostname` and `alpns` are NULL or NUL-terminated strings valid for the call;
/// `fd` is an open socket the caller keeps.
#[no_mangle]
pub unsafe extern "C" fn kquic_rustls_client_handshake(
    fd: c_int,
    identity: *const c_char,
    hostname: *const c_char,
    alpns: *const c_char,
) -> c_int {
    // SAFETY: the caller's contract.
    let args =
        unsafe { opt_str(hostname).and_then(|h| Ok((h, opt_str(alpns)?, opt_str(identity)?))) };
    let (host, alpns, identity) = match args {
        Ok(a) => a,
        Err(e) => return e,
    };
    let verify = match host.filter(|h| !h.is_empty()) {
        Some(h) => ClientVerify::Host(h.to_string()),
        None => ClientVerify::None,
    };
    let cfg = match client_config(&verify, alpns, identity) {
        Ok(c) => c,
        Err(e) => return config_errno(&e, identity.as_slice()),
    };
    with_borrowed(fd, |sock| {
        ksock::client_handshake(sock, &cfg, None).map(drop)
    })
}

/// Certificate-mode server handshake (the rustls backend of `quic_server_handshake`).
///
/// # Safety
/// `pkey_file`, `cert_file` and `alpns` are NULL or NUL-terminated strings valid for the
/// call; `fd` is an open socket the caller keeps.
#[no_mangle]
pub unsafe extern "C" fn kquic_rustls_server_handshake(
    fd: c_int,
    pkey_file: *const c_char,
    cert_file: *const c_char,
    alpns: *const c_char,
) -> c_int {
    // SAFETY: the caller's contract.
    let args =
        unsafe { opt_str(pkey_file).and_then(|k| Ok((k, opt_str(cert_file)?, opt_str(alpns)?))) };
    let (Some(key), Some(cert), alpns) = (match args {
        Ok(a) => a,
        Err(e) => return e,
    }) else {
        return -libc::EINVAL;
    };
    // A socket without QUIC_SOCKOPT_CONFIG (a bad fd, not a QUIC socket) asks for no client
    // certificate; the configuration's file errors come first, then the handshake reports
    // what is wrong with the socket.
    let certificate_request = if fd < 0 {
        0
    } else {
        // SAFETY: the fd stays open for the call (the C caller owns it); ManuallyDrop and
        // into_raw_fd make sure this Socket never closes it.
        let sock = ManuallyDrop::new(unsafe { Socket::from_raw_fd(fd) });
        let v = sock.config().map_or(0, |c| c.certificate_request);
        let _ = ManuallyDrop::into_inner(sock).into_raw_fd();
        v
    };
    let client_certs = ClientCerts::from_config(certificate_request);
    let cfg = match server_config(key, cert, alpns, client_certs) {
        Ok(c) => c,
        Err(e) => return config_errno(&e, &[key, cert]),
    };
    with_borrowed(fd, |sock| ksock::server_handshake(sock, &cfg).map(drop))
}

#[cfg(test)]
mod tests {
    use std::ffi::CString;

    use super::*;

    #[test]
    fn missing_files_keep_their_errno() {
        let key = CString::new("/nonexistent/key.pem").unwrap();
        let cert = CString::new("/nonexistent/cert.pem").unwrap();
        // SAFETY: valid strings; fd 0 is never touched because the configuration fails first.
        let r =
            unsafe { kquic_rustls_server_handshake(0, key.as_ptr(), cert.as_ptr(), c"a".as_ptr()) };
        assert_eq!(r, -libc::ENOENT);
    }

    #[test]
    fn server_needs_key_and_cert() {
        // SAFETY: NULL strings are allowed.
        let r = unsafe {
            kquic_rustls_server_handshake(0, std::ptr::null(), std::ptr::null(), std::ptr::null())
        };
        assert_eq!(r, -libc::EINVAL);
    }

    #[test]
    fn bad_fd_is_ebadf() {
        // SAFETY: NULL strings are allowed.
        let r = unsafe {
            kquic_rustls_client_handshake(-1, std::ptr::null(), std::ptr::null(), c"h3".as_ptr())
        };
        assert_eq!(r, -libc::EBADF);
    }

    #[test]
    fn non_utf8_alpn_is_einval() {
        let bad = [0xffu8 as c_char, 0];
        // SAFETY: a NUL-terminated buffer.
        let r = unsafe {
            kquic_rustls_client_handshake(0, std::ptr::null(), std::ptr::null(), bad.as_ptr())
        };
        assert_eq!(r, -libc::EINVAL);
    }

    #[test]
    fn client_configs() {
        assert!(client_config(&ClientVerify::None, Some("h3,smb"), None).is_ok());
        // An empty entry in the list is an error of the ALPN parser.
        assert!(client_config(&ClientVerify::None, Some("h3,,x"), None).is_err());
    }

    #[test]
    fn missing_client_identity_is_enoent() {
        let id = CString::new("/nonexistent/client.pem").unwrap();
        // SAFETY: valid strings; fd 0 is never touched because the configuration fails first.
        let r = unsafe {
            kquic_rustls_client_handshake(0, id.as_ptr(), std::ptr::null(), std::ptr::null())
        };
        assert_eq!(r, -libc::ENOENT);
    }

    #[test]
    fn certificate_request_values() {
        assert_eq!(ClientCerts::from_config(0), ClientCerts::Ignore);
        assert_eq!(ClientCerts::from_config(1), ClientCerts::Request);
        assert_eq!(ClientCerts::from_config(2), ClientCerts::Require);
        assert_eq!(ClientCerts::from_config(3), ClientCerts::Require);
    }
}
