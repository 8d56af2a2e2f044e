//! `quic demo`: a server thread and a client in one process, over loopback. Handshake, then N
//! concurrent streams carrying pseudo-random data client -> server, each echoed back by the
//! server as it arrives; SHA-256 of what was sent, what the server received and what came back
//! must all agree. Then the client closes and the server reports how it saw that.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use quic::ksock::{client_handshake, server_handshake, Socket};
use quic::tls::TlsConfig;
use quic_uapi::{MSG_QUIC_STREAM_FIN, MSG_QUIC_STREAM_NEW};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};

use crate::cert::self_signed;
use crate::common::{
    cipher_name, configure, describe_handshake, err, is_eof, mb_per_s, open_socket, recv,
    version_name, wait_peer_close, Context, Result, CHUNK,
};
use crate::DemoArgs;

/// The certificate's name, which the client checks.
const SERVER_NAME: &str = "kquic.demo";
/// SO_RCVTIMEO / SO_SNDTIMEO of every demo socket: a stuck transfer fails instead of hanging.
const TIMEOUT: Duration = Duration::from_secs(20);

type Digest32 = [u8; 32];

/// What the server thread tells the client side, in this order.
enum ServerMsg {
    /// Handshake done: the client's address and what was negotiated.
    Handshake(SocketAddr, String),
    /// Every stream's FIN arrived: per stream id, bytes and SHA-256 of what was received.
    Received(BTreeMap<i64, (u64, Digest32)>, Instant),
    /// How the client's close showed up, and how long after the transfer.
    Closed(String, Duration),
}

/// Bytes of stream `i` of `n` when `total` is split over them (the first streams take the
/// remainder).
fn stream_len(total: u64, n: usize, i: usize) -> u64 {
    let n = n as u64;
    total / n + u64::from((i as u64) < total % n)
}

/// A deterministic pseudo-random byte sequence per seed (xorshift64*).
struct Pattern(u64);

impl Pattern {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// Fills `buf`; the sequence continues in the next call if `buf`'s length is a multiple of 8.
    fn fill(&mut self, buf: &mut [u8]) {
        for word in buf.chunks_mut(8) {
            let mut x = self.0;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.0 = x;
            let v = x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes();
            word.copy_from_slice(&v[..word.len()]);
        }
    }
}

fn short_hex(d: &Digest32) -> String {
    d[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn human(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

fn set_timeouts(s: &Socket) -> Result<()> {
    s.set_read_timeout(Some(TIMEOUT)).ctx("SO_RCVTIMEO")?;
    s.set_write_timeout(Some(TIMEOUT)).ctx("SO_SNDTIMEO")
}

fn tls_configs(alpn: &str) -> Result<(TlsConfig, TlsConfig)> {
    let c = self_signed(SERVER_NAME)?;
    let der = CertificateDer::from(c.cert_der);
    let server = TlsConfig::server()
        .cert_der(vec![der.clone()])
        .key_der(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(c.key_der)))
        .alpn(alpn)
        .build()
        .ctx("server TLS configuration")?;
    let client = TlsConfig::client()
        .ca_der(der)
        .server_name(SERVER_NAME)
        .alpn(alpn)
        .build()
        .ctx("client TLS configuration")?;
    Ok((client, server))
}

pub(crate) fn run(a: &DemoArgs) -> Result<()> {
    let n = usize::from(a.streams);
    let ip = if a.v6 {
        IpAddr::V6(Ipv6Addr::LOCALHOST)
    } else {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    };
    println!(
        "== quic demo: {} loopback, {n} stream{}, {} ({} bytes) client -> server, echoed back",
        if a.v6 { "IPv6" } else { "IPv4" },
        if n == 1 { "" } else { "s" },
        human(a.bytes),
        a.bytes
    );
    let (client_tls, server_tls) = tls_configs(&a.alpn)?;

    let bind = SocketAddr::new(ip, 0);
    let l = open_socket(&bind)?;
    configure(&l, &a.alpn, a.v2)?;
    set_timeouts(&l)?;
    l.bind(&bind).ctx(format_args!("bind {bind}"))?;
    l.listen(16).ctx("listen")?;
    let addr = l.local_addr().ctx("getsockname")?;
    println!(
        "   server: listening on {addr} (ALPN {}, QUIC {})",
        a.alpn,
        version_name(&l)
    );
    let (tx, rx) = mpsc::channel();
    let server = thread::spawn(move || server_side(l, &server_tls, n, &tx));

    // Handshake.
    let c = open_socket(&addr)?;
    configure(&c, &a.alpn, a.v2)?;
    set_timeouts(&c)?;
    let t0 = Instant::now();
    c.connect(&addr).ctx(format_args!("connect {addr}"))?;
    let info = client_handshake(&c, &client_tls, None).ctx("client handshake")?;
    let hs_time = t0.elapsed();
    let local = c.local_addr().ctx("getsockname")?;
    println!(
        "   client: {local} -> {addr}: handshake done in {:.1} ms",
        hs_time.as_secs_f64() * 1e3
    );
    println!("   client: {}", describe_handshake(&c, &info));
    match next(&rx, server)? {
        (ServerMsg::Handshake(peer, line), h) => {
            println!("   server: accepted {peer}: {line}");
            transfer_and_close(a, c, rx, h, info.cipher)
        }
        (_, _) => Err(err("server: unexpected report order")),
    }
}

/// The server thread's next report; if it ended instead, its error.
fn next(
    rx: &Receiver<ServerMsg>,
    h: JoinHandle<Result<()>>,
) -> Result<(ServerMsg, JoinHandle<Result<()>>)> {
    match rx.recv() {
        Ok(m) => Ok((m, h)),
        Err(_) => match h.join() {
            Ok(Err(e)) => Err(err(format!("server: {e}"))),
            Ok(Ok(())) => Err(err("server: ended early")),
            Err(_) => Err(err("server: panicked")),
        },
    }
}

fn transfer_and_close(
    a: &DemoArgs,
    c: Socket,
    rx: Receiver<ServerMsg>,
    server: JoinHandle<Result<()>>,
    cipher: Option<quic::tls::Cipher>,
) -> Result<()> {
    let n = usize::from(a.streams);
    let total = a.bytes;
    let start = Instant::now();
    let (sent, echoed, echo_done) = thread::scope(|sc| {
        let sender = sc.spawn(|| send_streams(&c, total, n));
        let echoed = read_echoes(&c, n);
        let echo_done = Instant::now();
        let sent = sender
            .join()
            .unwrap_or_else(|_| Err(err("sender thread panicked")));
        Ok::<_, crate::common::Error>((sent?, echoed?, echo_done))
    })?;
    let (received, server_done, server) = match next(&rx, server)? {
        (ServerMsg::Received(r, at), h) => (r, at, h),
        (_, _) => return Err(err("server: unexpected report order")),
    };

    println!(
        "   {:>6}  {:>10}  {:<18}  {:<16}  {:<16}",
        "stream", "bytes", "SHA-256 (sent)", "server received", "echoed back"
    );
    let mut bad = 0;
    for (sid, (len, digest)) in &sent {
        let verdict = |got: Option<&(u64, Digest32)>| match got {
            Some((l, d)) if l == len && d == digest => "ok".to_string(),
            Some((l, d)) => format!("MISMATCH ({l} B, {})", short_hex(d)),
            None => "MISSING".to_string(),
        };
        let (r, e) = (verdict(received.get(sid)), verdict(echoed.get(sid)));
        if r != "ok" || e != "ok" {
            bad += 1;
        }
        println!(
            "   {sid:>6}  {len:>10}  {:<18}  {r:<16}  {e:<16}",
            format!("{}..", short_hex(digest))
        );
    }
    let up = server_done.saturating_duration_since(start);
    let down = echo_done.saturating_duration_since(start);
    println!(
        "   client -> server: {} in {:.3} s = {:.1} MB/s (until the server had every byte)",
        human(total),
        up.as_secs_f64(),
        mb_per_s(total, up)
    );
    println!(
        "   server -> client: {} in {:.3} s = {:.1} MB/s (echo, until the client had every byte)",
        human(total),
        down.as_secs_f64(),
        mb_per_s(total, down)
    );
    println!(
        "   (both ways at once, {}, QUIC {})",
        cipher_name(cipher),
        version_name(&c)
    );

    // Close: CONNECTION_CLOSE with application code 0 and a phrase.
    if let Err(e) = c.close_connection(0, "quic demo done") {
        println!("   client: setting the close phrase failed ({e}); closing anyway");
    }
    drop(c);
    println!("   client: closed its socket");
    match next(&rx, server)? {
        (ServerMsg::Closed(how, after), h) => {
            println!(
                "   server: saw the close {:.1} ms later: {how}",
                after.as_secs_f64() * 1e3
            );
            match h.join() {
                Ok(r) => r.map_err(|e| err(format!("server: {e}")))?,
                Err(_) => return Err(err("server: panicked")),
            }
        }
        (_, _) => return Err(err("server: unexpected report order")),
    }
    if bad > 0 {
        return Err(err(format!("{bad} of {n} streams did not match")));
    }
    println!("== demo passed: {n} streams verified by SHA-256 both ways");
    Ok(())
}

/// Sends every stream's data, round-robin in [`CHUNK`] pieces (all streams open at once):
/// stream `4 * i` (the client's i-th bidirectional stream) carries `Pattern::new(i)`.
/// Returns each stream's length and SHA-256.
fn send_streams(c: &Socket, total: u64, n: usize) -> Result<BTreeMap<i64, (u64, Digest32)>> {
    let mut pats: Vec<Pattern> = (0..n).map(|i| Pattern::new(i as u64 + 1)).collect();
    let mut hashers: Vec<Sha256> = (0..n).map(|_| Sha256::new()).collect();
    let lens: Vec<u64> = (0..n).map(|i| stream_len(total, n, i)).collect();
    let mut off = vec![0u64; n];
    let mut buf = vec![0u8; CHUNK];
    let mut open = n;
    let mut started = vec![false; n];
    while open > 0 {
        for i in 0..n {
            if started[i] && off[i] == lens[i] {
                continue;
            }
            let sid = 4 * i as i64;
            let len = (lens[i] - off[i]).min(CHUNK as u64) as usize;
            let piece = &mut buf[..len];
            pats[i].fill(piece);
            hashers[i].update(&*piece);
            let mut flags = if started[i] { 0 } else { MSG_QUIC_STREAM_NEW };
            off[i] += len as u64;
            if off[i] == lens[i] {
                flags |= MSG_QUIC_STREAM_FIN;
                open -= 1;
            }
            started[i] = true;
            send_piece(c, piece, sid, flags)?;
        }
    }
    Ok((0..n)
        .map(|i| {
            let d: Digest32 = hashers[i].clone().finalize().into();
            (4 * i as i64, (lens[i], d))
        })
        .collect())
}

/// One piece with its flags; a blocking send queues it all (or fails at SO_SNDTIMEO).
fn send_piece(c: &Socket, piece: &[u8], sid: i64, flags: u32) -> Result<()> {
    let mut off = 0;
    let mut flags = flags;
    loop {
        match c.send(&piece[off..], sid, flags) {
            Ok(k) => {
                off += k;
                if off >= piece.len() {
                    return Ok(());
                }
                if k == 0 {
                    return Err(err(format!("sendmsg on stream {sid}: nothing sent")));
                }
                // The FIN (if any) stays with the rest; NEW was done.
                flags &= !MSG_QUIC_STREAM_NEW;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(err(format!("sendmsg on stream {sid}: {e}"))),
        }
    }
}

/// Per stream id: bytes and SHA-256 of everything read until `n` FINs arrived. Every read must
/// be on one of the streams the client opened.
fn read_streams(
    s: &Socket,
    n: usize,
    who: &str,
    mut each: impl FnMut(i64, &[u8], bool) -> Result<()>,
) -> Result<BTreeMap<i64, (u64, Digest32)>> {
    let mut state: BTreeMap<i64, (u64, Sha256, bool)> = BTreeMap::new();
    let mut fins = 0;
    let mut buf = vec![0u8; CHUNK];
    while fins < n {
        let r =
            recv(s, &mut buf).ctx(format_args!("{who}: recvmsg ({fins} of {n} streams done)"))?;
        if is_eof(&r) {
            return Err(err(format!(
                "{who}: connection closed with {fins} of {n} streams done"
            )));
        }
        let sid = r.stream_id;
        if sid < 0 || sid % 4 != 0 || sid >= 4 * n as i64 {
            return Err(err(format!("{who}: data on unexpected stream {sid}")));
        }
        let e = state
            .entry(sid)
            .or_insert_with(|| (0, Sha256::new(), false));
        if e.2 {
            return Err(err(format!("{who}: stream {sid}: data after its FIN")));
        }
        e.0 += r.len as u64;
        e.1.update(&buf[..r.len]);
        if r.fin() {
            e.2 = true;
            fins += 1;
        }
        each(sid, &buf[..r.len], r.fin())?;
    }
    Ok(state
        .into_iter()
        .map(|(sid, (len, h, _))| (sid, (len, h.finalize().into())))
        .collect())
}

fn read_echoes(c: &Socket, n: usize) -> Result<BTreeMap<i64, (u64, Digest32)>> {
    read_streams(c, n, "client", |_, _, _| Ok(()))
}

/// The server thread: accept, handshake, echo every stream, report, wait for the close.
fn server_side(l: Socket, tls: &TlsConfig, n: usize, tx: &Sender<ServerMsg>) -> Result<()> {
    let (s, peer) = l.accept().ctx("accept")?;
    drop(l);
    set_timeouts(&s)?;
    let info = server_handshake(&s, tls).ctx("server handshake")?;
    let _ = tx.send(ServerMsg::Handshake(peer, describe_handshake(&s, &info)));
    let mut last_fin = Instant::now();
    let received = read_streams(&s, n, "server", |sid, data, fin| {
        if fin {
            last_fin = Instant::now();
        }
        let flags = if fin { MSG_QUIC_STREAM_FIN } else { 0 };
        send_piece(&s, data, sid, flags).map_err(|e| err(format!("echo: {e}")))
    })?;
    let _ = tx.send(ServerMsg::Received(received, last_fin));
    let t = Instant::now();
    let how = wait_peer_close(&s, TIMEOUT);
    let _ = tx.send(ServerMsg::Closed(how, t.elapsed()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_split_the_total() {
        for (total, n) in [
            (8u64 << 20, 4usize),
            (10, 3),
            (2, 4),
            (0, 1),
            (1 << 20, 100),
        ] {
            let lens: Vec<u64> = (0..n).map(|i| stream_len(total, n, i)).collect();
            assert_eq!(lens.iter().sum::<u64>(), total, "{total} over {n}");
            assert!(lens.iter().max().unwrap() - lens.iter().min().unwrap() <= 1);
        }
    }

    #[test]
    fn pattern_continues_across_chunks() {
        let mut whole = vec![0u8; 64];
        Pattern::new(3).fill(&mut whole);
        let mut p = Pattern::new(3);
        let mut parts = vec![0u8; 64];
        p.fill(&mut parts[..24]);
        p.fill(&mut parts[24..]);
        assert_eq!(whole, parts);
        let mut other = vec![0u8; 64];
        Pattern::new(4).fill(&mut other);
        assert_ne!(whole, other);
    }
}
