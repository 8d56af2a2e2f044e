//! Errors of the TLS adapter and their QUIC CONNECTION_CLOSE codes.

use core::fmt;
use std::io;
use std::path::PathBuf;

use super::types::Cipher;

/// QUIC transport error INTERNAL_ERROR (RFC 9000 section 20.1).
pub const INTERNAL_ERROR: u64 = 0x01;
/// QUIC transport error PROTOCOL_VIOLATION.
pub const PROTOCOL_VIOLATION: u64 = 0x0a;
/// Base of the CRYPTO_ERROR range: a TLS alert `a` closes the connection with `0x100 + a`.
pub const CRYPTO_ERROR_BASE: u64 = 0x100;

/// TLS alert unexpected_message.
pub const ALERT_UNEXPECTED_MESSAGE: u8 = 10;
/// TLS alert internal_error.
pub const ALERT_INTERNAL_ERROR: u8 = 80;

/// An error of the TLS adapter.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsError {
    /// Invalid, incomplete or inconsistent configuration.
    Config(String),
    /// A certificate, key or CA file (or PEM text) could not be parsed.
    Pem(String),
    /// A certificate, key or CA file could not be opened or read (missing, unreadable): the
    /// I/O error, kept with its kind and `errno` so that callers can tell `ENOENT` from a bad
    /// file. Converts into an [`io::Error`] of the same kind.
    File {
        /// What the file is for ("certificate file", "key file", "CA file", ...).
        what: String,
        /// The path given.
        path: PathBuf,
        /// The I/O error's kind (`NotFound`, `PermissionDenied`, ...).
        kind: io::ErrorKind,
        /// The OS error number, if the OS gave one.
        errno: Option<i32>,
    },
    /// Pre-shared-key (external PSK) authentication was requested: rustls has no external PSK
    /// support, so only certificate mode is available.
    PskUnsupported,
    /// A cipher was requested that rustls does not implement (TLS_AES_128_CCM_SHA256).
    CipherUnsupported(Cipher),
    /// The handshake failed. Close the connection with `code`: `0x100 + alert` for a TLS alert,
    /// or a QUIC transport error code.
    Handshake {
        /// QUIC CONNECTION_CLOSE error code.
        code: u64,
        /// The TLS alert behind the failure, if any.
        alert: Option<u8>,
        /// What went wrong.
        reason: String,
    },
}

impl TlsError {
    pub(crate) fn alert(alert: u8, reason: impl Into<String>) -> Self {
        Self::Handshake {
            code: CRYPTO_ERROR_BASE + u64::from(alert),
            alert: Some(alert),
            reason: reason.into(),
        }
    }

    pub(crate) fn transport(code: u64, reason: impl Into<String>) -> Self {
        Self::Handshake {
            code,
            alert: None,
            reason: reason.into(),
        }
    }

    pub(crate) fn internal(reason: impl Into<String>) -> Self {
        Self::alert(ALERT_INTERNAL_ERROR, reason)
    }

    /// The QUIC CONNECTION_CLOSE error code of a handshake failure; `None` for local
    /// configuration errors.
    pub fn error_code(&self) -> Option<u64> {
        match self {
            Self::Handshake { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// A file error from the I/O error that opening or reading `path` gave.
    pub(crate) fn file(what: &str, path: &std::path::Path, e: &io::Error) -> Self {
        Self::File {
            what: what.to_owned(),
            path: path.to_owned(),
            kind: e.kind(),
            errno: e.raw_os_error(),
        }
    }

    /// The `errno` of a file error (`ENOENT` for a missing file); `None` for other errors.
    pub fn os_error(&self) -> Option<i32> {
        match self {
            Self::File { errno, .. } => *errno,
            _ => None,
        }
    }

    /// The TLS alert of a handshake failure, if it came from one.
    pub fn tls_alert(&self) -> Option<u8> {
        match self {
            Self::Handshake { alert, .. } => *alert,
            _ => None,
        }
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(m) => write!(f, "invalid TLS configuration: {m}"),
            Self::Pem(m) => write!(f, "PEM: {m}"),
            Self::File {
                what,
                path,
                kind,
                errno,
            } => {
                let e = errno.map_or_else(|| io::Error::from(*kind), io::Error::from_raw_os_error);
                write!(f, "{what} {}: {e}", path.display())
            }
            Self::PskUnsupported => {
                f.write_str("pre-shared key mode is not supported by the rustls backend")
            }
            Self::CipherUnsupported(c) => write!(f, "cipher {c:?} is not supported by rustls"),
            Self::Handshake { code, reason, .. } => {
                write!(f, "handshake failed (error code {code:#x}): {reason}")
            }
        }
    }
}

impl std::error::Error for TlsError {}

impl From<TlsError> for io::Error {
    /// File errors keep their kind (`NotFound` for a missing certificate, key or CA file);
    /// configuration errors are `InvalidInput`, handshake failures `Other`.
    fn from(e: TlsError) -> Self {
        let kind = match &e {
            TlsError::File { kind, .. } => *kind,
            TlsError::Config(_)
            | TlsError::Pem(_)
            | TlsError::PskUnsupported
            | TlsError::CipherUnsupported(_) => io::ErrorKind::InvalidInput,
            TlsError::Handshake { .. } => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}
