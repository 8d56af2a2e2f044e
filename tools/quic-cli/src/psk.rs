//! `--psk FILE`: pre-shared-key handshakes through libquic's C library (`libquic.so.1`, its
//! GnuTLS backend; rustls has no external PSKs), loaded at run time so that the tool neither
//! links GnuTLS nor needs it for certificates. The file is lxin/quic's PSK format, which
//! libquic reads: `identity:hexkey` lines (the client uses the first, the server any).
//!
//! `QUIC_LIBQUIC` names the library (a path, or a soname searched the usual way); default
//! `libquic.so.1`.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::os::fd::AsRawFd;
use std::path::Path;

use quic::ksock::Socket;

use crate::common::{err, Context, Result};

/// The library's default name (its soname).
pub(crate) const DEFAULT_LIBRARY: &str = "libquic.so.1";

/// `quic_client_handshake(sockfd, pkey_file, hostname, alpns)` and
/// `quic_server_handshake(sockfd, pkey_file, cert_file, alpns)` (include/netinet/quic.h).
type HandshakeFn =
    unsafe extern "C" fn(c_int, *const c_char, *const c_char, *const c_char) -> c_int;

fn dlerror_text() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated string valid until the next dl* call
    // on this thread; it is copied at once.
    let p = unsafe { libc::dlerror() };
    if p.is_null() {
        "unknown dynamic loader error".into()
    } else {
        // SAFETY: p is non-NULL and NUL-terminated (above).
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
}

/// The library name to load: `QUIC_LIBQUIC`, else [`DEFAULT_LIBRARY`].
pub(crate) fn library_name() -> String {
    std::env::var("QUIC_LIBQUIC")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_LIBRARY.to_string())
}

/// Checks that the PSK file can be read (a clear error before anything is sent) and returns
/// it as a C string.
pub(crate) fn check_file(path: &Path) -> Result<CString> {
    std::fs::File::open(path).ctx(format_args!("--psk {}", path.display()))?;
    let text = std::fs::read_to_string(path).ctx(format_args!("--psk {}", path.display()))?;
    if !text
        .lines()
        .map(str::trim)
        .any(|l| !l.is_empty() && !l.starts_with('#') && valid_line(l))
    {
        return Err(err(format!(
            "--psk {}: no \"identity:hexkey\" line",
            path.display()
        )));
    }
    CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| err("--psk: the path holds a NUL byte"))
}

/// An `identity:hexkey` line.
fn valid_line(l: &str) -> bool {
    match l.split_once(':') {
        Some((id, key)) => {
            !id.is_empty()
                && !key.is_empty()
                && key.len() % 2 == 0
                && key.bytes().all(|b| b.is_ascii_hexdigit())
        }
        None => false,
    }
}

/// `gnutls_strerror(int)`.
type StrerrorFn = unsafe extern "C" fn(c_int) -> *const c_char;

/// A loaded libquic: its two whole-handshake entry points, and GnuTLS's error names (found
/// through libquic's dependencies).
pub(crate) struct CLib {
    client: HandshakeFn,
    server: HandshakeFn,
    strerror: Option<StrerrorFn>,
}

impl CLib {
    /// Loads [`library_name`]. It stays loaded for the life of the process.
    pub(crate) fn open() -> Result<Self> {
        let name = library_name();
        let cname = CString::new(name.as_str()).map_err(|e| err(e.to_string()))?;
        // SAFETY: cname is NUL-terminated; loading runs the library's initialisers, which is
        // what loading it is for.
        let h = unsafe { libc::dlopen(cname.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if h.is_null() {
            return Err(err(format!(
                "--psk needs libquic's C library (GnuTLS backend): {} (set QUIC_LIBQUIC to its path)",
                dlerror_text()
            )));
        }
        let sym = |s: &CStr| -> Result<*mut c_void> {
            // SAFETY: h is a live handle from dlopen; s is NUL-terminated.
            let p = unsafe { libc::dlsym(h, s.as_ptr()) };
            if p.is_null() {
                Err(err(format!(
                    "{name}: no {}: {}",
                    s.to_string_lossy(),
                    dlerror_text()
                )))
            } else {
                Ok(p)
            }
        };
        let client = sym(c"quic_client_handshake")?;
        let server = sym(c"quic_server_handshake")?;
        let strerror = sym(c"gnutls_strerror").ok();
        // SAFETY: the two handshake symbols are functions of the HandshakeFn signature, as
        // include/netinet/quic.h declares them, and gnutls_strerror is `const char
        // *gnutls_strerror(int)`; function and data pointers have the same size and
        // representation on Linux.
        unsafe {
            Ok(Self {
                client: std::mem::transmute::<*mut c_void, HandshakeFn>(client),
                server: std::mem::transmute::<*mut c_void, HandshakeFn>(server),
                strerror: strerror.map(|p| std::mem::transmute::<*mut c_void, StrerrorFn>(p)),
            })
        }
    }

    /// A PSK handshake on `sock` as the client or the server, ALPN list `alpns` (empty: none).
    pub(crate) fn handshake(
        &self,
        client: bool,
        sock: &Socket,
        psk: &CStr,
        alpns: &str,
    ) -> Result<()> {
        let alpns = CString::new(alpns).map_err(|_| err("--alpn holds a NUL byte"))?;
        let alpns_ptr = if alpns.is_empty() {
            std::ptr::null()
        } else {
            alpns.as_ptr()
        };
        let f = if client { self.client } else { self.server };
        // SAFETY: the strings are NUL-terminated and outlive the call; a NULL hostname
        // (client) or cert_file (server) selects PSK mode; the socket stays open for the call.
        let r = unsafe { f(sock.as_raw_fd(), psk.as_ptr(), std::ptr::null(), alpns_ptr) };
        if r == 0 {
            return Ok(());
        }
        Err(err(self.describe(r)))
    }

    /// A negative return of libquic: an errno (socket errors), or a GnuTLS error code (TLS
    /// failures, e.g. a wrong key) that it passes on; the two ranges overlap, so both names.
    fn describe(&self, r: c_int) -> String {
        let errno = std::io::Error::from_raw_os_error(-r);
        let tls = self.strerror.and_then(|f| {
            // SAFETY: gnutls_strerror takes any int and returns NULL or a static
            // NUL-terminated string.
            let p = unsafe { f(r) };
            // SAFETY: p is non-NULL (checked) and NUL-terminated.
            (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
        });
        match tls {
            Some(t) if !t.contains("unknown error") => {
                format!("PSK handshake failed: error {r} (GnuTLS: {t}; as errno: {errno})")
            }
            _ => format!("PSK handshake failed: error {r} ({errno})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psk_lines() {
        assert!(valid_line("kquic-test:000102"));
        assert!(!valid_line("kquic-test:0001g2"));
        assert!(!valid_line("kquic-test:001"));
        assert!(!valid_line(":0011"));
        assert!(!valid_line("id:"));
        assert!(!valid_line("no colon"));
    }

    #[test]
    fn missing_and_bad_files_are_clear() {
        let e = check_file(Path::new("/nonexistent/psk.txt")).unwrap_err().0;
        assert!(
            e.contains("/nonexistent/psk.txt") && e.contains("No such file"),
            "{e}"
        );
        let e = check_file(Path::new("/dev/null")).unwrap_err().0;
        assert!(e.contains("identity:hexkey"), "{e}");
        let dir = std::env::temp_dir().join(format!("quic-cli-psk-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("psk.txt");
        std::fs::write(&f, "# comment\n\nid:00ff\n").unwrap();
        assert!(check_file(&f).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn library_is_named_by_the_environment() {
        // Only reads: the default when QUIC_LIBQUIC is not set in the test environment.
        if std::env::var_os("QUIC_LIBQUIC").is_none() {
            assert_eq!(library_name(), DEFAULT_LIBRARY);
        }
    }
}
