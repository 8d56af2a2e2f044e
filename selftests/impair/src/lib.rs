//! Shared parts of `quic_impair` and `quic_lifecycle`, two kselftest-style programs run in the
//! VM with quic.ko loaded: TLS configurations, sockets and transfers over `IPPROTO_QUIC`
//! (libquic's `ksock`), network namespaces joined by veth (`netns`), what the kernel says about
//! the module and our tasks (`sys`), and the runner that puts every case in a process of its
//! own under a watchdog (`runner`).

use std::fmt::Display;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use quic::ksock::{Recv, SockType, Socket};
use quic::tls::TlsConfig;
use quic_uapi::{MSG_QUIC_STREAM_FIN, MSG_QUIC_STREAM_NEW};
use rcgen::{CertificateParams, KeyPair};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};

pub mod netns;
pub mod runner;
pub mod sys;

/// The ALPN both ends use.
pub const ALPN: &str = "kquic-test";
/// The name the server's certificate is for.
pub const SERVER_NAME: &str = "kquic.test";
/// Bytes per sendmsg / recvmsg.
pub const CHUNK: usize = 64 * 1024;

/// How many times slower than the default kernel the running one is: 3 on the debug flavour
/// (KASAN, lockdep, kmemleak; its release ends in `-debug`), else 1. Watchdogs and wake-up
/// limits are multiplied by it.
pub fn slowdown() -> u32 {
    static F: OnceLock<u32> = OnceLock::new();
    *F.get_or_init(|| {
        let r = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        if r.trim().ends_with("-debug") {
            3
        } else {
            1
        }
    })
}

/// A test's result: `Err` carries the reason.
pub type TResult = Result<(), String>;

/// Prints a TAP comment line.
#[macro_export]
macro_rules! note {
    ($($a:tt)*) => { println!("# {}", format!($($a)*)) };
}

/// Fails the test with a message unless `cond` holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($a:tt)*) => {
        if !$cond {
            return Err(format!($($a)*));
        }
    };
}

/// Adds what was being done to an error.
pub trait Context<T> {
    /// `Err(e)` becomes `Err("what: e")`.
    fn ctx(self, what: &str) -> Result<T, String>;
}

impl<T, E: Display> Context<T> for Result<T, E> {
    fn ctx(self, what: &str) -> Result<T, String> {
        self.map_err(|e| format!("{what}: {e}"))
    }
}

/// The symbolic name of an errno value.
pub fn errno_name(e: i32) -> String {
    let name = match e {
        libc::EINVAL => "EINVAL",
        libc::ENOTCONN => "ENOTCONN",
        libc::EAGAIN => "EAGAIN",
        libc::EPIPE => "EPIPE",
        libc::ECONNRESET => "ECONNRESET",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::ECONNABORTED => "ECONNABORTED",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::EBUSY => "EBUSY",
        libc::EBADF => "EBADF",
        libc::EINTR => "EINTR",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::EHOSTUNREACH => "EHOSTUNREACH",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::ESHUTDOWN => "ESHUTDOWN",
        libc::EPROTO => "EPROTO",
        libc::ENOBUFS => "ENOBUFS",
        libc::ENOMEM => "ENOMEM",
        libc::EIO => "EIO",
        libc::ENOENT => "ENOENT",
        libc::EPERM => "EPERM",
        _ => return format!("errno {e}"),
    };
    name.to_string()
}

/// An I/O error as its errno name when it has one.
pub fn describe_err(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => errno_name(n),
        None => e.to_string(),
    }
}

/// A call's result in a few words: `success (..)` or the errno.
pub fn describe<T: std::fmt::Debug>(r: &io::Result<T>) -> String {
    match r {
        Ok(v) => format!("success ({v:?})"),
        Err(e) => describe_err(e),
    }
}

/// A panic payload as text.
pub fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        format!("panic: {s}")
    } else if let Some(s) = p.downcast_ref::<String>() {
        format!("panic: {s}")
    } else {
        "panic".to_string()
    }
}

// ------------------------------------------------------------------------------------------------
// TLS and sockets
// ------------------------------------------------------------------------------------------------

/// A matching client and server configuration.
pub struct Tls {
    /// Trusts exactly the server's certificate.
    pub client: TlsConfig,
    /// A self-signed certificate for [`SERVER_NAME`].
    pub server: TlsConfig,
}

/// A self-signed certificate for [`SERVER_NAME`], made now; the client trusts exactly it.
pub fn tls_configs() -> Result<Tls, String> {
    let key = KeyPair::generate().ctx("key generation")?;
    let params = CertificateParams::new(vec![SERVER_NAME.to_string(), "localhost".to_string()])
        .ctx("certificate parameters")?;
    let cert = params.self_signed(&key).ctx("self-signing")?;
    let der = CertificateDer::from(cert.der().to_vec());
    let server = TlsConfig::server()
        .cert_der(vec![der.clone()])
        .key_der(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            key.serialize_der(),
        )))
        .alpn(ALPN)
        .build()
        .ctx("server TLS config")?;
    let client = TlsConfig::client()
        .ca_der(der)
        .server_name(SERVER_NAME)
        .alpn(ALPN)
        .build()
        .ctx("client TLS config")?;
    Ok(Tls { client, server })
}

/// A client configuration that accepts any certificate (for helper processes, whose peer's
/// certificate was made by another process).
pub fn client_no_verify() -> Result<TlsConfig, String> {
    TlsConfig::client()
        .dangerous_no_verify()
        .server_name(SERVER_NAME)
        .alpn(ALPN)
        .build()
        .ctx("client TLS config")
}

/// A stream socket of `addr`'s family with the ALPN set and `SO_RCVTIMEO`/`SO_SNDTIMEO` of
/// `timeout` (`None`: block for ever).
pub fn new_socket(addr: &SocketAddr, timeout: Option<Duration>) -> Result<Socket, String> {
    let s = Socket::for_addr(addr, SockType::Stream).ctx("socket(IPPROTO_QUIC)")?;
    s.set_read_timeout(timeout).ctx("SO_RCVTIMEO")?;
    s.set_write_timeout(timeout).ctx("SO_SNDTIMEO")?;
    s.set_alpn(ALPN).ctx("setsockopt(QUIC_SOCKOPT_ALPN)")?;
    Ok(s)
}

/// Sets the max_idle_timeout transport parameter this end offers (before connect or listen).
pub fn set_idle_timeout(s: &Socket, idle: Duration) -> TResult {
    let mut p = s
        .transport_param(false)
        .ctx("getsockopt(TRANSPORT_PARAM)")?;
    p.max_idle_timeout = u32::try_from(idle.as_micros()).unwrap_or(u32::MAX);
    s.set_transport_param(&p)
        .ctx("setsockopt(TRANSPORT_PARAM max_idle_timeout)")
}

/// A listener bound to `addr` (port 0: ephemeral); returns it with its address.
pub fn listener_on(
    addr: SocketAddr,
    timeout: Option<Duration>,
    idle: Option<Duration>,
) -> Result<(Socket, SocketAddr), String> {
    let s = new_socket(&addr, timeout)?;
    if let Some(idle) = idle {
        set_idle_timeout(&s, idle)?;
    }
    s.bind(&addr).ctx(&format!("bind {addr}"))?;
    s.listen(16).ctx("listen")?;
    let a = s.local_addr().ctx("getsockname(listener)")?;
    Ok((s, a))
}

/// A client socket connected (not handshaken) to `addr`.
pub fn connect_to(
    addr: &SocketAddr,
    timeout: Option<Duration>,
    idle: Option<Duration>,
) -> Result<Socket, String> {
    let s = new_socket(addr, timeout)?;
    if let Some(idle) = idle {
        set_idle_timeout(&s, idle)?;
    }
    s.connect(addr).ctx(&format!("connect {addr}"))?;
    Ok(s)
}

// ------------------------------------------------------------------------------------------------
// Data
// ------------------------------------------------------------------------------------------------

/// `len` bytes of a deterministic pseudo-random sequence named by `seed` (xorshift64*).
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// SHA-256 of `data` in hex.
pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Megabytes (10^6) per second.
pub fn mb_per_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64().max(1e-6)
}

/// `recvmsg` on a stream socket, retried on EINTR.
pub fn recv_retry(s: &Socket, buf: &mut [u8]) -> io::Result<Recv> {
    loop {
        match s.recv(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            r => return r,
        }
    }
}

/// A failed transfer: how far it got and the error.
#[derive(Debug)]
pub struct Failed {
    /// Bytes sent or received before the error.
    pub at: usize,
    /// The error (with an errno when the kernel gave one).
    pub err: io::Error,
}

impl Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} after {} bytes", describe_err(&self.err), self.at)
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Sends all of `data` on stream `sid`: `first_flags` (e.g. NEW) on the first sendmsg only,
/// FIN with the last byte when `fin`.
pub fn send_all(
    s: &Socket,
    data: &[u8],
    sid: i64,
    first_flags: u32,
    fin: bool,
) -> Result<(), Failed> {
    let mut off = 0;
    let mut first = true;
    while off < data.len() || first {
        let end = (off + CHUNK).min(data.len());
        let mut flags = if first { first_flags } else { 0 };
        if fin && end == data.len() {
            flags |= MSG_QUIC_STREAM_FIN;
        }
        match s.send(&data[off..end], sid, flags) {
            Ok(n) if n == 0 && end > off => {
                return Err(Failed {
                    at: off,
                    err: invalid(format!("sendmsg on stream {sid} returned 0")),
                })
            }
            Ok(n) => {
                off += n.min(end - off);
                first = false;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(Failed { at: off, err }),
        }
    }
    Ok(())
}

/// Reads one stream to its FIN: every read must carry stream `sid` (the first read's, when
/// `None`), at most `max` bytes in all. `progress`, when given, follows the bytes read (plus
/// its second member: bytes of the stream read before). Returns the stream id and the data.
pub fn read_to_fin(
    s: &Socket,
    sid: Option<i64>,
    max: usize,
    progress: Option<(&AtomicUsize, usize)>,
) -> Result<(i64, Vec<u8>), Failed> {
    let mut buf = vec![0u8; CHUNK];
    let mut data = Vec::new();
    let mut sid = sid;
    loop {
        let r = recv_retry(s, &mut buf).map_err(|err| Failed {
            at: data.len(),
            err,
        })?;
        let fail = |msg: String, at: usize| Failed {
            at,
            err: invalid(msg),
        };
        if r.len == 0 && !r.fin() {
            return Err(fail(
                "end of file (the connection closed)".into(),
                data.len(),
            ));
        }
        let want = *sid.get_or_insert(r.stream_id);
        if r.stream_id != want {
            return Err(fail(
                format!("data of stream {} while reading stream {want}", r.stream_id),
                data.len(),
            ));
        }
        data.extend_from_slice(&buf[..r.len]);
        if let Some((p, before)) = progress {
            p.store(before + data.len(), Ordering::Relaxed);
        }
        if data.len() > max {
            return Err(fail(format!("more than {max} bytes"), data.len()));
        }
        if r.fin() {
            return Ok((want, data));
        }
    }
}

/// The client side of one echo: sends `msg` on a new stream with FIN and reads it back.
pub fn echo_once(c: &Socket, msg: &[u8]) -> TResult {
    let n = c
        .send(msg, -1, MSG_QUIC_STREAM_NEW | MSG_QUIC_STREAM_FIN)
        .ctx("client sendmsg")?;
    ensure!(n == msg.len(), "sendmsg returned {n}");
    let (_, data) = read_to_fin(c, None, 1 << 16, None).ctx("reading the echo")?;
    ensure!(data == msg, "echo differs ({} bytes)", data.len());
    Ok(())
}

/// The server side of [`echo_once`]; returns what was echoed.
pub fn serve_echo(s: &Socket) -> Result<Vec<u8>, String> {
    let (sid, data) = read_to_fin(s, None, 1 << 16, None).ctx("server reading")?;
    s.send(&data, sid, MSG_QUIC_STREAM_FIN).ctx("server echo")?;
    Ok(data)
}

/// Reads until the connection ends; returns how it ended (`0 (EOF)` or the errno), or an error
/// if it did not within `limit` (data that arrives on the way is discarded and counted).
pub fn wait_closed(s: &Socket, limit: Duration) -> Result<(String, usize), String> {
    let start = std::time::Instant::now();
    let mut buf = vec![0u8; CHUNK];
    let mut bytes = 0;
    loop {
        ensure!(
            start.elapsed() < limit,
            "the connection did not end within {limit:?} ({bytes} bytes read)"
        );
        match recv_retry(s, &mut buf) {
            Ok(r) if r.len == 0 && !r.fin() => return Ok(("0 (EOF)".into(), bytes)),
            Ok(r) => bytes += r.len,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Ok((describe_err(&e), bytes)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_is_deterministic() {
        assert_eq!(pattern(1, 100), pattern(1, 100));
        assert_ne!(pattern(1, 64), pattern(2, 64));
        assert_eq!(pattern(3, 999)[..], pattern(3, 1000)[..999]);
    }

    #[test]
    fn tls_configs_build() {
        tls_configs().unwrap();
        client_no_verify().unwrap();
    }

    #[test]
    fn errno_names() {
        assert_eq!(errno_name(libc::ETIMEDOUT), "ETIMEDOUT");
        assert_eq!(errno_name(9999), "errno 9999");
        let e = io::Error::from_raw_os_error(libc::EPIPE);
        assert_eq!(describe_err(&e), "EPIPE");
    }
}
