//! PSK handshakes, through libquic's C library (`libquic.so.1`, its GnuTLS backend): rustls
//! has no external pre-shared keys. The library is loaded at run time, the first time a PSK
//! request comes, so that the agent neither builds against GnuTLS nor needs it for
//! certificate handshakes.
//!
//! The keys go to the library as a PSK file (`identity:hexkey` lines, the format of the
//! agent's own PSK files and of GnuTLS's) held in a memfd, named by its `/proc/self/fd` path.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::fmt::Write as _;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::config::Psk;
use crate::keys;

/// The library's default name (its soname).
pub const DEFAULT_LIBRARY: &str = "libquic.so.1";

/// `quic_client_handshake(sockfd, pkey_file, hostname, alpns)` and
/// `quic_server_handshake(sockfd, pkey_file, cert_file, alpns)` (include/netinet/quic.h).
type HandshakeFn =
    unsafe extern "C" fn(c_int, *const c_char, *const c_char, *const c_char) -> c_int;

/// The loaded library: its two whole-handshake entry points.
#[derive(Debug)]
pub struct CLib {
    client: HandshakeFn,
    server: HandshakeFn,
}

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

impl CLib {
    /// Loads `name` (a soname searched the usual way, or a path) and looks up the entry
    /// points. The library stays loaded for the life of the process.
    pub fn open(name: &str) -> Result<Self, String> {
        let cname = CString::new(name).map_err(|e| e.to_string())?;
        // SAFETY: cname is NUL-terminated; loading runs the library's initialisers, which is
        // what loading it is for.
        let h = unsafe { libc::dlopen(cname.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if h.is_null() {
            return Err(dlerror_text());
        }
        let sym = |s: &CStr| -> Result<*mut c_void, String> {
            // SAFETY: h is a live handle from dlopen; s is NUL-terminated.
            let p = unsafe { libc::dlsym(h, s.as_ptr()) };
            if p.is_null() {
                Err(format!(
                    "{name}: no {}: {}",
                    s.to_string_lossy(),
                    dlerror_text()
                ))
            } else {
                Ok(p)
            }
        };
        let client = sym(c"quic_client_handshake")?;
        let server = sym(c"quic_server_handshake")?;
        // SAFETY: both symbols are functions of the HandshakeFn signature, as
        // include/netinet/quic.h declares them; a function pointer and a data pointer have the
        // same size and representation on Linux.
        unsafe {
            Ok(Self {
                client: std::mem::transmute::<*mut c_void, HandshakeFn>(client),
                server: std::mem::transmute::<*mut c_void, HandshakeFn>(server),
            })
        }
    }

    /// A PSK handshake on `fd`, as the client (`client`) or the server, with the keys of
    /// `psk_file` and the ALPN list `alpns` (empty: none). 0 or a negative error code (an
    /// errno, or a GnuTLS error).
    pub fn handshake(&self, client: bool, fd: RawFd, psk_file: &CStr, alpns: &str) -> c_int {
        let alpns = CString::new(alpns).unwrap_or_default();
        let alpns_ptr = if alpns.is_empty() {
            std::ptr::null()
        } else {
            alpns.as_ptr()
        };
        let f = if client { self.client } else { self.server };
        // SAFETY: the strings are NUL-terminated and outlive the call; a NULL hostname (client)
        // or cert_file (server) selects PSK mode; fd is a socket the caller keeps open for the
        // call.
        unsafe { f(fd, psk_file.as_ptr(), std::ptr::null(), alpns_ptr) }
    }
}

/// A PSK file in memory (memfd), readable by path while it lives.
#[derive(Debug)]
pub struct PskFile {
    /// Keeps the memfd open while its path is in use.
    _fd: OwnedFd,
    path: CString,
}

impl PskFile {
    /// Writes `psks` as `identity:hexkey` lines.
    pub fn new(psks: &[Psk]) -> io::Result<Self> {
        // SAFETY: the name is NUL-terminated; flags are plain integers.
        let raw = unsafe { libc::memfd_create(c"kquic-psk".as_ptr(), libc::MFD_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: raw was just returned by memfd_create and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut text = String::new();
        for p in psks {
            if p.identity.contains(['\n', '\r', ':']) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "PSK identity {:?} cannot be written to a PSK file",
                        p.identity
                    ),
                ));
            }
            text.push_str(&p.identity);
            text.push(':');
            for b in &p.key {
                let _ = write!(text, "{b:02x}");
            }
            text.push('\n');
        }
        let mut f = std::fs::File::from(fd.try_clone()?);
        f.write_all(text.as_bytes())?;
        // Overwrite the copy in this process's memory; the memfd dies with the handshake.
        // SAFETY: every byte written is ASCII, so the string stays valid UTF-8.
        unsafe { text.as_bytes_mut() }.fill(b'0');
        let path = CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd()))
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        Ok(Self { _fd: fd, path })
    }

    /// Its path.
    pub fn path(&self) -> &CStr {
        &self.path
    }
}

/// A pre-shared key from the keyrings: the key's description is the identity, its payload
/// the key (as tlshd reads them).
pub fn from_keyring(serial: keys::Serial) -> io::Result<Psk> {
    let identity = keys::describe(serial)?.1;
    let key = keys::read(serial)?;
    if key.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("key {serial} is empty"),
        ));
    }
    Ok(Psk { identity, key })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::path::Path;

    #[test]
    fn psk_files_in_memory() {
        let f = PskFile::new(&[
            Psk {
                identity: "client1".into(),
                key: vec![0, 1, 0xab, 0xff],
            },
            Psk {
                identity: "nvme id".into(),
                key: vec![0x10; 2],
            },
        ])
        .unwrap();
        let text = std::fs::read_to_string(f.path().to_str().unwrap()).unwrap();
        assert_eq!(text, "client1:0001abff\nnvme id:1010\n");
        let bad = PskFile::new(&[Psk {
            identity: "a:b".into(),
            key: vec![1],
        }]);
        assert!(bad.is_err());
    }

    #[test]
    fn a_missing_library_is_an_error() {
        let e = CLib::open("libkquic-no-such-library.so.9").unwrap_err();
        assert!(e.contains("libkquic-no-such-library"), "{e}");
        // A library without the entry points.
        let e = CLib::open("libc.so.6").unwrap_err();
        assert!(e.contains("quic_client_handshake"), "{e}");
    }

    /// With the project's C library built (make -C libquic), the entry points are called:
    /// on a socket that is not QUIC they fail (they do not crash, and do not hang).
    #[test]
    fn the_built_library_is_called() {
        let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("../build/libquic/libquic.so.1");
        if !lib.exists() {
            eprintln!("{} not built: skipped", lib.display());
            return;
        }
        let lib = CLib::open(lib.to_str().unwrap()).unwrap();
        let f = PskFile::new(&[Psk {
            identity: "id".into(),
            key: vec![7; 32],
        }])
        .unwrap();
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        udp.set_read_timeout(Some(std::time::Duration::from_millis(200)))
            .unwrap();
        for client in [true, false] {
            let r = lib.handshake(client, udp.as_raw_fd(), f.path(), "smbd");
            assert!(r < 0, "a handshake on a UDP socket returned {r}");
        }
    }

    #[test]
    fn keyring_psks() {
        let Ok(serial) = keys::add(
            "user",
            "kquic-agent-psk-test",
            &[0x42; 32],
            keys::KEY_SPEC_PROCESS_KEYRING,
        ) else {
            // No keyrings here (container): nothing to read back.
            assert!(from_keyring(1).is_err());
            return;
        };
        let p = from_keyring(serial).unwrap();
        assert_eq!(p.identity, "kquic-agent-psk-test");
        assert_eq!(p.key, vec![0x42; 32]);
        assert!(from_keyring(1).is_err());
    }
}
