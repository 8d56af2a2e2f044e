//! quic_hostile: crafted and mutated UDP datagrams at a live kquic listener and connection, in
//! the guest with quic.ko loaded (a selftest: kselftest TAP, exit 0 on pass).
//!
//! A real connection (two kernel sockets handshaken with libquic over 127.0.0.1) moves a
//! stream of pattern data for the whole run while plain UDP sockets send, each from its own
//! port, one class of hostile datagram at the listener's port and at both ends of the
//! connection: protected client Initials (real ClientHellos from fresh addresses, and Initials
//! carrying truncated, misplaced and malformed frames, undersized and oversized, with wrong
//! Length fields), unprotected Initial/0-RTT/Handshake/Retry/Version Negotiation and 1-RTT
//! packets with right, unknown and malformed connection IDs, forged stateless resets, Version
//! Negotiation and Retry aimed at the established client, bit-flipped, truncated and replayed
//! copies of the connection's own packets (captured on `lo` with an AF_PACKET socket, which is
//! also how the connection IDs are learned), and random bytes.
//!
//! Passes when: the stream arrives intact (SHA-256 of what was sent = of what was received)
//! and the server's answer comes back on the same connection afterwards; no hostile socket
//! received more than 3 times the bytes it sent (RFC 9000 §8.1: every one of these addresses
//! is unvalidated); the kernel log has no BUG/WARNING/KASAN/lockdep/kmemleak lines.
//!
//!   quic_hostile [--seconds N] [--seed S]

use std::collections::BTreeMap;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use kquic_fuzz::packet::{
    client_hello, crypto_frame, long_header, seal_initial, short_header, varint,
    version_negotiation, InitialSpec, LongType,
};
use kquic_fuzz::{bad_kernel_lines, connected_pair, tls_configs, Rng, Tls, ALPN, SERVER_NAME};
use quic::ksock::{server_handshake, SockType, Socket};
use quic_uapi::{MSG_QUIC_STREAM_FIN, MSG_QUIC_STREAM_NEW};
use sha2::{Digest, Sha256};

/// Receive/send timeout of the real connection's sockets.
const TIMEOUT: Duration = Duration::from_secs(15);
/// Bytes per send on the real stream.
const CHUNK: usize = 16 * 1024;
/// How long the hostile sockets keep counting answers after the last datagram.
const DRAIN: Duration = Duration::from_secs(4);

/// A datagram seen on `lo`.
#[derive(Clone)]
struct Captured {
    dst_port: u16,
    payload: Vec<u8>,
}

/// Captures UDP/IPv4 datagrams on `lo` (each once: outgoing copies are skipped) until `stop`.
fn sniff(stop: Arc<AtomicBool>, out: Arc<Mutex<Vec<Captured>>>) -> Result<(), String> {
    let proto = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: plain system call with integer arguments.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_DGRAM, i32::from(proto)) };
    if fd < 0 {
        return Err(format!("AF_PACKET socket: {}", io::Error::last_os_error()));
    }
    // SAFETY: fd was just returned by socket() and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: the name is a NUL-terminated string.
    let ifindex = unsafe { libc::if_nametoindex(c"lo".as_ptr()) };
    // SAFETY: sockaddr_ll is plain data; all-zero is valid.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = proto;
    sll.sll_ifindex = ifindex as i32;
    // SAFETY: sll is a live sockaddr_ll of the length passed.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(format!(
            "bind AF_PACKET to lo: {}",
            io::Error::last_os_error()
        ));
    }
    let tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 200_000,
    };
    // SAFETY: tv is a live timeval of the length passed.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: sockaddr_ll is plain data; all-zero is valid.
        let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut flen = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        // SAFETY: buf and from are writable for the lengths passed.
        let n = unsafe {
            libc::recvfrom(
                fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                0,
                (&mut from as *mut libc::sockaddr_ll).cast(),
                &mut flen,
            )
        };
        if n < 0 {
            continue;
        }
        if from.sll_pkttype == libc::PACKET_OUTGOING {
            continue;
        }
        let p = &buf[..n as usize];
        if p.len() < 28 || p[0] >> 4 != 4 || p[9] != 17 {
            continue;
        }
        let ihl = usize::from(p[0] & 0x0f) * 4;
        let Some(udp) = p.get(ihl..) else { continue };
        if udp.len() < 8 {
            continue;
        }
        let dst_port = u16::from_be_bytes([udp[2], udp[3]]);
        let ulen = usize::from(u16::from_be_bytes([udp[4], udp[5]])).min(udp.len());
        let payload = udp[8..ulen.max(8)].to_vec();
        let mut v = out.lock().unwrap_or_else(|e| e.into_inner());
        if v.len() < 3000 {
            v.push(Captured { dst_port, payload });
        }
    }
    Ok(())
}

/// One class of hostile datagram, sent from its own UDP socket; counts both ways.
struct Attacker {
    name: &'static str,
    sock: UdpSocket,
    sent_pkts: AtomicU64,
    sent_bytes: AtomicU64,
    back_pkts: AtomicU64,
    back_bytes: AtomicU64,
    errors: AtomicU64,
}

impl Attacker {
    fn new(name: &'static str) -> io::Result<Arc<Self>> {
        let sock = UdpSocket::bind("127.0.0.1:0")?;
        sock.set_read_timeout(Some(Duration::from_millis(200)))?;
        Ok(Arc::new(Self {
            name,
            sock,
            sent_pkts: AtomicU64::new(0),
            sent_bytes: AtomicU64::new(0),
            back_pkts: AtomicU64::new(0),
            back_bytes: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        }))
    }

    fn send(&self, data: &[u8], to: SocketAddr) {
        match self.sock.send_to(data, to) {
            Ok(n) => {
                self.sent_pkts.fetch_add(1, Ordering::Relaxed);
                self.sent_bytes.fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(_) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Counts what comes back until `stop`.
    fn drain(self: Arc<Self>, stop: Arc<AtomicBool>) {
        let mut buf = vec![0u8; 65536];
        while !stop.load(Ordering::Relaxed) {
            if let Ok((n, _)) = self.sock.recv_from(&mut buf) {
                self.back_pkts.fetch_add(1, Ordering::Relaxed);
                self.back_bytes.fetch_add(n as u64, Ordering::Relaxed);
            }
        }
    }
}

/// What the attack knows about its targets.
struct Targets {
    listener: SocketAddr,
    client: SocketAddr,
    /// The server's connection ID (DCID of 1-RTT packets to the listener's port).
    server_cid: Vec<u8>,
    /// The client's connection ID.
    client_cid: Vec<u8>,
    captured: Vec<Captured>,
    roots: rustls::RootCertStore,
}

fn random_cid(r: &mut Rng) -> Vec<u8> {
    let len = r.pick(&[8usize, 8, 8, 0, 1, 4, 16, 20]);
    r.bytes(len)
}

fn some_port(r: &mut Rng, t: &Targets) -> SocketAddr {
    if r.chance(50) {
        t.listener
    } else {
        t.client
    }
}

/// The right connection ID for a destination, or sometimes a wrong one.
fn cid_for(r: &mut Rng, t: &Targets, to: SocketAddr) -> Vec<u8> {
    if r.chance(75) {
        if to == t.listener {
            t.server_cid.clone()
        } else {
            t.client_cid.clone()
        }
    } else {
        random_cid(r)
    }
}

/// Frames for a protected Initial: malformed, truncated or out of place.
fn hostile_frames(r: &mut Rng, hello: &[u8]) -> (Vec<u8>, &'static str) {
    let mut f = Vec::new();
    let what = match r.below(12) {
        0 => {
            // CRYPTO claiming more bytes than the packet has.
            f.push(0x06);
            varint(0, &mut f);
            varint(hello.len() as u64 + 5000, &mut f);
            f.extend_from_slice(&hello[..hello.len() / 2]);
            "crypto-overlong"
        }
        1 => {
            crypto_frame((1 << 62) - 1 - r.below(100), hello, &mut f);
            "crypto-huge-offset"
        }
        2 => {
            let cut = r.below(hello.len() as u64) as usize;
            crypto_frame(0, &hello[..cut], &mut f);
            "crypto-half-hello"
        }
        3 => {
            // ACK with an absurd range count and first range.
            f.push(0x02);
            varint(r.below(1 << 62), &mut f);
            varint(r.below(1 << 20), &mut f);
            varint(r.below(1 << 30), &mut f);
            varint(r.below(1 << 62), &mut f);
            for _ in 0..r.below(4) {
                varint(r.below(1 << 62), &mut f);
            }
            "ack-absurd"
        }
        4 => {
            f.push(0x1c);
            varint(r.below(1 << 16), &mut f);
            varint(0, &mut f);
            varint(r.pick(&[0, 5, 1 << 20, (1 << 62) - 1]), &mut f);
            f.extend_from_slice(b"bye");
            "connection-close"
        }
        5 => {
            // 1-RTT only frames in an Initial: STREAM, MAX_DATA, NEW_CONNECTION_ID, HANDSHAKE_DONE.
            crypto_frame(0, hello, &mut f);
            f.extend_from_slice(&[0x0f, 0x00, 0x00, 0x03, b'a', b'b', b'c']);
            f.extend_from_slice(&[0x10, 0x44, 0x00]);
            f.extend_from_slice(&[0x18, 0x01, 0x00, 0x08]);
            f.extend_from_slice(&r.bytes(8 + 16));
            f.push(0x1e);
            "1rtt-frames-in-initial"
        }
        6 => {
            crypto_frame(0, hello, &mut f);
            varint(
                r.pick(&[0x21, 0x40, 0x3fff, 0x1234_5678, (1 << 62) - 1]),
                &mut f,
            );
            f.extend_from_slice(&{
                let n = r.below(40) as usize;
                r.bytes(n)
            });
            "unknown-frame-type"
        }
        7 => {
            // A truncated varint at the very end (no padding after it).
            crypto_frame(0, hello, &mut f);
            f.extend_from_slice(&r.bytes(600));
            f.push(0x06);
            f.push(0xc0);
            "truncated-varint"
        }
        8 => {
            // The hello twice, overlapping and contradicting.
            crypto_frame(0, hello, &mut f);
            let mut other = hello.to_vec();
            if let Some(b) = other.get_mut(40) {
                *b ^= 0xff;
            }
            crypto_frame(10, &other[10..], &mut f);
            "crypto-conflicting"
        }
        9 => {
            f.push(0x01);
            "ping-only"
        }
        10 => {
            f = {
                let n = r.below(1200) as usize;
                r.bytes(n)
            };
            "random-frames"
        }
        _ => {
            crypto_frame(0, hello, &mut f);
            f.extend_from_slice(&[0x07, 0x05, 1, 2, 3, 4, 5]); // NEW_TOKEN from a client
            "new-token-from-client"
        }
    };
    (f, what)
}

struct Attack {
    t: Targets,
    hello_scid: Vec<u8>,
    hello: Vec<u8>,
    kinds: BTreeMap<&'static str, u64>,
}

impl Attack {
    fn count(&mut self, what: &'static str) {
        *self.kinds.entry(what).or_default() += 1;
    }

    /// A real ClientHello in a protected Initial from a fresh connection ID.
    fn genuine_initial(&mut self, r: &mut Rng, a: &Attacker) {
        let dcid = {
            let n = 8 + r.below(13) as usize;
            r.bytes(n)
        };
        let pkt = seal_initial(&InitialSpec {
            dcid: &dcid,
            scid: &self.hello_scid,
            token: &[],
            pn: 0,
            frames: &{
                let mut f = Vec::new();
                crypto_frame(0, &self.hello, &mut f);
                f
            },
            pad_to: 1200,
            length_override: None,
        });
        a.send(&pkt, self.t.listener);
        self.count("initial-clienthello");
    }

    fn bad_initial(&mut self, r: &mut Rng, a: &Attacker) {
        let dcid = if r.chance(80) {
            {
                let n = 8 + r.below(13) as usize;
                r.bytes(n)
            }
        } else {
            {
                let n = r.below(8) as usize;
                r.bytes(n)
            } // too short for a client's first DCID
        };
        let (frames, what) = hostile_frames(r, &self.hello);
        let pad_to = r.pick(&[1200, 1200, 1252, 1350, 1472, 0, 600, 1199]);
        let token = if r.chance(15) {
            {
                let n = r.pick(&[1, 16, 64, 200]);
                r.bytes(n)
            }
        } else {
            Vec::new()
        };
        let length_override = if r.chance(15) {
            Some(r.pick(&[0, 1, 5, 20, 3000, 16383]))
        } else {
            None
        };
        let mut pkt = seal_initial(&InitialSpec {
            dcid: &dcid,
            scid: &self.hello_scid,
            token: &token,
            pn: r.below(1 << 20) as u32,
            frames: &frames,
            pad_to,
            length_override,
        });
        if r.chance(10) {
            // Coalesced garbage after the Initial.
            let more = {
                let n = r.below(300) as usize;
                r.bytes(n)
            };
            pkt.extend_from_slice(&more);
        }
        let to = if r.chance(85) {
            self.t.listener
        } else {
            self.t.client
        };
        a.send(&pkt, to);
        self.count(what);
    }

    fn long_junk(&mut self, r: &mut Rng, a: &Attacker) {
        let ty = r.pick(&[
            LongType::Initial,
            LongType::ZeroRtt,
            LongType::Handshake,
            LongType::Retry,
        ]);
        let to = some_port(r, &self.t);
        let dcid = cid_for(r, &self.t, to);
        let scid = random_cid(r);
        let any = r.next_u64() as u32;
        let version = r.pick(&[1, 1, 1, 0x6b33_43cf, 0xff00_001d, 0x0a0a_0a0a, any]);
        let mut body = Vec::new();
        if ty == LongType::Initial && r.chance(70) {
            varint(r.pick(&[0, 0, 5, 1000]), &mut body);
        }
        let len = r.pick(&[0usize, 1, 3, 20, 100, 1100, 1200, 1400, 1452, 3000, 65000]);
        let mut payload = r.bytes(len);
        if r.chance(60) && payload.len() >= 2 {
            // A Length field: right, too long, too short or the 8-byte maximum.
            let want = match r.below(4) {
                0 => payload.len() as u64 - 2,
                1 => payload.len() as u64 + 100,
                2 => 1,
                _ => (1 << 62) - 1,
            };
            let mut l = Vec::new();
            varint(want, &mut l);
            body.extend_from_slice(&l);
        }
        body.append(&mut payload);
        let mut pkt = long_header(ty, version, r.next_u64() as u8, &dcid, &scid, &body);
        if r.chance(10) {
            // A DCID length byte that lies.
            pkt[5] = r.pick(&[21, 64, 255]);
        }
        if r.chance(10) {
            pkt[0] &= !0x40; // fixed bit clear
        }
        a.send(&pkt, to);
        self.count(match ty {
            LongType::Initial => "long-initial",
            LongType::ZeroRtt => "long-0rtt",
            LongType::Handshake => "long-handshake",
            LongType::Retry => "long-retry",
        });
    }

    fn short_junk(&mut self, r: &mut Rng, a: &Attacker) {
        let to = some_port(r, &self.t);
        let dcid = cid_for(r, &self.t, to);
        let len = r.pick(&[0usize, 1, 4, 16, 20, 21, 40, 100, 1000, 1200, 1400, 1452]);
        let pkt = short_header(r.next_u64() as u8, &dcid, &r.bytes(len));
        a.send(&pkt, to);
        self.count(if len < 21 {
            "short-tiny"
        } else {
            "short-random"
        });
    }

    fn forged_reset(&mut self, r: &mut Rng, a: &Attacker) {
        let to = some_port(r, &self.t);
        let dcid = cid_for(r, &self.t, to);
        let len = r.pick(&[5usize, 21, 30, 60, 200, 1200]);
        let mut rest = r.bytes(len.saturating_sub(1 + dcid.len()).max(16));
        let tl = rest.len();
        rest[tl - 16..].copy_from_slice(&r.bytes(16));
        a.send(&short_header(r.next_u64() as u8, &dcid, &rest), to);
        self.count("forged-stateless-reset");
    }

    fn vn_established(&mut self, r: &mut Rng, a: &Attacker) {
        let mut versions = vec![0x1a2a_3a4a, 0xff00_001d];
        if r.chance(30) {
            versions.push(1);
        }
        for _ in 0..r.below(4) {
            versions.push(r.next_u64() as u32);
        }
        let pkt = version_negotiation(
            r.next_u64() as u8,
            &self.t.client_cid,
            &self.t.server_cid,
            &versions,
        );
        a.send(&pkt, self.t.client);
        self.count("vn-to-established");
    }

    fn retry_established(&mut self, r: &mut Rng, a: &Attacker) {
        let mut body = {
            let n = r.pick(&[0usize, 16, 40, 100]);
            r.bytes(n)
        };
        body.extend_from_slice(&r.bytes(16));
        let pkt = long_header(
            LongType::Retry,
            1,
            r.next_u64() as u8,
            &self.t.client_cid,
            &r.bytes(8),
            &body,
        );
        a.send(&pkt, self.t.client);
        self.count("retry-to-established");
    }

    fn mutated(&mut self, r: &mut Rng, a: &Attacker, replay: bool) {
        if self.t.captured.is_empty() {
            return;
        }
        let c = &self.t.captured[r.below(self.t.captured.len() as u64) as usize];
        let to = SocketAddr::new([127, 0, 0, 1].into(), c.dst_port);
        let mut p = c.payload.clone();
        if replay {
            a.send(&p, to);
            self.count("replay-captured");
            return;
        }
        match r.below(5) {
            0 => {
                for _ in 0..1 + r.below(4) {
                    if !p.is_empty() {
                        let i = r.below(p.len() as u64) as usize;
                        p[i] ^= 1 << r.below(8);
                    }
                }
            }
            1 => p.truncate(r.below(p.len() as u64 + 1) as usize),
            2 => p.extend_from_slice(&{
                let n = r.below(200) as usize;
                r.bytes(n)
            }),
            3 => {
                // Keep the header, replace the rest.
                let keep = p.len().min(1 + 8 + r.below(8) as usize);
                let tail = r.bytes(p.len() - keep);
                p.truncate(keep);
                p.extend_from_slice(&tail);
            }
            _ => {
                if !p.is_empty() {
                    p[0] ^= 0x80; // long <-> short
                }
            }
        }
        a.send(&p, to);
        self.count("mutated-captured");
    }
}

/// Accepts whatever the listener queues (the hostile Initials' connections) and runs the
/// server handshake on each, so that the server's flight really goes out.
fn acceptor(l: Arc<Socket>, tls: Arc<Tls>, stop: Arc<AtomicBool>, accepted: Arc<AtomicU64>) {
    let _ = l.set_read_timeout(Some(Duration::from_millis(200)));
    let mut hs = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        if let Ok((s, _)) = l.accept() {
            accepted.fetch_add(1, Ordering::Relaxed);
            let tls = tls.clone();
            hs.push(thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
                let _ = server_handshake(&s, &tls.server);
            }));
            hs.retain(|h| !h.is_finished());
        }
    }
    for h in hs {
        let _ = h.join();
    }
}

struct Tap {
    n: usize,
    failed: usize,
}

impl Tap {
    fn result(&mut self, ok: bool, name: &str, why: &str) {
        self.n += 1;
        if ok {
            println!("ok {} {name}", self.n);
        } else {
            self.failed += 1;
            println!("not ok {} {name} # {why}", self.n);
        }
    }
}

fn sha_hex(h: Sha256) -> String {
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn main() {
    let mut seconds = 20u64;
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_default();
        match a.as_str() {
            "--seconds" => seconds = v.parse().unwrap_or(seconds),
            "--seed" => {
                seed = match v.strip_prefix("0x") {
                    Some(h) => u64::from_str_radix(h, 16).unwrap_or(seed),
                    None => v.parse().unwrap_or(seed),
                }
            }
            _ => {
                eprintln!("usage: quic_hostile [--seconds N] [--seed S]");
                std::process::exit(2);
            }
        }
    }
    // SAFETY: ignoring SIGPIPE, so that writes on closed connections return EPIPE.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    println!("TAP version 13");
    println!("1..5");
    println!("# quic_hostile: seed {seed:#x}, {seconds} s of hostile datagrams");
    let mut tap = Tap { n: 0, failed: 0 };
    let code = match run(&mut tap, seconds, seed) {
        Ok(()) => i32::from(tap.failed > 0),
        Err(e) => {
            println!("Bail out! {e}");
            1
        }
    };
    println!("# totals: pass:{} fail:{}", tap.n - tap.failed, tap.failed);
    std::process::exit(code);
}

fn run(tap: &mut Tap, seconds: u64, seed: u64) -> Result<(), String> {
    let mut r = Rng::new(seed);
    // Only what the kernel logs from now on is ours to judge.
    let log_before = kernel_log().map(|l| l.lines().count()).unwrap_or(0);
    // A certificate with many names: the server's first flight is several times 1200 bytes,
    // so that only the amplification limit keeps it under 3x.
    let tls = Arc::new(tls_configs(250)?);
    println!("# server certificate: {} bytes", tls.cert.len());

    let sniff_stop = Arc::new(AtomicBool::new(false));
    let captured = Arc::new(Mutex::new(Vec::new()));
    let sniffer = {
        let (s, c) = (sniff_stop.clone(), captured.clone());
        thread::spawn(move || sniff(s, c))
    };
    thread::sleep(Duration::from_millis(100));

    let pair = connected_pair(&tls, false, SockType::Stream, TIMEOUT)?;
    let listen_addr = pair.listen_addr;
    let client_addr = pair
        .client
        .local_addr()
        .map_err(|e| format!("getsockname: {e}"))?;
    println!("# connection: client {client_addr} <-> listener {listen_addr}");
    let client = Arc::new(pair.client);
    let server = Arc::new(pair.server);
    let listener = Arc::new(pair.listener);

    // The real transfer: the client streams pattern data on stream 0 until told to stop.
    let stop_tx = Arc::new(AtomicBool::new(false));
    let sender = {
        let (c, stop) = (client.clone(), stop_tx.clone());
        thread::spawn(move || -> Result<(u64, String), String> {
            let mut h = Sha256::new();
            let mut sent = 0u64;
            let mut k = 0u64;
            let mut flags = MSG_QUIC_STREAM_NEW;
            while !stop.load(Ordering::Relaxed) {
                let data = kquic_fuzz::pattern(k, CHUNK);
                k += 1;
                let mut off = 0;
                while off < data.len() {
                    match c.send(&data[off..], 0, flags) {
                        Ok(n) => {
                            h.update(&data[off..off + n]);
                            off += n;
                            sent += n as u64;
                            flags = 0;
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(format!("client send after {sent} bytes: {e}")),
                    }
                }
            }
            c.send(&[], 0, MSG_QUIC_STREAM_FIN)
                .map_err(|e| format!("client FIN: {e}"))?;
            Ok((sent, sha_hex(h)))
        })
    };
    let receiver = {
        let s = server.clone();
        thread::spawn(move || -> Result<(u64, String), String> {
            let mut h = Sha256::new();
            let mut got = 0u64;
            let mut buf = vec![0u8; 65536];
            loop {
                match s.recv(&mut buf) {
                    Ok(rv) => {
                        if rv.stream_id != 0 {
                            return Err(format!("data on stream {}", rv.stream_id));
                        }
                        h.update(&buf[..rv.len]);
                        got += rv.len as u64;
                        if rv.fin() {
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(format!("server recv after {got} bytes: {e}")),
                }
            }
            let digest = sha_hex(h);
            // The answer goes back on the same stream: the other direction must work too.
            s.send(digest.as_bytes(), 0, MSG_QUIC_STREAM_FIN)
                .map_err(|e| format!("server answer: {e}"))?;
            Ok((got, digest))
        })
    };

    // Learn the connection IDs from the packets the pair exchanges.
    let learn_deadline = Instant::now() + Duration::from_secs(10);
    let (mut server_cid, mut client_cid) = (None, None);
    while Instant::now() < learn_deadline && (server_cid.is_none() || client_cid.is_none()) {
        thread::sleep(Duration::from_millis(200));
        for c in captured.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            if c.payload.len() > 9 && c.payload[0] & 0xc0 == 0x40 {
                if c.dst_port == listen_addr.port() && server_cid.is_none() {
                    server_cid = Some(c.payload[1..9].to_vec());
                } else if c.dst_port == client_addr.port() && client_cid.is_none() {
                    client_cid = Some(c.payload[1..9].to_vec());
                }
            }
        }
    }
    thread::sleep(Duration::from_millis(500));
    sniff_stop.store(true, Ordering::Relaxed);
    let sniff_result = sniffer
        .join()
        .unwrap_or_else(|_| Err("sniffer panicked".to_string()));
    let mut sample: Vec<Captured> = captured
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|c| c.dst_port == listen_addr.port() || c.dst_port == client_addr.port())
        .filter(|c| c.payload.len() <= 1500)
        .cloned()
        .collect();
    sample.truncate(400);
    let learned = server_cid.is_some() && client_cid.is_some();
    tap.result(
        learned,
        "learn_connection_ids",
        &format!(
            "sniffer: {:?}, server CID {server_cid:?}, client CID {client_cid:?}",
            sniff_result.err()
        ),
    );
    println!(
        "# captured {} datagrams of the connection; server CID {}, client CID {}",
        sample.len(),
        server_cid.as_deref().map(hexs).unwrap_or_default(),
        client_cid.as_deref().map(hexs).unwrap_or_default()
    );

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(tls.cert.clone())
        .map_err(|e| format!("root store: {e}"))?;
    let hello_scid = r.bytes(8);
    let hello = client_hello(roots.clone(), ALPN, SERVER_NAME, &hello_scid)?;
    let mut attack = Attack {
        t: Targets {
            listener: listen_addr,
            client: client_addr,
            server_cid: server_cid.unwrap_or_else(|| r.bytes(8)),
            client_cid: client_cid.unwrap_or_else(|| r.bytes(8)),
            captured: sample,
            roots,
        },
        hello_scid,
        hello,
        kinds: BTreeMap::new(),
    };
    let _ = &attack.t.roots;

    let accept_stop = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(AtomicU64::new(0));
    let acc = {
        let (l, t, s, a) = (
            listener.clone(),
            tls.clone(),
            accept_stop.clone(),
            accepted.clone(),
        );
        thread::spawn(move || acceptor(l, t, s, a))
    };

    const CLASSES: [&str; 10] = [
        "initial-clienthello",
        "initial-hostile-frames",
        "long-header-junk",
        "short-header-junk",
        "forged-stateless-reset",
        "vn-to-established",
        "retry-to-established",
        "mutated-captured",
        "replay-captured",
        "random-bytes",
    ];
    let drain_stop = Arc::new(AtomicBool::new(false));
    let mut attackers = Vec::new();
    let mut drains = Vec::new();
    for name in CLASSES {
        let a = Attacker::new(name).map_err(|e| format!("UDP socket: {e}"))?;
        let (a2, s) = (a.clone(), drain_stop.clone());
        drains.push(thread::spawn(move || a2.drain(s)));
        attackers.push(a);
    }

    let start = Instant::now();
    let end = start + Duration::from_secs(seconds);
    let mut last_hello = Instant::now() - Duration::from_secs(10);
    let mut n = 0u64;
    while Instant::now() < end {
        if sender.is_finished() || receiver.is_finished() {
            println!("# the transfer ended early; stopping the attack");
            break;
        }
        let k = r.below(CLASSES.len() as u64) as usize;
        let a = attackers[k].clone();
        match k {
            0 => {
                // Every genuine Initial makes a connection and a handshake: a few a second.
                if last_hello.elapsed() < Duration::from_millis(400) {
                    continue;
                }
                last_hello = Instant::now();
                attack.genuine_initial(&mut r, &a);
            }
            1 => attack.bad_initial(&mut r, &a),
            2 => attack.long_junk(&mut r, &a),
            3 => attack.short_junk(&mut r, &a),
            4 => attack.forged_reset(&mut r, &a),
            5 => attack.vn_established(&mut r, &a),
            6 => attack.retry_established(&mut r, &a),
            7 => attack.mutated(&mut r, &a, false),
            8 => attack.mutated(&mut r, &a, true),
            _ => {
                let len = r.pick(&[0usize, 1, 2, 7, 30, 500, 1200, 1500, 9000]);
                let to = some_port(&mut r, &attack.t);
                a.send(&r.bytes(len), to);
                attack.count("random-bytes");
            }
        }
        n += 1;
        if n.is_multiple_of(8) {
            // Leave the connection some of the CPU.
            thread::sleep(Duration::from_millis(2));
        }
    }
    println!(
        "# {n} hostile datagrams in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    for (k, v) in &attack.kinds {
        println!("#   {k}: {v}");
    }

    // The transfer ends; its data must be whole and the answer must come back.
    stop_tx.store(true, Ordering::Relaxed);
    let sent = sender
        .join()
        .unwrap_or_else(|_| Err("sender panicked".to_string()));
    let got = receiver
        .join()
        .unwrap_or_else(|_| Err("receiver panicked".to_string()));
    let answer = (|| -> Result<String, String> {
        let mut buf = [0u8; 128];
        let mut out = Vec::new();
        loop {
            let rv = client
                .recv(&mut buf)
                .map_err(|e| format!("client recv: {e}"))?;
            out.extend_from_slice(&buf[..rv.len]);
            if rv.fin() {
                return Ok(String::from_utf8_lossy(&out).into_owned());
            }
        }
    })();
    let ok = match (&sent, &got, &answer) {
        (Ok((sb, sh)), Ok((gb, gh)), Ok(ans)) => {
            println!("# transfer: {sb} bytes sent, {gb} received, SHA-256 {gh}");
            sb == gb && sh == gh && ans == sh
        }
        _ => false,
    };
    tap.result(
        ok,
        "connection_survives_with_data_intact",
        &format!("sent {sent:?}, received {got:?}, answer {answer:?}"),
    );

    // Amplification: count what came back for a while after the last datagram.
    thread::sleep(DRAIN);
    drain_stop.store(true, Ordering::Relaxed);
    accept_stop.store(true, Ordering::Relaxed);
    for d in drains {
        let _ = d.join();
    }
    let _ = acc.join();
    println!(
        "# listener accepted {} hostile connections",
        accepted.load(Ordering::Relaxed)
    );
    let mut worst = String::new();
    let mut amp_ok = true;
    for a in &attackers {
        let (sp, sb, bp, bb) = (
            a.sent_pkts.load(Ordering::Relaxed),
            a.sent_bytes.load(Ordering::Relaxed),
            a.back_pkts.load(Ordering::Relaxed),
            a.back_bytes.load(Ordering::Relaxed),
        );
        println!(
            "# {:24} sent {sp:6} datagrams {sb:9} bytes; got back {bp:6} datagrams {bb:9} bytes ({:.2}x); send errors {}",
            a.name,
            bb as f64 / sb.max(1) as f64,
            a.errors.load(Ordering::Relaxed)
        );
        if bb > 3 * sb {
            amp_ok = false;
            worst.push_str(&format!("{}: {bb} bytes back for {sb}; ", a.name));
        }
    }
    let hello_ok = attackers[0].sent_pkts.load(Ordering::Relaxed) > 0;
    tap.result(amp_ok, "unvalidated_addresses_get_at_most_3x", &worst);
    tap.result(
        hello_ok && accepted.load(Ordering::Relaxed) > 0,
        "genuine_initials_reach_accept",
        "no hostile ClientHello was accepted (the amplification check saw no handshake)",
    );

    drop(client);
    drop(server);
    drop(listener);
    match kernel_log() {
        Ok(log) => {
            let ours: String = log
                .lines()
                .skip(log_before)
                .flat_map(|l| [l, "\n"])
                .collect();
            let bad = bad_kernel_lines(&ours);
            for l in &bad {
                println!("# {l}");
            }
            tap.result(bad.is_empty(), "kernel_log_clean", "see the lines above");
        }
        Err(e) => {
            tap.n += 1;
            println!("ok {} kernel_log_clean # SKIP dmesg: {e}", tap.n);
        }
    }
    Ok(())
}

/// The kernel log (`dmesg`).
fn kernel_log() -> io::Result<String> {
    std::process::Command::new("dmesg")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
}

fn hexs(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
