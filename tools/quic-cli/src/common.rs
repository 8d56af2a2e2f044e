//! What every subcommand shares: errors with context, opening and configuring sockets, moving
//! stream data, naming what a handshake negotiated, and the `--stats` line.

use std::fmt::{self, Display};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use quic::ksock::{HandshakeInfo, Recv, SockType, Socket};
use quic::tls::{Cipher, QuicVersion};
use quic_uapi::{MSG_QUIC_STREAM_FIN, QUIC_VERSION_V2};

/// Bytes per sendmsg / recvmsg / read of stdin.
pub(crate) const CHUNK: usize = 64 * 1024;

/// An error message, with what was being done prefixed by [`Context::ctx`].
#[derive(Debug)]
pub(crate) struct Error(pub(crate) String);

impl Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

pub(crate) type Result<T> = std::result::Result<T, Error>;

/// An [`Error`] from a message.
pub(crate) fn err(msg: impl Into<String>) -> Error {
    Error(msg.into())
}

/// Prefixes an error with what was being done.
pub(crate) trait Context<T> {
    fn ctx(self, what: impl Display) -> Result<T>;
}

impl<T, E: Display> Context<T> for std::result::Result<T, E> {
    fn ctx(self, what: impl Display) -> Result<T> {
        self.map_err(|e| Error(format!("{what}: {e}")))
    }
}

/// The message for a failed `socket(…, IPPROTO_QUIC)`: the usual cause is a kernel without
/// quic.ko, which gives `EPROTONOSUPPORT`.
pub(crate) fn socket_error(e: &io::Error, addr: &SocketAddr) -> Error {
    let family = if addr.is_ipv4() {
        "AF_INET"
    } else {
        "AF_INET6"
    };
    let hint = match e.raw_os_error() {
        Some(libc::EPROTONOSUPPORT | libc::ESOCKTNOSUPPORT) => {
            " -- quic.ko not loaded? (insmod quic.ko, or modprobe quic)"
        }
        Some(libc::EAFNOSUPPORT) if addr.is_ipv6() => " -- IPv6 disabled in this kernel?",
        _ => "",
    };
    err(format!(
        "socket({family}, SOCK_STREAM, IPPROTO_QUIC): {e}{hint}"
    ))
}

/// A `SOCK_STREAM` QUIC socket for `addr`'s family.
pub(crate) fn open_socket(addr: &SocketAddr) -> Result<Socket> {
    Socket::for_addr(addr, SockType::Stream).map_err(|e| socket_error(&e, addr))
}

/// Sets the options every socket here gets before connect/listen: the ALPN list (skipped when
/// empty) and, for `v2`, `QUIC_SOCKOPT_CONFIG.version = QUIC_VERSION_V2`.
pub(crate) fn configure(sock: &Socket, alpn: &str, v2: bool) -> Result<()> {
    if !alpn.is_empty() {
        sock.set_alpn(alpn)
            .ctx(format_args!("setsockopt(QUIC_SOCKOPT_ALPN, {alpn:?})"))?;
    }
    if v2 {
        let mut c = sock.config().ctx("getsockopt(QUIC_SOCKOPT_CONFIG)")?;
        c.version = QUIC_VERSION_V2;
        sock.set_config(&c)
            .ctx("setsockopt(QUIC_SOCKOPT_CONFIG, version = QUIC_VERSION_V2)")?;
    }
    Ok(())
}

/// Resolves `ADDR:PORT` (`127.0.0.1:4433`, `[::1]:4433`, `localhost:4433`). A name with both
/// kinds of address gives its IPv4 one, matching the default listening address `0.0.0.0`.
pub(crate) fn resolve(target: &str) -> Result<SocketAddr> {
    if let Ok(a) = target.parse() {
        return Ok(a);
    }
    let addrs: Vec<SocketAddr> = target
        .to_socket_addrs()
        .ctx(format_args!("address {target:?} (want ADDR:PORT)"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| err(format!("address {target:?}: no address found")))
}

/// The host part of `ADDR:PORT` (brackets of an IPv6 literal removed): the default SNI.
pub(crate) fn host_part(target: &str) -> &str {
    let host = match target.rfind(':') {
        Some(i) if !target[..i].is_empty() => &target[..i],
        _ => target,
    };
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// The TLS 1.3 name of a suite.
pub(crate) fn cipher_name(c: Option<Cipher>) -> &'static str {
    match c {
        Some(Cipher::Aes128Gcm) => "TLS_AES_128_GCM_SHA256",
        Some(Cipher::Aes256Gcm) => "TLS_AES_256_GCM_SHA384",
        Some(Cipher::Aes128Ccm) => "TLS_AES_128_CCM_SHA256",
        Some(Cipher::Chacha20Poly1305) => "TLS_CHACHA20_POLY1305_SHA256",
        None => "no cipher",
    }
}

/// The QUIC version a socket is configured with, as `v1 (0x00000001)`.
pub(crate) fn version_name(sock: &Socket) -> String {
    match sock.config() {
        Ok(c) => match QuicVersion::from_wire(c.version) {
            Some(QuicVersion::V1) => format!("v1 ({:#010x})", c.version),
            Some(QuicVersion::V2) => format!("v2 ({:#010x})", c.version),
            None => format!("{:#010x}", c.version),
        },
        Err(e) => format!("unknown (QUIC_SOCKOPT_CONFIG: {e})"),
    }
}

/// One line describing a handshake: ALPN, cipher, QUIC version.
pub(crate) fn describe_handshake(sock: &Socket, info: &HandshakeInfo) -> String {
    let alpn = match info.alpn_str() {
        "" => "(none)",
        a => a,
    };
    format!(
        "ALPN {alpn}, {}, QUIC {}{}",
        cipher_name(info.cipher),
        version_name(sock),
        if info.resumed { ", resumed" } else { "" }
    )
}

/// Sends all of `data` on stream `sid`: `first_flags` (e.g. `MSG_QUIC_STREAM_NEW`) go with the
/// first sendmsg, `MSG_QUIC_STREAM_FIN` with the last one when `fin`. An empty `data` with
/// `fin` sends just the FIN.
pub(crate) fn send_all(
    sock: &Socket,
    data: &[u8],
    sid: i64,
    first_flags: u32,
    fin: bool,
) -> io::Result<()> {
    let mut off = 0;
    let mut flags = first_flags;
    loop {
        let end = data.len().min(off + CHUNK);
        let f = if fin && end == data.len() {
            flags | MSG_QUIC_STREAM_FIN
        } else {
            flags
        };
        match sock.send(&data[off..end], sid, f) {
            Ok(0) if end > off => {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    format!("sendmsg on stream {sid} sent nothing"),
                ))
            }
            Ok(n) => {
                off += n.min(end - off);
                flags = 0;
                if off == data.len() {
                    return Ok(());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// `recvmsg` (handshake messages handled by the library), retried on `EINTR`.
pub(crate) fn recv(sock: &Socket, buf: &mut [u8]) -> io::Result<Recv> {
    loop {
        match sock.recv(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            r => return r,
        }
    }
}

/// A read that says the connection is gone: no data, no FIN, no stream.
pub(crate) fn is_eof(r: &Recv) -> bool {
    r.len == 0 && !r.fin() && r.stream_id < 0
}

/// Reads `input` in [`CHUNK`]s until its end, handing each to `f`; returns the bytes read.
pub(crate) fn read_chunks(
    input: &mut dyn Read,
    mut f: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        f(&buf[..n])?;
        total += n as u64;
    }
}

/// Writes a chunk to stdout and flushes it (so an interactive peer sees it at once).
pub(crate) fn to_stdout(data: &[u8]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(data)?;
    out.flush()
}

/// Waits (bounded by `timeout`) until the peer closes the connection; says how it was seen.
/// Data arriving meanwhile (on any stream) is dropped.
pub(crate) fn wait_peer_close(sock: &Socket, timeout: Duration) -> String {
    if let Err(e) = sock.set_read_timeout(Some(timeout)) {
        return format!("not waited for (SO_RCVTIMEO: {e})");
    }
    let start = Instant::now();
    let mut buf = vec![0u8; CHUNK];
    loop {
        match recv(sock, &mut buf) {
            Ok(r) if is_eof(&r) => return "recv returned 0 (end of connection)".into(),
            Ok(_) if start.elapsed() < timeout => {}
            Ok(_) => return "not seen: the peer kept sending".into(),
            Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => {
                return "recv failed with ECONNRESET (CONNECTION_CLOSE received)".into()
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return format!("not seen within {} s", timeout.as_secs())
            }
            Err(e) => return format!("recv failed: {e}"),
        }
    }
}

/// Megabytes (10^6 bytes) per second.
pub(crate) fn mb_per_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64().max(1e-6)
}

/// The `--stats` line.
pub(crate) fn stats_line(sent: u64, received: u64, d: Duration) -> String {
    format!(
        "sent {sent} bytes, received {received} bytes in {:.3} s: {:.2} MB/s",
        d.as_secs_f64(),
        mb_per_s(sent + received, d)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_part_of_targets() {
        assert_eq!(host_part("127.0.0.1:4433"), "127.0.0.1");
        assert_eq!(host_part("[::1]:4433"), "::1");
        assert_eq!(host_part("localhost:1"), "localhost");
        assert_eq!(host_part("example.org"), "example.org");
    }

    #[test]
    fn resolve_literals_and_names() {
        assert_eq!(
            resolve("[::1]:9").unwrap(),
            "[::1]:9".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(resolve("127.0.0.1:4433").unwrap().port(), 4433);
        assert_eq!(
            resolve("localhost:7").unwrap(),
            "127.0.0.1:7".parse::<SocketAddr>().unwrap()
        );
        assert!(resolve("no-port-here").is_err());
    }

    #[test]
    fn missing_module_is_explained() {
        let e = io::Error::from_raw_os_error(libc::EPROTONOSUPPORT);
        let m = socket_error(&e, &"127.0.0.1:1".parse().unwrap()).0;
        assert!(
            m.contains("IPPROTO_QUIC") && m.contains("quic.ko not loaded?"),
            "{m}"
        );
        let e = io::Error::from_raw_os_error(libc::EAFNOSUPPORT);
        let m = socket_error(&e, &"[::1]:1".parse().unwrap()).0;
        assert!(m.contains("AF_INET6") && m.contains("IPv6"), "{m}");
    }

    #[test]
    fn stats_are_megabytes_per_second() {
        let l = stats_line(1_000_000, 1_000_000, Duration::from_secs(2));
        assert_eq!(
            l,
            "sent 1000000 bytes, received 1000000 bytes in 2.000 s: 1.00 MB/s"
        );
    }
}
