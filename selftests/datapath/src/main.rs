//! kquic datapath selftests, run in the VM with quic.ko loaded: the userspace TLS handshake
//! over `IPPROTO_QUIC` sockets (libquic's `ksock`), stream transfers, epoll and the errno
//! contract, each between a server thread and a client over 127.0.0.1 or [::1].
//!
//! Output is kselftest TAP (as `selftests/lib/ktap.h` prints it); the exit status is 0 only if
//! every test passed. `KQUIC_TESTS=a,b` runs only the named tests. The socket option and datagram
//! tests (`options.rs`, `datagrams.rs`) skip, naming the gap, where the module is known not to do
//! what the spec says (`live.rs`: `KNOWN_GAPS`); `KQUIC_STRICT=1` fails them instead, and
//! `KQUIC_DISCOVER=1` treats every failed assertion of theirs as a gap, to list them all. Every socket has 10 s send/receive timeouts, and a watchdog ends the run
//! if it hangs anyway.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use quic::ksock::{client_handshake, server_handshake, HandshakeInfo, Recv, SockType, Socket};
use quic::tls::TlsConfig;
use quic_uapi::{
    quic_connection_close, MSG_QUIC_NOTIFICATION, MSG_QUIC_STREAM_DONTWAIT, MSG_QUIC_STREAM_FIN,
    MSG_QUIC_STREAM_NEW, MSG_QUIC_STREAM_UNI, QUIC_EVENT_CONNECTION_CLOSE, QUIC_EVENT_KEY_UPDATE,
    QUIC_EVENT_STREAM_UPDATE, QUIC_SOCKOPT_CONNECTION_CLOSE, QUIC_SOCKOPT_EVENT,
    QUIC_SOCKOPT_KEY_UPDATE, SOL_QUIC,
};
use rcgen::{CertificateParams, KeyPair};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};

const ALPN: &str = "kquic-test";
const SERVER_NAME: &str = "kquic.test";
/// SO_RCVTIMEO / SO_SNDTIMEO of every socket.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes per sendmsg / recvmsg.
const CHUNK: usize = 64 * 1024;
/// The whole run ends (failing) after this long.
const WATCHDOG: Duration = Duration::from_secs(1500);

type TResult = Result<(), String>;

/// A TAP comment line.
macro_rules! note {
    ($($a:tt)*) => { println!("# {}", format!($($a)*)) };
}

/// Fails the test with a message unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($a:tt)*) => {
        if !$cond {
            return Err(format!($($a)*));
        }
    };
}

/// Adds what was being done to an error.
trait Context<T> {
    fn ctx(self, what: &str) -> Result<T, String>;
}

impl<T, E: Display> Context<T> for Result<T, E> {
    fn ctx(self, what: &str) -> Result<T, String> {
        self.map_err(|e| format!("{what}: {e}"))
    }
}

// Every socket option on live and unconnected sockets, and datagrams (after the macros above,
// which they use).
mod datagrams;
mod live;
mod options;

fn errno_name(e: i32) -> String {
    let name = match e {
        libc::EINVAL => "EINVAL",
        libc::ENOTCONN => "ENOTCONN",
        libc::EAGAIN => "EAGAIN",
        libc::EPIPE => "EPIPE",
        libc::ECONNRESET => "ECONNRESET",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::ENOBUFS => "ENOBUFS",
        libc::ENOMEM => "ENOMEM",
        libc::EISCONN => "EISCONN",
        libc::EALREADY => "EALREADY",
        libc::EBADF => "EBADF",
        libc::EFAULT => "EFAULT",
        libc::ESHUTDOWN => "ESHUTDOWN",
        libc::EPROTO => "EPROTO",
        libc::EMSGSIZE => "EMSGSIZE",
        libc::ENOPROTOOPT => "ENOPROTOOPT",
        libc::ENOSPC => "ENOSPC",
        libc::ENOENT => "ENOENT",
        libc::ECONNABORTED => "ECONNABORTED",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::E2BIG => "E2BIG",
        libc::EADDRINUSE => "EADDRINUSE",
        _ => return format!("errno {e}"),
    };
    name.to_string()
}

fn describe<T: std::fmt::Debug>(r: &io::Result<T>) -> String {
    match r {
        Ok(v) => format!("success ({v:?})"),
        Err(e) => match e.raw_os_error() {
            Some(n) => errno_name(n),
            None => e.to_string(),
        },
    }
}

/// `r` must have failed with one of `want`; returns the errno it failed with.
fn expect_errno<T: std::fmt::Debug>(
    r: io::Result<T>,
    want: &[i32],
    what: &str,
) -> Result<i32, String> {
    match r.as_ref().err().and_then(io::Error::raw_os_error) {
        Some(e) if want.contains(&e) => Ok(e),
        _ => Err(format!(
            "{what}: got {}, wanted {}",
            describe(&r),
            want.iter()
                .map(|&e| errno_name(e))
                .collect::<Vec<_>>()
                .join(" or ")
        )),
    }
}

// ------------------------------------------------------------------------------------------------
// Setup: certificate, sockets, a connected pair
// ------------------------------------------------------------------------------------------------

struct Tls {
    client: TlsConfig,
    server: TlsConfig,
}

/// A self-signed certificate for [`SERVER_NAME`], made now; the client trusts exactly it.
fn tls_configs() -> Result<Tls, String> {
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

fn loopback(v6: bool) -> SocketAddr {
    let ip = if v6 {
        IpAddr::V6(Ipv6Addr::LOCALHOST)
    } else {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    };
    SocketAddr::new(ip, 0)
}

fn new_socket(addr: &SocketAddr) -> Result<Socket, String> {
    let s = Socket::for_addr(addr, SockType::Stream).ctx("socket(IPPROTO_QUIC)")?;
    s.set_read_timeout(Some(TIMEOUT)).ctx("SO_RCVTIMEO")?;
    s.set_write_timeout(Some(TIMEOUT)).ctx("SO_SNDTIMEO")?;
    s.set_alpn(ALPN).ctx("setsockopt(QUIC_SOCKOPT_ALPN)")?;
    Ok(s)
}

/// A listener on an ephemeral loopback port.
fn listener(v6: bool) -> Result<(Socket, SocketAddr), String> {
    let s = new_socket(&loopback(v6))?;
    s.bind(&loopback(v6)).ctx("bind")?;
    s.listen(16).ctx("listen")?;
    let addr = s.local_addr().ctx("getsockname(listener)")?;
    ensure!(
        addr.ip() == loopback(v6).ip() && addr.port() != 0,
        "listener bound to {addr}"
    );
    Ok((s, addr))
}

/// A client socket connected (not handshaken) to `addr`.
fn connected(addr: &SocketAddr) -> Result<Socket, String> {
    let s = new_socket(addr)?;
    s.connect(addr).ctx("connect")?;
    Ok(s)
}

/// The server end of a pair, after its handshake.
struct Server {
    sock: Socket,
    /// What accept() said the client's address is.
    peer: SocketAddr,
    info: HandshakeInfo,
    listen_addr: SocketAddr,
}

/// When the server's socket is closed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Linger {
    /// After the client's part is over (so that no test sees a close it did not cause).
    UntilClientDone,
    /// As soon as the server's part returns.
    CloseAtOnce,
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        format!("panic: {s}")
    } else if let Some(s) = p.downcast_ref::<String>() {
        format!("panic: {s}")
    } else {
        "panic".to_string()
    }
}

/// Runs `server` on an accepted, handshaken socket in a thread and `client` on a connected,
/// handshaken one here; passes only if both do.
fn pair<S, C>(tls: &Arc<Tls>, v6: bool, linger: Linger, server: S, client: C) -> TResult
where
    S: FnOnce(&Server) -> TResult + Send + 'static,
    C: FnOnce(&Socket, &HandshakeInfo, SocketAddr) -> TResult,
{
    let (l, addr) = listener(v6)?;
    let (done_tx, done_rx) = mpsc::channel::<()>();
    // A server that closes at once waits for the client's handshake to return first: else its
    // close can overtake the client's last handshake step (which then fails with ECONNRESET).
    let (hs_tx, hs_rx) = mpsc::channel::<()>();
    let stls = tls.clone();
    let h = thread::spawn(move || -> TResult {
        let (sock, peer) = l.accept().ctx("accept")?;
        drop(l);
        sock.set_read_timeout(Some(TIMEOUT)).ctx("SO_RCVTIMEO")?;
        sock.set_write_timeout(Some(TIMEOUT)).ctx("SO_SNDTIMEO")?;
        let info = server_handshake(&sock, &stls.server).ctx("server handshake")?;
        let srv = Server {
            sock,
            peer,
            info,
            listen_addr: addr,
        };
        if linger == Linger::CloseAtOnce {
            let _ = hs_rx.recv_timeout(TIMEOUT);
        }
        let r = server(&srv);
        if linger == Linger::UntilClientDone {
            let _ = done_rx.recv_timeout(Duration::from_secs(60));
        }
        drop(srv);
        r
    });
    let mut keep = None;
    let cr = (|| {
        let c = connected(&addr)?;
        let hs = client_handshake(&c, &tls.client, None).ctx("client handshake");
        let _ = hs_tx.send(());
        let r = hs.and_then(|info| client(&c, &info, addr));
        keep = Some(c);
        r
    })();
    let _ = done_tx.send(());
    let sr = h.join().unwrap_or_else(|p| Err(panic_message(p)));
    drop(keep);
    match (cr, sr) {
        (Ok(()), Ok(())) => Ok(()),
        (Err(c), Ok(())) => Err(format!("client: {c}")),
        (Ok(()), Err(s)) => Err(format!("server: {s}")),
        (Err(c), Err(s)) => Err(format!("client: {c}; server: {s}")),
    }
}

// ------------------------------------------------------------------------------------------------
// Data helpers
// ------------------------------------------------------------------------------------------------

/// `len` bytes of a deterministic pseudo-random sequence named by `seed` (xorshift64*).
fn pattern(seed: u64, len: usize) -> Vec<u8> {
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

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Sends all of `data` on `sid`: `first_flags` (e.g. NEW) on the first sendmsg only, FIN with
/// the last byte when `fin`.
fn send_all(s: &Socket, data: &[u8], sid: i64, first_flags: u32, fin: bool) -> TResult {
    let mut off = 0;
    let mut first = true;
    while off < data.len() || first {
        let end = (off + CHUNK).min(data.len());
        let mut flags = if first { first_flags } else { 0 };
        if fin && end == data.len() {
            flags |= MSG_QUIC_STREAM_FIN;
        }
        match s.send(&data[off..end], sid, flags) {
            Ok(n) => {
                ensure!(
                    n > 0 || end == off,
                    "sendmsg on stream {sid} returned 0 at {off}"
                );
                ensure!(n <= end - off, "sendmsg returned {n} > {}", end - off);
                off += n;
                first = false;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("sendmsg stream {sid} at byte {off}: {e}")),
        }
    }
    Ok(())
}

/// Reads one stream to its FIN: every read must carry stream `sid` (the first read's, when
/// `None`); the FIN read must also have MSG_EOR. Returns the stream id and the data.
fn read_stream(s: &Socket, sid: Option<i64>, max: usize) -> Result<(i64, Vec<u8>), String> {
    let mut buf = vec![0u8; CHUNK];
    let mut data = Vec::new();
    let mut sid = sid;
    loop {
        let r = recv_retry(s, &mut buf).ctx(&format!("recvmsg after {} bytes", data.len()))?;
        let want = *sid.get_or_insert(r.stream_id);
        ensure!(
            r.stream_id == want,
            "data of stream {} while reading stream {want}",
            r.stream_id
        );
        data.extend_from_slice(&buf[..r.len]);
        ensure!(data.len() <= max, "stream {want}: more than {max} bytes");
        if r.fin() {
            ensure!(
                r.eor(),
                "stream {want}: FIN without MSG_EOR (msg_flags {:#x})",
                r.msg_flags
            );
            return Ok((want, data));
        }
        ensure!(
            r.len > 0,
            "stream {want}: 0-byte read without FIN after {} bytes",
            data.len()
        );
    }
}

fn recv_retry(s: &Socket, buf: &mut [u8]) -> io::Result<Recv> {
    loop {
        match s.recv(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            r => return r,
        }
    }
}

fn mb_per_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64().max(1e-6)
}

// ------------------------------------------------------------------------------------------------
// Tests
// ------------------------------------------------------------------------------------------------

fn handshake(tls: &Arc<Tls>, v6: bool) -> TResult {
    let (tx, rx) = mpsc::channel::<SocketAddr>();
    pair(
        tls,
        v6,
        Linger::UntilClientDone,
        move |srv| {
            ensure!(
                srv.info.alpn_str() == ALPN,
                "server negotiated ALPN {:?}",
                srv.info.alpn
            );
            ensure!(srv.info.cipher.is_some(), "server: no cipher");
            let local = srv.sock.local_addr().ctx("server getsockname")?;
            ensure!(
                local == srv.listen_addr,
                "accepted socket's getsockname {local}, listener is {}",
                srv.listen_addr
            );
            let peer = srv.sock.peer_addr().ctx("server getpeername")?;
            ensure!(
                peer == srv.peer,
                "getpeername {peer} but accept() said {}",
                srv.peer
            );
            let client_local = rx
                .recv_timeout(TIMEOUT)
                .ctx("client address not received")?;
            ensure!(
                peer == client_local,
                "server sees the client at {peer}, the client is bound to {client_local}"
            );
            Ok(())
        },
        move |c, info, addr| {
            ensure!(
                info.alpn_str() == ALPN,
                "client negotiated ALPN {:?}",
                info.alpn
            );
            ensure!(info.cipher.is_some(), "client: no cipher");
            let peer = c.peer_addr().ctx("client getpeername")?;
            ensure!(peer == addr, "client getpeername {peer}, server is {addr}");
            let local = c.local_addr().ctx("client getsockname")?;
            ensure!(
                local.ip() == addr.ip() && local.port() != 0,
                "client getsockname {local}"
            );
            note!(
                "{}: client {local} <-> server {peer}, {:?}, ALPN {}",
                if v6 { "v6" } else { "v4" },
                info.cipher.unwrap_or(quic::tls::Cipher::Aes128Gcm),
                info.alpn_str()
            );
            let _ = tx.send(local);
            Ok(())
        },
    )
}

fn handshake_v4(tls: &Arc<Tls>) -> TResult {
    handshake(tls, false)
}

fn handshake_v6(tls: &Arc<Tls>) -> TResult {
    handshake(tls, true)
}

fn stream_echo(tls: &Arc<Tls>) -> TResult {
    pair(
        tls,
        false,
        Linger::UntilClientDone,
        |srv| {
            let (sid, data) = read_stream(&srv.sock, None, 1024)?;
            ensure!(sid == 0, "first client stream is {sid}, wanted 0");
            ensure!(
                data == b"hello",
                "server read {:?}",
                String::from_utf8_lossy(&data)
            );
            let n = srv
                .sock
                .send(&data, sid, MSG_QUIC_STREAM_FIN)
                .ctx("server echo")?;
            ensure!(n == data.len(), "echo sent {n} of {}", data.len());
            Ok(())
        },
        |c, _, _| {
            let n = c
                .send(b"hello", -1, MSG_QUIC_STREAM_NEW | MSG_QUIC_STREAM_FIN)
                .ctx("client sendmsg(stream -1, NEW|FIN)")?;
            ensure!(n == 5, "sendmsg returned {n}");
            let (sid, data) = read_stream(c, Some(0), 1024)?;
            ensure!(
                data == b"hello",
                "echo on stream {sid}: {:?}",
                String::from_utf8_lossy(&data)
            );
            Ok(())
        },
    )
}

fn bulk_10mb_each_way(tls: &Arc<Tls>) -> TResult {
    const LEN: usize = 10 * 1000 * 1000;
    let up = Arc::new(pattern(1, LEN));
    let down = Arc::new(pattern(2, LEN));
    let (up2, down2) = (up.clone(), down.clone());
    pair(
        tls,
        false,
        Linger::UntilClientDone,
        move |srv| {
            let s = &srv.sock;
            // The first read opens the stream; then send back while reading the rest.
            let mut buf = vec![0u8; CHUNK];
            let first = recv_retry(s, &mut buf).ctx("server first recvmsg")?;
            ensure!(first.stream_id == 0, "data on stream {}", first.stream_id);
            let mut got = buf[..first.len].to_vec();
            thread::scope(|sc| {
                let sender = sc.spawn(|| send_all(s, &down2, 0, 0, true));
                let read = if first.fin() {
                    Ok(())
                } else {
                    read_stream(s, Some(0), LEN - got.len()).map(|(_, d)| got.extend(d))
                };
                let sent = sender.join().unwrap_or_else(|p| Err(panic_message(p)));
                read.and(sent.ctx("server sending"))
            })?;
            ensure!(
                got.len() == LEN && sha256_hex(&got) == sha256_hex(&up2),
                "server received {} bytes, SHA-256 {} (sent: {})",
                got.len(),
                sha256_hex(&got),
                sha256_hex(&up2)
            );
            Ok(())
        },
        move |c, _, _| {
            let start = Instant::now();
            let (up_time, got) = thread::scope(|sc| {
                let sender = sc.spawn(|| {
                    let r = send_all(c, &up, 0, MSG_QUIC_STREAM_NEW, true);
                    (r, start.elapsed())
                });
                let got = read_stream(c, Some(0), LEN);
                let (sent, t) = sender
                    .join()
                    .unwrap_or_else(|p| (Err(panic_message(p)), Duration::ZERO));
                sent.ctx("client sending").map(|()| (t, got))
            })?;
            let down_time = start.elapsed();
            let (_, got) = got?;
            ensure!(
                got.len() == LEN && sha256_hex(&got) == sha256_hex(&down),
                "client received {} bytes, SHA-256 {} (sent: {})",
                got.len(),
                sha256_hex(&got),
                sha256_hex(&down)
            );
            note!(
                "bulk: client->server {:.1} MB/s (sendmsg done), server->client {:.1} MB/s, both ways {:.1} MB/s",
                mb_per_s(LEN, up_time),
                mb_per_s(LEN, down_time),
                mb_per_s(2 * LEN, down_time)
            );
            Ok(())
        },
    )
}

fn streams_100(tls: &Arc<Tls>) -> TResult {
    const STREAMS: i64 = 100;
    const LEN: usize = 64 * 1024;
    const PIECE: usize = 16 * 1024;
    pair(
        tls,
        false,
        Linger::UntilClientDone,
        |srv| {
            let mut buf = vec![0u8; CHUNK];
            let mut streams: BTreeMap<i64, (Vec<u8>, bool)> = BTreeMap::new();
            let mut fins = 0;
            while fins < STREAMS {
                let r = recv_retry(&srv.sock, &mut buf)
                    .ctx(&format!("server recvmsg ({fins} streams complete)"))?;
                let sid = r.stream_id;
                ensure!(
                    sid >= 0 && sid % 4 == 0 && sid < 4 * STREAMS,
                    "data on unexpected stream {sid}"
                );
                let (data, fin) = streams.entry(sid).or_default();
                ensure!(!*fin, "stream {sid}: data after its FIN");
                data.extend_from_slice(&buf[..r.len]);
                ensure!(data.len() <= LEN, "stream {sid}: more than {LEN} bytes");
                if r.fin() {
                    ensure!(r.eor(), "stream {sid}: FIN without MSG_EOR");
                    *fin = true;
                    fins += 1;
                } else {
                    ensure!(r.len > 0, "stream {sid}: 0-byte read without FIN");
                }
            }
            for (sid, (data, _)) in &streams {
                ensure!(
                    *data == pattern(*sid as u64 + 100, LEN),
                    "stream {sid}: {} bytes, content differs",
                    data.len()
                );
            }
            Ok(())
        },
        |c, _, _| {
            let data: Vec<Vec<u8>> = (0..STREAMS)
                .map(|i| pattern(4 * i as u64 + 100, LEN))
                .collect();
            // Round-robin: every stream is open (and unfinished) at once.
            for off in (0..LEN).step_by(PIECE) {
                for (i, d) in data.iter().enumerate() {
                    let sid = 4 * i as i64;
                    let first = if off == 0 { MSG_QUIC_STREAM_NEW } else { 0 };
                    let last = off + PIECE >= LEN;
                    send_all(c, &d[off..off + PIECE], sid, first, last)?;
                }
            }
            Ok(())
        },
    )
}

fn uni_stream(tls: &Arc<Tls>) -> TResult {
    let msg = pattern(7, 3000);
    let msg2 = msg.clone();
    pair(
        tls,
        false,
        Linger::UntilClientDone,
        move |srv| {
            let (sid, data) = read_stream(&srv.sock, None, 1 << 20)?;
            ensure!(
                sid & 3 == 2,
                "stream {sid} is not a client-initiated unidirectional stream"
            );
            ensure!(sid == 2, "first client uni stream is {sid}, wanted 2");
            ensure!(data == msg2, "read {} bytes, content differs", data.len());
            Ok(())
        },
        move |c, _, _| send_all(c, &msg, -1, MSG_QUIC_STREAM_UNI | MSG_QUIC_STREAM_NEW, true),
    )
}

fn sock_int(s: &Socket, name: i32) -> Result<i32, String> {
    let mut b = [0u8; 4];
    let n = s
        .getsockopt_raw(libc::SOL_SOCKET, name, &mut b)
        .ctx("getsockopt(SOL_SOCKET)")?;
    ensure!(n == 4, "getsockopt returned {n} bytes");
    Ok(i32::from_ne_bytes(b))
}

/// A dual-stack listener (AF_INET6, `IPV6_V6ONLY` off, bound to `::`) accepts an IPv4 client
/// and sees it v4-mapped; data flows both ways.
fn dual_stack_listener(tls: &Arc<Tls>) -> TResult {
    let any6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0);
    let l = new_socket(&any6)?;
    l.setsockopt_raw(libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, &0i32.to_ne_bytes())
        .ctx("IPV6_V6ONLY off")?;
    l.bind(&any6).ctx("bind [::]:0")?;
    l.listen(4).ctx("listen")?;
    let port = l.local_addr().ctx("getsockname")?.port();
    let stls = tls.clone();
    let h = thread::spawn(move || -> TResult {
        let (a, peer) = l.accept().ctx("accept")?;
        a.set_read_timeout(Some(TIMEOUT)).ctx("SO_RCVTIMEO")?;
        ensure!(
            matches!(peer.ip(), IpAddr::V6(v6) if v6.to_ipv4_mapped() == Some(Ipv4Addr::LOCALHOST)),
            "accept() reported {peer}, wanted ::ffff:127.0.0.1"
        );
        server_handshake(&a, &stls.server).ctx("server handshake")?;
        serve_echo(&a)
    });
    let cr = (|| {
        let c = connected(&SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port))?;
        client_handshake(&c, &tls.client, None).ctx("client handshake")?;
        echo_once(&c, b"over a dual-stack listener")
    })();
    let sr = h.join().unwrap_or_else(|p| Err(panic_message(p)));
    cr.map_err(|e| format!("client: {e}"))?;
    sr.map_err(|e| format!("server: {e}"))
}

/// SO_SNDBUF bounds what a writer may have unacknowledged: one non-blocking sendmsg takes at
/// most SO_SNDBUF bytes and the next gets EAGAIN. Unset, both buffers follow flow control
/// (twice the connection windows: the test's peers advertise 2 MiB).
fn socket_buffers(tls: &Arc<Tls>) -> TResult {
    let data = pattern(11, 1 << 20);
    let want = sha256_hex(&data);
    pair(
        tls,
        false,
        Linger::UntilClientDone,
        move |srv| {
            let snd = sock_int(&srv.sock, libc::SO_SNDBUF)?;
            let rcv = sock_int(&srv.sock, libc::SO_RCVBUF)?;
            note!("server SO_SNDBUF {snd}, SO_RCVBUF {rcv} (not set by the application)");
            ensure!(
                snd >= 4 << 20,
                "SO_SNDBUF {snd} did not follow the peer's 2 MiB window"
            );
            ensure!(
                rcv >= 4 << 20,
                "SO_RCVBUF {rcv} did not follow our 2 MiB window"
            );
            let (_, got) = read_stream(&srv.sock, None, 2 << 20)?;
            ensure!(
                sha256_hex(&got) == want,
                "server read {} bytes, digest differs",
                got.len()
            );
            Ok(())
        },
        move |c, _, _| {
            c.setsockopt_raw(libc::SOL_SOCKET, libc::SO_SNDBUF, &16384i32.to_ne_bytes())
                .ctx("setsockopt(SO_SNDBUF)")?;
            let snd = usize::try_from(sock_int(c, libc::SO_SNDBUF)?).unwrap_or(0);
            ensure!(snd > 0 && snd < 1 << 20, "SO_SNDBUF reads back as {snd}");
            c.set_nonblocking(true).ctx("O_NONBLOCK")?;
            // Non-blocking writes of what is left: none takes more than SO_SNDBUF (ACKs may
            // free room between two calls, so EAGAIN is possible but not certain), and the
            // first stream write opens stream 0.
            let (mut off, mut calls, mut eagain, mut most) = (0usize, 0usize, 0usize, 0usize);
            let deadline = Instant::now() + Duration::from_secs(60);
            while off < data.len() {
                ensure!(Instant::now() < deadline, "1 MiB not written in 60 s");
                let flags = if off == 0 { MSG_QUIC_STREAM_NEW } else { 0 };
                let sid = if off == 0 { -1 } else { 0 };
                match c.send(&data[off..], sid, flags) {
                    Ok(n) => {
                        ensure!(
                            n <= snd,
                            "one non-blocking sendmsg took {n} bytes with SO_SNDBUF {snd}"
                        );
                        off += n;
                        calls += 1;
                        most = most.max(n);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        eagain += 1;
                        thread::sleep(Duration::from_millis(1));
                    }
                    Err(e) => return Err(format!("sendmsg at byte {off}: {e}")),
                }
            }
            note!("SO_SNDBUF {snd}: 1 MiB in {calls} non-blocking writes of at most {most} bytes, {eagain} EAGAIN");
            ensure!(
                calls >= data.len() / snd,
                "{calls} writes for 1 MiB with SO_SNDBUF {snd}"
            );
            c.set_nonblocking(false).ctx("blocking again")?;
            c.send(&[], 0, MSG_QUIC_STREAM_FIN).ctx("FIN")?;
            Ok(())
        },
    )
}

/// One echo over an accepted connection: the client sends `msg` on a new stream with FIN and
/// reads the echo back.
fn echo_once(c: &Socket, msg: &[u8]) -> TResult {
    let n = c
        .send(msg, -1, MSG_QUIC_STREAM_NEW | MSG_QUIC_STREAM_FIN)
        .ctx("client sendmsg")?;
    ensure!(n == msg.len(), "sendmsg returned {n}");
    let (_, data) = read_stream(c, None, 1 << 16)?;
    ensure!(data == msg, "echo differs ({} bytes)", data.len());
    Ok(())
}

/// The server side of `echo_once`.
fn serve_echo(s: &Socket) -> TResult {
    let (sid, data) = read_stream(s, None, 1 << 16)?;
    s.send(&data, sid, MSG_QUIC_STREAM_FIN).ctx("server echo")?;
    Ok(())
}

/// A listener that validates client addresses with Retry (`validate_peer_address`): the
/// handshake goes through a Retry and its token (minted and checked by the module), then data
/// flows.
fn retry_handshake(tls: &Arc<Tls>) -> TResult {
    let s = new_socket(&loopback(false))?;
    let mut cfg = s.config().ctx("getsockopt(CONFIG)")?;
    cfg.validate_peer_address = 1;
    s.set_config(&cfg)
        .ctx("setsockopt(CONFIG validate_peer_address)")?;
    s.bind(&loopback(false)).ctx("bind")?;
    s.listen(16).ctx("listen")?;
    let addr = s.local_addr().ctx("getsockname")?;
    let stls = tls.clone();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let h = thread::spawn(move || -> TResult {
        let (a, _) = s.accept().ctx("accept")?;
        a.set_read_timeout(Some(TIMEOUT)).ctx("SO_RCVTIMEO")?;
        server_handshake(&a, &stls.server).ctx("server handshake")?;
        serve_echo(&a)?;
        let _ = done_rx.recv_timeout(TIMEOUT);
        Ok(())
    });
    let c = connected(&addr)?;
    let r = client_handshake(&c, &tls.client, None)
        .ctx("client handshake through Retry")
        .and_then(|_| echo_once(&c, b"after retry"));
    let _ = done_tx.send(());
    let sr = h.join().unwrap_or_else(|p| Err(panic_message(p)));
    r.and(sr)
}

/// UDP sockets in this namespace (every bound QUIC address holds one tunnel socket).
fn udp_sockets() -> Result<usize, String> {
    let mut n = 0;
    for f in ["/proc/net/udp", "/proc/net/udp6"] {
        let t = std::fs::read_to_string(f).ctx(f)?;
        n += t.lines().count().saturating_sub(1);
    }
    Ok(n)
}

/// Connections opened, used (one echo each) and closed in a loop, one listener: everything
/// they held is given back (no UDP tunnel socket is left; kmemleak checks the rest on the
/// debug kernel). `KQUIC_LOOP_CONNS` sets the count (default 1000).
/// UDP sockets bound to local `port` (IPv4 and IPv6).
fn udp_on_port(port: u16) -> Result<usize, String> {
    let mut n = 0;
    for f in ["/proc/net/udp", "/proc/net/udp6"] {
        let t = std::fs::read_to_string(f).ctx(f)?;
        for line in t.lines().skip(1) {
            let local = line.split_whitespace().nth(1).unwrap_or("");
            let p = local.rsplit(':').next().unwrap_or("");
            if u16::from_str_radix(p, 16) == Ok(port) {
                n += 1;
            }
        }
    }
    Ok(n)
}

/// close() returns at once and the connection spends its closing period (RFC 9000 10.2) as an
/// orphan that still owns its UDP port, then is freed; with SO_LINGER 0 it is freed at once.
fn close_drains_then_frees(tls: &Arc<Tls>) -> TResult {
    for abort in [false, true] {
        let (l, addr) = listener(false)?;
        let stls = tls.clone();
        let h = thread::spawn(move || -> TResult {
            let (a, _) = l.accept().ctx("accept")?;
            a.set_read_timeout(Some(TIMEOUT)).ctx("SO_RCVTIMEO")?;
            server_handshake(&a, &stls.server).ctx("server handshake")?;
            serve_echo(&a)?;
            // Until the client's CONNECTION_CLOSE arrives.
            let mut b = [0u8; 16];
            let _ = a.recv(&mut b);
            Ok(())
        });
        let c = connected(&addr)?;
        client_handshake(&c, &tls.client, None).ctx("client handshake")?;
        echo_once(&c, b"before close")?;
        let port = c.local_addr().ctx("getsockname")?.port();
        if abort {
            let l = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            // SAFETY: `linger` is plain data; the slice covers exactly its bytes.
            let b = unsafe {
                std::slice::from_raw_parts(
                    (&l as *const libc::linger).cast::<u8>(),
                    std::mem::size_of::<libc::linger>(),
                )
            };
            c.setsockopt_raw(libc::SOL_SOCKET, libc::SO_LINGER, b)
                .ctx("SO_LINGER 0")?;
        }
        drop(c);
        // Right after close() the orphan still holds the port (unless aborted) ...
        let right_after = udp_on_port(port)?;
        let sr = h.join().unwrap_or_else(|p| Err(panic_message(p)));
        sr.map_err(|e| format!("server: {e}"))?;
        note!(
            "{}: {right_after} UDP socket(s) on port {port} right after close()",
            if abort { "SO_LINGER 0" } else { "default" }
        );
        if abort {
            ensure!(right_after == 0, "an aborted close left its port bound");
        } else {
            ensure!(
                right_after == 1,
                "no closing period: close() itself released the port"
            );
        }
        // ... and lets it go when the period ends.
        let mut n = right_after;
        for _ in 0..100 {
            if n == 0 {
                break;
            }
            thread::sleep(Duration::from_millis(50));
            n = udp_on_port(port)?;
        }
        ensure!(
            n == 0,
            "the orphan still holds port {port} 5 s after close()"
        );
    }
    Ok(())
}

fn connections_loop(tls: &Arc<Tls>) -> TResult {
    let count: usize = std::env::var("KQUIC_LOOP_CONNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let before = udp_sockets()?;
    let started = Instant::now();
    {
        let (l, addr) = listener(false)?;
        let stls = tls.clone();
        let h = thread::spawn(move || -> TResult {
            for i in 0..count {
                let (a, _) = l.accept().ctx(&format!("accept #{i}"))?;
                a.set_read_timeout(Some(TIMEOUT)).ctx("SO_RCVTIMEO")?;
                server_handshake(&a, &stls.server).ctx(&format!("server handshake #{i}"))?;
                serve_echo(&a)?;
                // The client closes first; then this end goes too.
                let mut b = [0u8; 16];
                let _ = a.recv(&mut b);
            }
            Ok(())
        });
        let cr = (|| {
            for i in 0..count {
                let c = connected(&addr)?;
                client_handshake(&c, &tls.client, None).ctx(&format!("client handshake #{i}"))?;
                echo_once(&c, format!("connection {i}").as_bytes())?;
            }
            Ok(())
        })();
        let sr = h.join().unwrap_or_else(|p| Err(panic_message(p)));
        cr.and(sr)?;
    }
    let secs = started.elapsed().as_secs_f64();
    note!(
        "{count} connections in {secs:.1} s ({:.1}/s)",
        count as f64 / secs
    );
    // Tunnel sockets go once their last user is gone (an RCU grace period later).
    let mut after = udp_sockets()?;
    for _ in 0..50 {
        if after <= before {
            break;
        }
        thread::sleep(Duration::from_millis(100));
        after = udp_sockets()?;
    }
    ensure!(
        after <= before,
        "{before} UDP sockets before, {after} after the loop"
    );
    Ok(())
}

/// `shutdown(SHUT_RDWR)` from another thread wakes a blocked `accept()` (spec §3.1.7), and the
/// listener accepts nothing after it.
fn shutdown_wakes_accept(_: &Arc<Tls>) -> TResult {
    let (l, _) = listener(false)?;
    // No SO_RCVTIMEO: only the shutdown can end the wait.
    l.set_read_timeout(None).ctx("SO_RCVTIMEO off")?;
    let l = Arc::new(l);
    let l2 = l.clone();
    let started = Instant::now();
    let h = thread::spawn(move || l2.accept().map(|_| ()));
    thread::sleep(Duration::from_millis(300));
    l.shutdown(std::net::Shutdown::Both)
        .ctx("shutdown(SHUT_RDWR)")?;
    let r = h.join().map_err(panic_message)?;
    let waited = started.elapsed();
    expect_errno(r, &[libc::EINVAL], "accept() after shutdown(SHUT_RDWR)")?;
    ensure!(
        waited < Duration::from_secs(5),
        "accept() woke {waited:?} after it blocked"
    );
    Ok(())
}

/// A minimal epoll instance.
struct Epoll(OwnedFd);

impl Epoll {
    fn new() -> io::Result<Self> {
        // SAFETY: plain system call.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd was just created and is owned by nobody else.
        Ok(Self(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    fn ctl(&self, op: i32, s: &Socket, events: u32) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events,
            u64: s.as_raw_fd() as u64,
        };
        // SAFETY: ev is a valid epoll_event for the duration of the call.
        let r = unsafe { libc::epoll_ctl(self.0.as_raw_fd(), op, s.as_raw_fd(), &mut ev) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// The events of the (single) registered socket, 0 on timeout.
    fn wait(&self, timeout: Duration) -> io::Result<u32> {
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 4];
        // SAFETY: evs is writable for 4 entries.
        let n = unsafe {
            libc::epoll_wait(
                self.0.as_raw_fd(),
                evs.as_mut_ptr(),
                evs.len() as i32,
                timeout.as_millis() as i32,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(0)
            } else {
                Err(e)
            };
        }
        Ok(evs[..n as usize].iter().fold(0, |a, e| a | e.events))
    }
}

const EPOLLIN: u32 = libc::EPOLLIN as u32;
const EPOLLOUT: u32 = libc::EPOLLOUT as u32;
const EPOLLERR_HUP: u32 = (libc::EPOLLERR | libc::EPOLLHUP) as u32;

/// Counters of one epoll loop.
#[derive(Default)]
struct LoopStats {
    eagain: u32,
    out_wakeups: u32,
    in_wakeups: u32,
}

/// One end of the non-blocking echo: sends `out` (all of it, the last part only when `done`
/// says so) and reads into `inp` until FIN. The caller's closures decide what to send.
struct NbEnd<'a> {
    s: &'a Socket,
    ep: Epoll,
    want_out: bool,
    stats: LoopStats,
}

impl<'a> NbEnd<'a> {
    fn new(s: &'a Socket) -> Result<Self, String> {
        s.set_nonblocking(true).ctx("O_NONBLOCK")?;
        let ep = Epoll::new().ctx("epoll_create1")?;
        ep.ctl(libc::EPOLL_CTL_ADD, s, EPOLLIN | EPOLLOUT)
            .ctx("epoll_ctl ADD")?;
        // An established connection with an open window is writable at once.
        let ev = ep.wait(TIMEOUT).ctx("epoll_wait")?;
        ensure!(
            ev & EPOLLOUT != 0,
            "established socket not writable (events {ev:#x})"
        );
        ep.ctl(libc::EPOLL_CTL_MOD, s, EPOLLIN)
            .ctx("epoll_ctl MOD")?;
        Ok(Self {
            s,
            ep,
            want_out: false,
            stats: LoopStats::default(),
        })
    }

    /// Sends `data` with `flags` unless blocked; returns the bytes taken.
    fn try_send(&mut self, data: &[u8], sid: i64, flags: u32) -> Result<usize, String> {
        if self.want_out {
            return Ok(0);
        }
        match self.s.send(data, sid, flags) {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.stats.eagain += 1;
                self.want_out = true;
                self.ep
                    .ctl(libc::EPOLL_CTL_MOD, self.s, EPOLLIN | EPOLLOUT)
                    .ctx("epoll_ctl MOD")?;
                Ok(0)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
            Err(e) => Err(format!("non-blocking sendmsg: {e}")),
        }
    }

    /// Reads what is there (until EAGAIN) into `inp`; true once stream `sid`'s FIN was read.
    fn drain(&mut self, sid: i64, inp: &mut Vec<u8>, max: usize) -> Result<bool, String> {
        let mut buf = vec![0u8; CHUNK];
        loop {
            match self.s.recv(&mut buf) {
                Ok(r) => {
                    ensure!(r.stream_id == sid, "data on stream {}", r.stream_id);
                    inp.extend_from_slice(&buf[..r.len]);
                    ensure!(inp.len() <= max, "more than {max} bytes");
                    if r.fin() {
                        ensure!(r.eor(), "FIN without MSG_EOR");
                        return Ok(true);
                    }
                    ensure!(r.len > 0, "0-byte read without FIN");
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("non-blocking recvmsg: {e}")),
            }
        }
    }

    fn wait(&mut self, deadline: Instant) -> TResult {
        ensure!(
            Instant::now() < deadline,
            "epoll loop did not finish in time"
        );
        let ev = self.ep.wait(Duration::from_millis(500)).ctx("epoll_wait")?;
        ensure!(ev & EPOLLERR_HUP == 0, "EPOLLERR/EPOLLHUP ({ev:#x})");
        if ev & EPOLLIN != 0 {
            self.stats.in_wakeups += 1;
        }
        if ev & EPOLLOUT != 0 && self.want_out {
            self.stats.out_wakeups += 1;
            self.want_out = false;
            self.ep
                .ctl(libc::EPOLL_CTL_MOD, self.s, EPOLLIN)
                .ctx("epoll_ctl MOD")?;
        }
        Ok(())
    }
}

fn nonblocking_epoll(tls: &Arc<Tls>) -> TResult {
    const LEN: usize = 1 << 20;
    let stats = Arc::new(Mutex::new(String::new()));
    let stats2 = stats.clone();
    let r = pair(
        tls,
        false,
        Linger::UntilClientDone,
        move |srv| {
            // Echo everything back, holding the last byte until the FIN so that FIN always
            // rides on data.
            let mut e = NbEnd::new(&srv.sock)?;
            let deadline = Instant::now() + Duration::from_secs(30);
            let (mut inp, mut off, mut in_fin) = (Vec::new(), 0usize, false);
            loop {
                if !in_fin {
                    in_fin = e.drain(0, &mut inp, LEN)?;
                }
                let avail = if in_fin {
                    inp.len()
                } else {
                    inp.len().saturating_sub(1)
                };
                while off < avail && !e.want_out {
                    let end = (off + CHUNK).min(avail);
                    let fin = in_fin && end == inp.len();
                    let flags = if fin { MSG_QUIC_STREAM_FIN } else { 0 };
                    off += e.try_send(&inp[off..end], 0, flags)?;
                }
                if in_fin && off == inp.len() {
                    break;
                }
                e.wait(deadline)?;
            }
            ensure!(inp.len() == LEN, "server echoed {} bytes", inp.len());
            let st = &e.stats;
            *stats2.lock().unwrap() = format!(
                "server: {} EAGAIN, {} EPOLLOUT, {} EPOLLIN wakeups",
                st.eagain, st.out_wakeups, st.in_wakeups
            );
            Ok(())
        },
        |c, _, _| {
            let data = pattern(11, LEN);
            let mut e = NbEnd::new(c)?;
            let deadline = Instant::now() + Duration::from_secs(30);
            let (mut inp, mut off, mut in_fin) = (Vec::new(), 0usize, false);
            let start = Instant::now();
            loop {
                while off < LEN && !e.want_out {
                    let end = (off + CHUNK).min(LEN);
                    let mut flags = if off == 0 { MSG_QUIC_STREAM_NEW } else { 0 };
                    if end == LEN {
                        flags |= MSG_QUIC_STREAM_FIN;
                    }
                    off += e.try_send(&data[off..end], 0, flags)?;
                }
                if !in_fin {
                    in_fin = e.drain(0, &mut inp, LEN)?;
                }
                if in_fin && off == LEN {
                    break;
                }
                e.wait(deadline)?;
            }
            ensure!(
                inp == data,
                "echo of {} bytes differs (got {})",
                LEN,
                inp.len()
            );
            let st = &e.stats;
            note!(
                "epoll echo of 1 MB in {:?}; client: {} EAGAIN, {} EPOLLOUT, {} EPOLLIN wakeups",
                start.elapsed(),
                st.eagain,
                st.out_wakeups,
                st.in_wakeups
            );
            Ok(())
        },
    );
    let s = stats.lock().unwrap().clone();
    if !s.is_empty() {
        note!("{s}");
    }
    r
}

fn errno_recv_no_cmsg_in_handshake(tls: &Arc<Tls>) -> TResult {
    let (l, addr) = listener(false)?;
    let tls2 = tls.clone();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let client = thread::spawn(move || -> TResult {
        let c = connected(&addr)?;
        client_handshake(&c, &tls2.client, None).ctx("client handshake")?;
        // Closing now would race the server's end of the handshake.
        let _ = done_rx.recv_timeout(TIMEOUT);
        Ok(())
    });
    let server = (|| {
        let (s, _) = l.accept().ctx("accept")?;
        s.set_read_timeout(Some(TIMEOUT)).ctx("SO_RCVTIMEO")?;
        let mut buf = [0u8; 4096];
        expect_errno(
            s.read(&mut buf),
            &[libc::EINVAL],
            "recv() without a control buffer before the handshake",
        )?;
        // The ClientHello is still there: the handshake completes.
        server_handshake(&s, &tls.server).ctx("server handshake after the failed recv")?;
        Ok(())
    })();
    let _ = done_tx.send(());
    let c = client.join().unwrap_or_else(|p| Err(panic_message(p)));
    server.and(c.map_err(|e| format!("client: {e}")))
}

fn errno_send_before_handshake(_: &Arc<Tls>) -> TResult {
    let (_l, addr) = listener(false)?;
    let c = connected(&addr)?;
    expect_errno(
        c.send(b"x", -1, MSG_QUIC_STREAM_NEW),
        &[libc::ENOTCONN],
        "stream sendmsg before the handshake",
    )?;
    Ok(())
}

fn errno_unknown_stream_flag(tls: &Arc<Tls>) -> TResult {
    pair(
        tls,
        false,
        Linger::UntilClientDone,
        |srv| {
            // Only the valid message arrives.
            let (sid, data) = read_stream(&srv.sock, None, 1024)?;
            ensure!(
                sid == 0 && data == b"ok",
                "stream {sid}: {:?}",
                String::from_utf8_lossy(&data)
            );
            Ok(())
        },
        |c, _, _| {
            expect_errno(
                c.send(b"bad", 0, MSG_QUIC_STREAM_NEW | 0x4000_0000),
                &[libc::EINVAL],
                "sendmsg with stream_flags bit 0x40000000",
            )?;
            let n = c
                .send(b"ok", 0, MSG_QUIC_STREAM_NEW | MSG_QUIC_STREAM_FIN)
                .ctx("valid sendmsg after the rejected one")?;
            ensure!(n == 2, "sendmsg returned {n}");
            Ok(())
        },
    )
}

fn errno_stream_limit_dontwait(tls: &Arc<Tls>) -> TResult {
    pair(
        tls,
        false,
        Linger::UntilClientDone,
        |_| Ok(()),
        |c, _, _| {
            let limit = match c.transport_param(true) {
                Ok(p) if p.max_streams_bidi > 0 => i64::from(p.max_streams_bidi),
                Ok(_) => 100,
                Err(e) => {
                    note!("peer transport parameters unreadable ({e}), assuming 100 streams");
                    100
                }
            };
            let sid = 4 * limit;
            note!("peer max_streams_bidi {limit}: opening stream {sid}");
            expect_errno(
                c.send(b"x", sid, MSG_QUIC_STREAM_NEW | MSG_QUIC_STREAM_DONTWAIT),
                &[libc::EAGAIN],
                &format!("sendmsg(stream {sid}, NEW|DONTWAIT) beyond the peer's limit"),
            )?;
            Ok(())
        },
    )
}

/// After the handshake, QUIC_SOCKOPT_TRANSPORT_PARAM with `remote = 1` reports what the peer
/// sent: the server advertises max_streams_uni 7, which the client did not set anywhere.
fn remote_transport_params(tls: &Arc<Tls>) -> TResult {
    let (l, addr) = listener(false)?;
    let mut p = l
        .transport_param(false)
        .ctx("getsockopt(TRANSPORT_PARAM)")?;
    p.max_streams_uni = 7;
    l.set_transport_param(&p)
        .ctx("setsockopt(TRANSPORT_PARAM)")?;
    let stls = tls.clone();
    let h = thread::spawn(move || -> TResult {
        let (a, _) = l.accept().ctx("accept")?;
        a.set_read_timeout(Some(TIMEOUT)).ctx("SO_RCVTIMEO")?;
        server_handshake(&a, &stls.server).ctx("server handshake")?;
        serve_echo(&a)
    });
    let cr = (|| {
        let c = connected(&addr)?;
        let before = c.transport_param(true).ctx("remote parameters before")?;
        client_handshake(&c, &tls.client, None).ctx("client handshake")?;
        let after = c.transport_param(true).ctx("remote parameters after")?;
        note!(
            "remote max_streams_uni: {} before the handshake, {} after",
            before.max_streams_uni,
            after.max_streams_uni
        );
        ensure!(after.remote == 1, "remote flag {}", after.remote);
        ensure!(
            after.max_streams_uni == 7,
            "the peer's max_streams_uni reads as {}",
            after.max_streams_uni
        );
        echo_once(&c, b"after reading the parameters")
    })();
    let sr = h.join().unwrap_or_else(|p| Err(panic_message(p)));
    cr.map_err(|e| format!("client: {e}"))?;
    sr.map_err(|e| format!("server: {e}"))
}

/// MSG_PEEK copies what the next read returns (stream id, data, FIN) without consuming it.
fn msg_peek(tls: &Arc<Tls>) -> TResult {
    pair(
        tls,
        false,
        Linger::UntilClientDone,
        |srv| {
            let mut a = [0u8; 64];
            let mut b = [0u8; 64];
            let p = srv
                .sock
                .recv_raw(&mut a, libc::MSG_PEEK)
                .ctx("recvmsg(MSG_PEEK)")?;
            let p2 = srv
                .sock
                .recv_raw(&mut b, libc::MSG_PEEK)
                .ctx("second MSG_PEEK")?;
            ensure!(
                p.len == p2.len && a[..p.len] == b[..p2.len],
                "two peeks differ: {:?} / {:?}",
                &a[..p.len],
                &b[..p2.len]
            );
            let (sid, data) = read_stream(&srv.sock, None, 1024)?;
            note!(
                "peeked {} bytes of stream {} (fin {}), then read {} bytes of stream {sid}",
                p.len,
                p.stream_id,
                p.fin(),
                data.len()
            );
            ensure!(
                p.stream_id == sid,
                "peek said stream {}, read {sid}",
                p.stream_id
            );
            ensure!(
                data.starts_with(&a[..p.len]) && p.len > 0,
                "peeked bytes are not the data"
            );
            ensure!(data == b"peek at me", "read {:?}", data);
            srv.sock.send(&data, sid, MSG_QUIC_STREAM_FIN).ctx("echo")?;
            Ok(())
        },
        |c, _, _| {
            c.send(b"peek at me", -1, MSG_QUIC_STREAM_NEW | MSG_QUIC_STREAM_FIN)
                .ctx("client send")?;
            let (_, back) = read_stream(c, None, 1024)?;
            ensure!(back == b"peek at me", "echo {:?}", back);
            Ok(())
        },
    )
}

fn snmp() -> Result<BTreeMap<String, u64>, String> {
    let t = std::fs::read_to_string("/proc/net/quic/snmp").ctx("/proc/net/quic/snmp")?;
    let mut m = BTreeMap::new();
    for line in t.lines() {
        let mut it = line.split_whitespace();
        if let (Some(k), Some(v)) = (it.next(), it.next()) {
            m.insert(k.to_string(), v.parse::<u64>().ctx(line)?);
        }
    }
    Ok(m)
}

/// /proc/net/quic: the listener and both ends of a live connection are listed with their
/// addresses, state and connection IDs, and the namespace's counters move (handshakes,
/// datagrams in and out).
fn proc_net_quic(tls: &Arc<Tls>) -> TResult {
    let before = snmp()?;
    let (l, addr) = listener(false)?;
    let stls = tls.clone();
    let (tx, rx) = mpsc::channel::<()>();
    let h = thread::spawn(move || -> TResult {
        let (a, _) = l.accept().ctx("accept")?;
        a.set_read_timeout(Some(TIMEOUT)).ctx("SO_RCVTIMEO")?;
        server_handshake(&a, &stls.server).ctx("server handshake")?;
        serve_echo(&a)?;
        let _ = rx.recv_timeout(Duration::from_secs(30));
        drop(l);
        Ok(())
    });
    let cr = (|| {
        let c = connected(&addr)?;
        client_handshake(&c, &tls.client, None).ctx("client handshake")?;
        echo_once(&c, b"for the proc files")?;
        let local = c.local_addr().ctx("getsockname")?;
        let t = std::fs::read_to_string("/proc/net/quic/sockets").ctx("/proc/net/quic/sockets")?;
        let me = format!("{local} {addr} ESTABLISHED");
        let peer = format!("{addr} {local} ESTABLISHED");
        let listening = t
            .lines()
            .any(|l| l.starts_with(&format!("{addr} ")) && l.contains(" LISTEN "));
        let mine = t.lines().find(|l| l.starts_with(&me));
        let theirs = t.lines().find(|l| l.starts_with(&peer));
        ensure!(listening, "no LISTEN line for {addr} in:\n{t}");
        let (Some(mine), Some(theirs)) = (mine, theirs) else {
            return Err(format!("no ESTABLISHED lines '{me}' and '{peer}' in:\n{t}"));
        };
        note!("client: {mine}");
        note!("server: {theirs}");
        // The client's local CID is the server's remote CID, and the other way round.
        let f = |l: &str| -> Vec<String> { l.split_whitespace().map(str::to_string).collect() };
        let (m, s) = (f(mine), f(theirs));
        ensure!(m.len() >= 18 && s.len() >= 18, "short lines");
        ensure!(
            m[4] == s[5] && m[5] == s[4],
            "CIDs do not pair up: {m:?} / {s:?}"
        );
        let rtt: u64 = m[6].parse().ctx("rtt")?;
        ensure!(rtt > 0, "client rtt {rtt}");
        Ok(())
    })();
    let _ = tx.send(());
    let sr = h.join().unwrap_or_else(|p| Err(panic_message(p)));
    cr.map_err(|e| format!("client: {e}"))?;
    sr.map_err(|e| format!("server: {e}"))?;
    let after = snmp()?;
    let d = |k: &str| after.get(k).copied().unwrap_or(0) - before.get(k).copied().unwrap_or(0);
    note!(
        "counters: +{} handshakes, +{} datagrams in, +{} out, +{} accept-queued",
        d("QuicHandshakes"),
        d("QuicInDatagrams"),
        d("QuicOutDatagrams"),
        d("QuicAcceptQueued")
    );
    ensure!(
        d("QuicHandshakes") >= 2,
        "Handshakes moved by {}",
        d("QuicHandshakes")
    );
    ensure!(
        d("QuicAcceptQueued") >= 1,
        "AcceptQueued moved by {}",
        d("QuicAcceptQueued")
    );
    ensure!(
        d("QuicInDatagrams") >= 4 && d("QuicOutDatagrams") >= 4,
        "datagram counters"
    );
    Ok(())
}

fn set_event(s: &Socket, ty: u8, on: bool) -> TResult {
    s.setsockopt_raw(SOL_QUIC, QUIC_SOCKOPT_EVENT, &[ty, u8::from(on)])
        .ctx("setsockopt(QUIC_SOCKOPT_EVENT)")
}

/// Reads until `want` accepts a notification (type byte, payload), collecting stream data on
/// the way; fails after `limit`.
fn until_event(
    s: &Socket,
    data: &mut Vec<u8>,
    limit: Duration,
    mut want: impl FnMut(u8, &[u8]) -> bool,
) -> Result<(u8, Vec<u8>), String> {
    let end = Instant::now() + limit;
    let mut buf = vec![0u8; 4096];
    while Instant::now() < end {
        let r = match s.recv_raw(&mut buf, 0) {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(format!("recvmsg: {e}")),
        };
        if r.msg_flags & MSG_QUIC_NOTIFICATION != 0 {
            ensure!(r.eor(), "notification of {} bytes without MSG_EOR", r.len);
            let (ty, payload) = (buf[0], buf[1..r.len].to_vec());
            if want(ty, &payload) {
                return Ok((ty, payload));
            }
        } else if r.handshake_level.is_none() {
            data.extend_from_slice(&buf[..r.len]);
        }
    }
    Err("no such notification in time".into())
}

/// Events (MSG_QUIC_NOTIFICATION), each enabled by QUIC_SOCKOPT_EVENT: a stream's updates,
/// a key update, the peer's close. A partial read of a notification leaves MSG_EOR clear.
fn events(tls: &Arc<Tls>) -> TResult {
    let (l, addr) = listener(false)?;
    let stls = tls.clone();
    let (tx, rx) = mpsc::channel::<()>();
    let h = thread::spawn(move || -> TResult {
        let (a, _) = l.accept().ctx("accept")?;
        a.set_read_timeout(Some(TIMEOUT)).ctx("SO_RCVTIMEO")?;
        server_handshake(&a, &stls.server).ctx("server handshake")?;
        serve_echo(&a)?;
        // A second stream after the client's key update: answered with the new keys.
        serve_echo(&a)?;
        let _ = rx.recv_timeout(Duration::from_secs(30));
        a.set_quic_opt(
            QUIC_SOCKOPT_CONNECTION_CLOSE,
            &quic_connection_close {
                errcode: 0x1234,
                ..Default::default()
            },
        )
        .ctx("CONNECTION_CLOSE")?;
        Ok(())
    });
    let cr = (|| {
        let c = new_socket(&addr)?;
        for ty in [
            QUIC_EVENT_STREAM_UPDATE,
            QUIC_EVENT_KEY_UPDATE,
            QUIC_EVENT_CONNECTION_CLOSE,
        ] {
            set_event(&c, ty, true)?;
        }
        c.connect(&addr).ctx("connect")?;
        client_handshake(&c, &tls.client, None).ctx("client handshake")?;
        c.send(b"events", -1, MSG_QUIC_STREAM_NEW | MSG_QUIC_STREAM_FIN)
            .ctx("send")?;
        let mut data = Vec::new();
        // Our data acknowledged: stream 0's sending part is in Data Recvd (3).
        let (_, p) = until_event(&c, &mut data, TIMEOUT, |ty, p| {
            ty == QUIC_EVENT_STREAM_UPDATE && p.len() >= 9 && p[8] == 3
        })?;
        let sid = i64::from_ne_bytes(p[..8].try_into().unwrap_or_default());
        ensure!(sid == 0, "stream update for stream {sid}");
        c.set_quic_opt_bytes(QUIC_SOCKOPT_KEY_UPDATE, &[])
            .ctx("KEY_UPDATE")?;
        c.send(b"new keys", -1, MSG_QUIC_STREAM_NEW | MSG_QUIC_STREAM_FIN)
            .ctx("send after the key update")?;
        let (_, phase) = until_event(&c, &mut data, TIMEOUT, |ty, _| ty == QUIC_EVENT_KEY_UPDATE)?;
        note!("key update event: phase {:?}", phase);
        ensure!(phase == [1], "key phase after one update: {phase:?}");
        let _ = tx.send(());
        // A partial read of the close notification: MSG_EOR only with its last byte.
        let end = Instant::now() + TIMEOUT;
        let mut first = [0u8; 3];
        let r = loop {
            ensure!(Instant::now() < end, "no close notification");
            let r = c.recv_raw(&mut first, 0).ctx("recvmsg")?;
            if r.msg_flags & MSG_QUIC_NOTIFICATION == 0 {
                if r.handshake_level.is_none() {
                    data.extend_from_slice(&first[..r.len]);
                }
                continue;
            }
            if first[0] == QUIC_EVENT_CONNECTION_CLOSE {
                break r;
            }
            // Another notification (a stream update): read the rest of it.
            let mut done = r.eor();
            while !done {
                let mut skip = [0u8; 64];
                done = c
                    .recv_raw(&mut skip, 0)
                    .ctx("rest of a notification")?
                    .eor();
            }
        };
        ensure!(
            first[0] == QUIC_EVENT_CONNECTION_CLOSE,
            "event type {}",
            first[0]
        );
        ensure!(!r.eor(), "MSG_EOR on a 3-byte read of a close notification");
        let mut rest = [0u8; 128];
        let r2 = c.recv_raw(&mut rest, 0).ctx("rest of the notification")?;
        ensure!(
            r2.msg_flags & MSG_QUIC_NOTIFICATION != 0 && r2.eor(),
            "rest without EOR"
        );
        let mut whole = first[1..].to_vec();
        whole.extend_from_slice(&rest[..r2.len]);
        let code = u32::from_ne_bytes(whole[..4].try_into().unwrap_or_default());
        note!(
            "close notification: {} bytes, error code {code:#x}",
            whole.len()
        );
        ensure!(code == 0x1234, "close error code {code:#x}");
        // Notifications come before stream data that arrived earlier: what is left of the
        // echoes is still readable after the close.
        let mut buf = [0u8; 256];
        while data.len() < 14 {
            match c.recv_raw(&mut buf, 0) {
                Ok(r)
                    if r.handshake_level.is_none() && r.msg_flags & MSG_QUIC_NOTIFICATION == 0 =>
                {
                    data.extend_from_slice(&buf[..r.len])
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        ensure!(
            data == b"eventsnew keys",
            "data around the events: {:?}",
            data
        );
        Ok(())
    })();
    let _ = tx.send(());
    let sr = h.join().unwrap_or_else(|p| Err(panic_message(p)));
    cr.map_err(|e| format!("client: {e}"))?;
    sr.map_err(|e| format!("server: {e}"))
}

/// recvmsg with a zero-length buffer returns 0 at once and consumes nothing, also with stream
/// data waiting (it used to spin holding the socket lock: the fuzzer's corpus has the case).
fn zero_length_recv(tls: &Arc<Tls>) -> TResult {
    pair(
        tls,
        false,
        Linger::UntilClientDone,
        |srv| {
            // Let the data arrive, then ask for none of it.
            let mut one = [0u8; 1];
            let p = srv.sock.recv_raw(&mut one, libc::MSG_PEEK).ctx("peek")?;
            ensure!(p.len == 1, "peek {}", p.len);
            let z = srv.sock.recv_raw(&mut [], 0).ctx("zero-length recvmsg")?;
            ensure!(z.len == 0, "zero-length recvmsg returned {}", z.len);
            let zp = srv
                .sock
                .recv_raw(&mut [], libc::MSG_PEEK)
                .ctx("zero-length peek")?;
            ensure!(zp.len == 0, "zero-length peek returned {}", zp.len);
            serve_echo(&srv.sock)
        },
        |c, _, _| echo_once(c, b"nothing lost"),
    )
}

fn errno_listener_sendmsg(_: &Arc<Tls>) -> TResult {
    let (l, _) = listener(false)?;
    let e = expect_errno(
        l.send(b"x", 0, MSG_QUIC_STREAM_NEW),
        &[libc::EINVAL, libc::ENOTCONN],
        "QUIC_STREAM_INFO sendmsg on a listening socket",
    )?;
    note!("listener sendmsg: {}", errno_name(e));
    Ok(())
}

/// Client side of the peer-closed tests: waits until a read reports the close; returns how.
fn wait_closed(c: &Socket) -> Result<String, String> {
    let mut buf = [0u8; 4096];
    let start = Instant::now();
    loop {
        match recv_retry(c, &mut buf) {
            Ok(r) if r.len == 0 && !r.fin() => return Ok("0 (EOF)".into()),
            Ok(r) => ensure!(
                start.elapsed() < TIMEOUT,
                "unexpected data ({} bytes, stream {})",
                r.len,
                r.stream_id
            ),
            Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => return Ok("ECONNRESET".into()),
            Err(e) => {
                return Err(format!(
                    "recv after the peer closed: {}",
                    describe::<()>(&Err(e))
                ))
            }
        }
    }
}

fn errno_recv_after_peer_close(tls: &Arc<Tls>) -> TResult {
    pair(
        tls,
        false,
        Linger::CloseAtOnce,
        |_| Ok(()),
        |c, _, _| {
            let how = wait_closed(c)?;
            note!("recv after the peer closed: {how}");
            Ok(())
        },
    )
}

fn errno_send_after_peer_close(tls: &Arc<Tls>) -> TResult {
    pair(
        tls,
        false,
        Linger::CloseAtOnce,
        |_| Ok(()),
        |c, _, _| {
            wait_closed(c)?;
            let e = expect_errno(
                c.send(b"x", -1, MSG_QUIC_STREAM_NEW),
                &[libc::EPIPE, libc::ECONNRESET],
                "sendmsg after the peer closed",
            )?;
            note!("send after the peer closed: {}", errno_name(e));
            Ok(())
        },
    )
}

type TestFn = fn(&Arc<Tls>) -> TResult;

const TESTS: &[(&str, TestFn)] = &[
    ("handshake_v4", handshake_v4),
    ("handshake_v6", handshake_v6),
    ("stream_echo", stream_echo),
    ("bulk_10mb_each_way", bulk_10mb_each_way),
    ("streams_100", streams_100),
    ("uni_stream", uni_stream),
    ("socket_buffers", socket_buffers),
    ("dual_stack_listener", dual_stack_listener),
    ("close_drains_then_frees", close_drains_then_frees),
    ("remote_transport_params", remote_transport_params),
    ("msg_peek", msg_peek),
    ("proc_net_quic", proc_net_quic),
    ("events", events),
    ("zero_length_recv", zero_length_recv),
    ("nonblocking_epoll", nonblocking_epoll),
    ("retry_handshake", retry_handshake),
    ("connections_loop", connections_loop),
    ("shutdown_wakes_accept", shutdown_wakes_accept),
    (
        "errno_recv_no_cmsg_in_handshake_einval",
        errno_recv_no_cmsg_in_handshake,
    ),
    (
        "errno_send_before_handshake_enotconn",
        errno_send_before_handshake,
    ),
    (
        "errno_unknown_stream_flag_einval",
        errno_unknown_stream_flag,
    ),
    (
        "errno_stream_limit_dontwait_eagain",
        errno_stream_limit_dontwait,
    ),
    ("errno_listener_sendmsg", errno_listener_sendmsg),
    ("errno_recv_after_peer_close", errno_recv_after_peer_close),
    ("errno_send_after_peer_close", errno_send_after_peer_close),
    // SOL_QUIC options (options.rs) and datagrams (datagrams.rs); known gaps of the module
    // skip these (KQUIC_STRICT=1: fail), see live.rs.
    ("opt_event", options::opt_event),
    ("opt_stream_open", options::opt_stream_open),
    ("opt_stream_reset", options::opt_stream_reset),
    ("opt_stream_stop_sending", options::opt_stream_stop_sending),
    ("opt_connection_id", options::opt_connection_id),
    ("opt_connection_close", options::opt_connection_close),
    (
        "opt_connection_migration",
        options::opt_connection_migration,
    ),
    ("opt_key_update", options::opt_key_update),
    ("opt_transport_param", options::opt_transport_param),
    ("opt_config", options::opt_config),
    ("opt_config_keepalive", options::opt_config_keepalive),
    ("opt_token", options::opt_token),
    ("opt_alpn", options::opt_alpn),
    ("opt_session_ticket", options::opt_session_ticket),
    ("opt_crypto_secret", options::opt_crypto_secret),
    ("opt_transport_param_ext", options::opt_transport_param_ext),
    ("opt_direction", options::opt_direction),
    ("dgram_send_recv", datagrams::dgram_send_recv),
    ("dgram_peer_disabled", datagrams::dgram_peer_disabled),
];

fn main() {
    println!("TAP version 13");
    println!("1..{}", TESTS.len());
    let current = Arc::new(Mutex::new(String::new()));
    let cur = current.clone();
    thread::spawn(move || {
        thread::sleep(WATCHDOG);
        let name = cur.lock().map(|s| s.clone()).unwrap_or_default();
        println!("# watchdog: still running after {WATCHDOG:?}, in {name}");
        println!("Bail out! watchdog");
        std::process::exit(1);
    });
    let tls = match tls_configs() {
        Ok(t) => Some(Arc::new(t)),
        Err(e) => {
            note!("no TLS configuration: {e}");
            None
        }
    };
    // KQUIC_TESTS=a,b runs only the named tests (the others are reported as skipped).
    let only: Option<Vec<String>> = std::env::var("KQUIC_TESTS")
        .ok()
        .map(|v| v.split(',').map(str::to_string).collect());
    let strict = live::strict();
    let (mut pass, mut fail, mut skip) = (0, 0, 0);
    for (i, (name, f)) in TESTS.iter().enumerate() {
        if only.as_ref().is_some_and(|o| !o.iter().any(|t| t == name)) {
            skip += 1;
            println!("ok {} {name} # SKIP not in KQUIC_TESTS", i + 1);
            continue;
        }
        if let Ok(mut c) = current.lock() {
            *c = (*name).to_string();
        }
        let r = match &tls {
            Some(tls) => panic::catch_unwind(AssertUnwindSafe(|| f(tls)))
                .unwrap_or_else(|p| Err(panic_message(p))),
            None => Err("no TLS configuration".into()),
        };
        // Known gaps of the module the test met (live.rs): a skip, or with KQUIC_STRICT=1 a
        // failure.
        let gaps = live::take_gaps().join("; ").replace('\n', " ");
        match r {
            Ok(()) if gaps.is_empty() => {
                pass += 1;
                println!("ok {} {name}", i + 1);
            }
            Ok(()) if !strict => {
                skip += 1;
                println!("ok {} {name} # SKIP {gaps}", i + 1);
            }
            Ok(()) => {
                fail += 1;
                println!("not ok {} {name} # {gaps}", i + 1);
            }
            Err(e) => {
                fail += 1;
                let also = if gaps.is_empty() {
                    String::new()
                } else {
                    format!(" (known gaps met before: {gaps})")
                };
                println!("not ok {} {name} # {}{also}", i + 1, e.replace('\n', " "));
            }
        }
    }
    println!("# totals: pass:{pass} fail:{fail} skip:{skip}");
    std::process::exit(if fail == 0 { 0 } else { 1 });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_is_deterministic_and_distinct() {
        assert_eq!(pattern(1, 1000), pattern(1, 1000));
        assert_eq!(pattern(1, 999)[..], pattern(1, 1000)[..999]);
        assert_ne!(pattern(1, 64), pattern(2, 64));
        assert_eq!(pattern(3, 0).len(), 0);
    }

    #[test]
    fn tls_configs_build() {
        tls_configs().unwrap();
    }

    #[test]
    fn errno_expectations() {
        let r: io::Result<()> = Err(io::Error::from_raw_os_error(libc::EINVAL));
        assert_eq!(expect_errno(r, &[libc::EINVAL], "x"), Ok(libc::EINVAL));
        let r: io::Result<usize> = Ok(3);
        let e = expect_errno(r, &[libc::EAGAIN, libc::EPIPE], "x").unwrap_err();
        assert!(
            e.contains("success (3)") && e.contains("EAGAIN or EPIPE"),
            "{e}"
        );
        assert_eq!(errno_name(libc::ENOTCONN), "ENOTCONN");
    }
}
