//! quic_sockfuzz: random system call sequences on `IPPROTO_QUIC` sockets, run in the guest with
//! quic.ko loaded (`make fuzz-kernel`).
//!
//! Several threads share one table of socket slots. Each thread draws 64-bit operation seeds
//! from its own PRNG (seeded from the run seed and the thread number); an operation is a pure
//! function of its seed and the table's state: socket, bind, connect, listen, accept (blocking
//! with timeouts and non-blocking), sendmsg/recvmsg with random control messages and flags,
//! setsockopt/getsockopt with random levels, names, lengths and contents, shutdown, close,
//! poll, epoll, ioctl, and from time to time a real connection (two sockets handshaken with
//! libquic) so that established connections are there to be abused.
//!
//! Every call must come back with a result or an errno the kernel defines (1..=133); lengths
//! returned must fit what was passed; no call may block past its timeouts. Anything else is an
//! anomaly, printed with its thread, operation seed and description. `--log-dir` writes each
//! thread's operations (seed, then description and result) as they run, so that the sequence
//! that was running when the kernel fell over can be kept (`selftests/fuzz/corpus/`) and
//! replayed in order on one thread with `--replay FILE`.
//!
//!   quic_sockfuzz [--seconds N] [--seed S] [--threads T] [--log-dir DIR] [--replay FILE]...
//!
//! Exit status 0 when no anomaly was seen.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use kquic_fuzz::{connected_pair, loopback, tls_configs, Rng, Tls};
use quic::ksock::{SockType, Socket};
use quic_uapi::{
    IPPROTO_QUIC, MSG_QUIC_DATAGRAM, MSG_QUIC_NOTIFICATION, MSG_QUIC_STREAM_DONTWAIT,
    MSG_QUIC_STREAM_FIN, MSG_QUIC_STREAM_NEW, MSG_QUIC_STREAM_SNDBLOCK, MSG_QUIC_STREAM_UNI,
    QUIC_HANDSHAKE_INFO, QUIC_STREAM_INFO, SOL_QUIC,
};

/// Socket slots shared by all threads.
const SLOTS: usize = 24;
/// SO_RCVTIMEO / SO_SNDTIMEO of every socket the fuzzer makes (blocking calls end by then).
const SOCK_TIMEOUT: Duration = Duration::from_millis(250);
/// A call running longer than this is reported as a hang.
const HANG: Duration = Duration::from_secs(20);
/// Operations remembered per thread for the report of a hang or anomaly.
const HISTORY: usize = 40;
/// Largest buffer handed to the kernel for writing (getsockopt, recvmsg).
const BIG: usize = 1 << 20;

/// `--avoid-zero-recv`: no zero-length recvmsg (found to spin in the kernel holding the socket
/// lock, see corpus/), so that a run can get past it.
static AVOID_ZERO_RECV: AtomicBool = AtomicBool::new(false);

/// One slot of the table: a socket and what the fuzzer knows it to be.
struct Slot {
    sock: Socket,
    what: &'static str,
}

/// What the threads share.
struct World {
    slots: Mutex<Vec<Option<Arc<Slot>>>>,
    tls: Arc<Tls>,
    /// A page mapped PROT_NONE: pointers into it must make the kernel return EFAULT.
    bad: usize,
    stop: AtomicBool,
    stats: Stats,
    anomalies: Mutex<Vec<String>>,
}

#[derive(Default)]
struct Stats {
    ops: AtomicU64,
    syscalls: AtomicU64,
    pairs: AtomicU64,
    pair_failures: AtomicU64,
    by_errno: Mutex<BTreeMap<(String, i32), u64>>,
}

/// Per-thread state: where the thread is, for the watchdog, and its recent history.
struct Progress {
    /// Milliseconds since start when the current operation began (0: idle).
    since_ms: AtomicU64,
    seed: AtomicU64,
    /// What the current operation is doing.
    current: Mutex<String>,
    history: Mutex<Vec<String>>,
}

/// Where one thread writes its operations as they run.
struct OpLog {
    tid: usize,
    file: Option<File>,
    progress: Arc<Progress>,
}

impl OpLog {
    fn start(&mut self, seed: u64, start: Instant) {
        self.progress
            .since_ms
            .store(start.elapsed().as_millis() as u64 + 1, Ordering::Relaxed);
        self.progress.seed.store(seed, Ordering::Relaxed);
        if let Some(f) = self.file.as_mut() {
            let _ = write!(f, "t{} {seed:016x}", self.tid);
        }
    }

    fn finish(&mut self, seed: u64, desc: &str) {
        self.progress.since_ms.store(0, Ordering::Relaxed);
        if let Some(f) = self.file.as_mut() {
            let _ = writeln!(f, " {desc}");
        }
        let mut h = self
            .progress
            .history
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if h.len() >= HISTORY {
            h.remove(0);
        }
        h.push(format!("t{} {seed:016x} {desc}", self.tid));
    }
}

fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// One operation's description and checks.
struct Op<'a> {
    world: &'a World,
    /// The operation's description as far as it is known, for the watchdog.
    current: &'a Mutex<String>,
    seed: u64,
    desc: String,
}

impl Op<'_> {
    /// Makes the description so far visible to the watchdog (before a call that may block).
    fn publish(&self) {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone_from(&self.desc);
    }

    /// Records a syscall's return value (`rc < 0`: failed with errno); flags an errno the
    /// kernel does not define.
    fn result(&mut self, call: &str, rc: i64) -> i64 {
        self.world.stats.syscalls.fetch_add(1, Ordering::Relaxed);
        let e = if rc < 0 { errno() } else { 0 };
        if rc < 0 {
            self.desc.push_str(&format!(" -> {call}: errno {e}"));
            if !(1..=133).contains(&e) {
                self.anomaly(&format!(
                    "{call} failed with errno {e}, not a userspace errno"
                ));
            }
        } else {
            self.desc.push_str(&format!(" -> {call}: {rc}"));
        }
        *self
            .world
            .stats
            .by_errno
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((call.to_string(), e))
            .or_default() += 1;
        rc
    }

    fn anomaly(&mut self, what: &str) {
        let line = format!("seed {:016x}: {what} [{}]", self.seed, self.desc);
        println!("# ANOMALY {line}");
        self.world
            .anomalies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(line);
    }
}

impl World {
    fn slot(&self, i: usize) -> Option<Arc<Slot>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())[i % SLOTS].clone()
    }

    fn put(&self, i: usize, sock: Socket, what: &'static str) {
        let old = self.slots.lock().unwrap_or_else(|e| e.into_inner())[i % SLOTS]
            .replace(Arc::new(Slot { sock, what }));
        drop(old);
    }

    fn take(&self, i: usize) -> Option<Arc<Slot>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())[i % SLOTS].take()
    }

    /// The local address of some socket in the table (a connect/bind target).
    fn some_addr(&self, r: &mut Rng) -> Option<SocketAddr> {
        let start = r.below(SLOTS as u64) as usize;
        (0..SLOTS).find_map(|k| {
            self.slot(start + k)
                .and_then(|s| s.sock.local_addr().ok())
                .filter(|a| a.port() != 0)
        })
    }
}

/// Sets SO_RCVTIMEO and SO_SNDTIMEO on a raw socket.
fn set_timeouts(fd: RawFd, t: Duration) {
    let tv = libc::timeval {
        tv_sec: t.as_secs() as libc::time_t,
        tv_usec: t.subsec_micros() as libc::suseconds_t,
    };
    for opt in [libc::SO_RCVTIMEO, libc::SO_SNDTIMEO] {
        // SAFETY: tv is a valid timeval for the length passed; the kernel only reads it.
        unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                opt,
                (&tv as *const libc::timeval).cast(),
                size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
    }
}

/// A socket address image: usually a real one (loopback, any, a table socket's), sometimes
/// wrong in family, length or content.
fn random_addr(w: &World, r: &mut Rng, v6: bool) -> (Vec<u8>, String) {
    let mut addr = match r.below(10) {
        0..=3 => loopback(v6),
        4 => loopback(!v6),
        5 => {
            let mut a = loopback(v6);
            a.set_ip(if v6 {
                std::net::Ipv6Addr::UNSPECIFIED.into()
            } else {
                std::net::Ipv4Addr::UNSPECIFIED.into()
            });
            a
        }
        _ => w.some_addr(r).unwrap_or_else(|| loopback(v6)),
    };
    if r.chance(15) {
        addr.set_port(r.below(65536) as u16);
    }
    let mut bytes = sockaddr_bytes(&addr);
    let mut desc = addr.to_string();
    match r.below(14) {
        0 => {
            bytes.truncate(r.below(bytes.len() as u64) as usize);
            desc.push_str(&format!(" short({})", bytes.len()));
        }
        1 => {
            bytes[0] = libc::AF_UNSPEC as u8;
            bytes[1] = 0;
            desc = "AF_UNSPEC".to_string();
        }
        2 => {
            bytes = {
                let n = r.pick(&[2, 16, 28, 64, 128]);
                r.bytes(n)
            };
            desc = format!("random({})", bytes.len());
        }
        3 => {
            // v4-mapped v6.
            let p = addr.port();
            let m = SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.to_ipv6_mapped().into(), p);
            bytes = sockaddr_bytes(&m);
            desc = m.to_string();
        }
        4 => {
            bytes.resize(128, 0);
            desc.push_str(" long(128)");
        }
        _ => {}
    }
    (bytes, desc)
}

fn sockaddr_bytes(a: &SocketAddr) -> Vec<u8> {
    match a {
        SocketAddr::V4(a) => {
            let mut b = vec![0u8; 16];
            b[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
            b[2..4].copy_from_slice(&a.port().to_be_bytes());
            b[4..8].copy_from_slice(&a.ip().octets());
            b
        }
        SocketAddr::V6(a) => {
            let mut b = vec![0u8; 28];
            b[..2].copy_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
            b[2..4].copy_from_slice(&a.port().to_be_bytes());
            b[8..24].copy_from_slice(&a.ip().octets());
            b
        }
    }
}

/// Appends one control message (header, data, padding to 8) to `out`; `claimed` replaces the
/// honest cmsg_len when set.
fn push_cmsg(out: &mut Vec<u8>, level: i32, ty: i32, data: &[u8], claimed: Option<usize>) {
    let len = claimed.unwrap_or(16 + data.len());
    out.extend_from_slice(&(len as u64).to_ne_bytes());
    out.extend_from_slice(&level.to_ne_bytes());
    out.extend_from_slice(&ty.to_ne_bytes());
    out.extend_from_slice(data);
    while !out.len().is_multiple_of(8) {
        out.push(0);
    }
}

const STREAM_FLAGS: &[u32] = &[
    MSG_QUIC_STREAM_NEW,
    MSG_QUIC_STREAM_FIN,
    MSG_QUIC_STREAM_UNI,
    MSG_QUIC_STREAM_DONTWAIT,
    MSG_QUIC_STREAM_SNDBLOCK,
    MSG_QUIC_DATAGRAM,
    MSG_QUIC_NOTIFICATION,
];

fn random_stream_flags(r: &mut Rng) -> u32 {
    let mut f = 0;
    for &b in STREAM_FLAGS {
        if r.chance(25) {
            f |= b;
        }
    }
    if r.chance(5) {
        f |= r.next_u64() as u32;
    }
    f
}

fn random_stream_id(r: &mut Rng) -> i64 {
    match r.below(10) {
        0..=3 => -1,
        4..=7 => r.below(16) as i64,
        8 => r.below(1 << 20) as i64,
        _ => r.next_u64() as i64,
    }
}

/// A random control buffer for sendmsg: mostly well-formed QUIC messages, sometimes malformed.
fn random_control(r: &mut Rng, desc: &mut String) -> Vec<u8> {
    let mut out = Vec::new();
    let n = r.pick(&[0, 1, 1, 1, 1, 2, 3]);
    for _ in 0..n {
        match r.below(12) {
            0..=5 => {
                let sid = random_stream_id(r);
                let flags = random_stream_flags(r);
                let mut d = Vec::new();
                d.extend_from_slice(&sid.to_ne_bytes());
                d.extend_from_slice(&flags.to_ne_bytes());
                d.extend_from_slice(&[0; 4]);
                push_cmsg(&mut out, SOL_QUIC, QUIC_STREAM_INFO, &d, None);
                desc.push_str(&format!(" STREAM_INFO(sid {sid}, flags {flags:#x})"));
            }
            6..=7 => {
                let level = r.pick(&[0u8, 1, 2, 3, 4, 5, 255]);
                let len = r.pick(&[1usize, 1, 1, 4, 8]);
                let mut d = vec![0u8; len];
                d[0] = level;
                push_cmsg(&mut out, SOL_QUIC, QUIC_HANDSHAKE_INFO, &d, None);
                desc.push_str(&format!(" HANDSHAKE_INFO(level {level}, len {len})"));
            }
            8 => {
                let ty = r.pick(&[0, 1, 2, 3, -1, 1000]);
                let d = {
                    let n = r.below(33) as usize;
                    r.bytes(n)
                };
                push_cmsg(&mut out, SOL_QUIC, ty, &d, None);
                desc.push_str(&format!(" SOL_QUIC cmsg(type {ty}, {} bytes)", d.len()));
            }
            9 => {
                let level = r.pick(&[libc::SOL_SOCKET, libc::IPPROTO_IP, libc::IPPROTO_IPV6]);
                let ty = r.below(70) as i32;
                let d = {
                    let n = r.pick(&[0usize, 4, 8, 16]);
                    r.bytes(n)
                };
                push_cmsg(&mut out, level, ty, &d, None);
                desc.push_str(&format!(
                    " cmsg(level {level}, type {ty}, {} bytes)",
                    d.len()
                ));
            }
            _ => {
                let claimed = r.pick(&[0usize, 8, 15, 17, 24, 1000, usize::MAX >> 1]);
                let d = r.bytes(16);
                push_cmsg(&mut out, SOL_QUIC, QUIC_STREAM_INFO, &d, Some(claimed));
                desc.push_str(&format!(" bad cmsg_len {claimed}"));
            }
        }
    }
    if !out.is_empty() && r.chance(5) {
        let cut = r.below(out.len() as u64) as usize;
        out.truncate(cut);
        desc.push_str(&format!(" control cut to {cut}"));
    }
    out
}

const SEND_FLAGS: &[i32] = &[
    libc::MSG_DONTWAIT,
    libc::MSG_MORE,
    libc::MSG_EOR,
    libc::MSG_OOB,
    libc::MSG_CONFIRM,
    libc::MSG_ZEROCOPY,
    libc::MSG_FASTOPEN,
    0x10,    // MSG_PROBE
    0x400,   // MSG_QUIC_STREAM_NEW spelt as a msg flag
    0x200,   // MSG_QUIC_STREAM_FIN
    0x800,   // MSG_QUIC_STREAM_UNI
    0x1000,  // MSG_QUIC_DATAGRAM
    0x10000, // MSG_QUIC_STREAM_DONTWAIT
];

const RECV_FLAGS: &[i32] = &[
    libc::MSG_DONTWAIT,
    libc::MSG_PEEK,
    libc::MSG_TRUNC,
    libc::MSG_WAITALL,
    libc::MSG_OOB,
    libc::MSG_ERRQUEUE,
    libc::MSG_CMSG_CLOEXEC,
];

fn random_msg_flags(r: &mut Rng, from: &[i32]) -> i32 {
    let mut f = 0;
    for &b in from {
        if r.chance(15) {
            f |= b;
        }
    }
    // Mostly do not wait: the table's sockets are shared by threads that need to move on.
    if r.chance(70) {
        f |= libc::MSG_DONTWAIT;
    }
    f | libc::MSG_NOSIGNAL
}

/// Scratch memory an operation hands to the kernel.
struct Scratch {
    big: Vec<u8>,
}

fn op_sendmsg(op: &mut Op<'_>, r: &mut Rng, s: &Slot, scratch: &mut Scratch) {
    let mut d = String::new();
    let len = r.pick(&[
        0usize, 1, 10, 100, 1000, 1200, 1500, 4096, 20000, 65536, 300000,
    ]);
    let len = len.min(scratch.big.len());
    r.fill(&mut scratch.big[..len.min(4096)]);
    let niov = r.pick(&[1usize, 1, 1, 2, 3]);
    let mut iov = Vec::new();
    let mut off = 0;
    for k in 0..niov {
        let part = if k + 1 == niov {
            len - off
        } else {
            r.below((len - off) as u64 + 1) as usize
        };
        let base = if r.chance(3) {
            d.push_str(" bad-iov");
            op.world.bad as *mut libc::c_void
        } else {
            // SAFETY: off <= len <= big.len(): a pointer into (or one past) the buffer.
            unsafe { scratch.big.as_mut_ptr().add(off).cast() }
        };
        iov.push(libc::iovec {
            iov_base: base,
            iov_len: part,
        });
        off += part;
    }
    let mut control = random_control(r, &mut d);
    let (mut name, ndesc) = if r.chance(10) {
        let v6 = r.chance(50);
        random_addr(op.world, r, v6)
    } else {
        (Vec::new(), String::new())
    };
    let flags = random_msg_flags(r, SEND_FLAGS);
    op.desc = format!(
        "sendmsg({}, len {len} in {niov} iov,{d}{}{}, flags {flags:#x})",
        s.what,
        if ndesc.is_empty() { "" } else { " to " },
        ndesc
    );
    // SAFETY: msghdr is plain data; all-zero is valid.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.as_mut_ptr();
    msg.msg_iovlen = iov.len();
    if !control.is_empty() {
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = control.len();
    }
    if !name.is_empty() {
        msg.msg_name = name.as_mut_ptr().cast();
        msg.msg_namelen = name.len() as libc::socklen_t;
    }
    op.publish();
    // SAFETY: every pointer in msg is either into buffers alive for the call (read only by
    // sendmsg) or into the PROT_NONE page, which the kernel cannot read and reports as EFAULT.
    let rc = unsafe { libc::sendmsg(s.sock.as_raw_fd(), &msg, flags) };
    let rc = op.result("sendmsg", rc as i64);
    if rc > len as i64 {
        op.anomaly(&format!(
            "sendmsg returned {rc}, more than the {len} bytes given"
        ));
    }
}

fn op_recvmsg(op: &mut Op<'_>, r: &mut Rng, s: &Slot, scratch: &mut Scratch) {
    let len = r.pick(&[0usize, 1, 16, 1000, 1500, 65536, BIG]);
    let len = if len == 0 && AVOID_ZERO_RECV.load(Ordering::Relaxed) {
        1
    } else {
        len
    };
    let bad_iov = r.chance(3);
    let clen = r.pick(&[0usize, 8, 16, 17, 24, 32, 64, 256]);
    let mut control = vec![0u64; clen.div_ceil(8) + 1];
    if r.chance(30) {
        // Prefilled with a stream info, as some callers do to pick the stream to read.
        let sid = random_stream_id(r);
        let mut img = Vec::new();
        let mut d = sid.to_ne_bytes().to_vec();
        d.extend_from_slice(&random_stream_flags(r).to_ne_bytes());
        d.extend_from_slice(&[0; 4]);
        push_cmsg(&mut img, SOL_QUIC, QUIC_STREAM_INFO, &d, None);
        for (k, c) in img.chunks(8).enumerate().take(control.len()) {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            control[k] = u64::from_ne_bytes(w);
        }
    } else if r.chance(30) {
        for w in control.iter_mut() {
            *w = r.next_u64();
        }
    }
    let mut name = [0u8; 128];
    let namelen = r.pick(&[0usize, 8, 16, 28, 128]);
    let flags = random_msg_flags(r, RECV_FLAGS);
    op.desc = format!(
        "recvmsg({}, len {len}{}, control {clen}, name {namelen}, flags {flags:#x})",
        s.what,
        if bad_iov { " bad-iov" } else { "" }
    );
    let mut iov = libc::iovec {
        iov_base: if bad_iov {
            op.world.bad as *mut libc::c_void
        } else {
            scratch.big.as_mut_ptr().cast()
        },
        iov_len: len,
    };
    // SAFETY: msghdr is plain data; all-zero is valid.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if clen > 0 {
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = clen;
    }
    if namelen > 0 {
        msg.msg_name = name.as_mut_ptr().cast();
        msg.msg_namelen = namelen as libc::socklen_t;
    }
    op.publish();
    // SAFETY: the iovec covers len <= BIG bytes of scratch.big (or the PROT_NONE page, which
    // the kernel reports as EFAULT), the control and name buffers are at least as long as
    // their lengths say; all alive and writable for the call.
    let rc = unsafe { libc::recvmsg(s.sock.as_raw_fd(), &mut msg, flags) };
    let rc = op.result("recvmsg", rc as i64);
    if rc >= 0 {
        if rc > len as i64 && flags & libc::MSG_TRUNC == 0 {
            op.anomaly(&format!("recvmsg returned {rc} into a {len}-byte buffer"));
        }
        if msg.msg_controllen > clen {
            op.anomaly(&format!(
                "recvmsg msg_controllen {} > {clen} given",
                msg.msg_controllen
            ));
        }
    }
}

/// SOL_SOCKET option numbers worth trying on a QUIC socket.
const SO_NAMES: &[i32] = &[
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 15, 16, 17, 18, 19, 20, 21, 29, 30, 32, 33, 36, 38, 39,
    40, 42, 43, 46, 47, 49, 50, 60, 61, 66, 67, 69, 72, 73,
];

fn random_option(r: &mut Rng) -> (i32, i32) {
    match r.below(10) {
        0..=6 => (
            SOL_QUIC,
            if r.chance(90) {
                r.below(21) as i32
            } else {
                r.pick(&[-1, 21, 100, i32::MAX, i32::MIN])
            },
        ),
        7..=8 => (libc::SOL_SOCKET, r.pick(SO_NAMES)),
        _ => (
            r.pick(&[libc::IPPROTO_IP, libc::IPPROTO_IPV6, libc::IPPROTO_UDP, 17]),
            r.below(80) as i32,
        ),
    }
}

fn random_optlen(r: &mut Rng) -> usize {
    r.pick(&[
        0, 1, 2, 3, 4, 7, 8, 12, 16, 20, 24, 28, 32, 40, 48, 56, 64, 72, 100, 120, 121, 128, 129,
        256, 512, 513, 1024, 4096, 65536, BIG,
    ])
}

/// Option contents: random, zero, or words of small plausible values.
fn fill_optval(r: &mut Rng, buf: &mut [u8]) -> &'static str {
    match r.below(4) {
        0 => {
            r.fill(buf);
            "random"
        }
        1 => {
            buf.fill(0);
            "zero"
        }
        _ => {
            for w in buf.chunks_mut(4) {
                let v: u32 = r.pick(&[0, 1, 2, 3, 4, 16, 255, 1200, 65535, u32::MAX]);
                let v = v.to_ne_bytes();
                w.copy_from_slice(&v[..w.len()]);
            }
            "small words"
        }
    }
}

fn op_setsockopt(op: &mut Op<'_>, r: &mut Rng, s: &Slot, scratch: &mut Scratch) {
    let (level, name) = random_option(r);
    let mut len = random_optlen(r);
    let kind = fill_optval(r, &mut scratch.big[..len.min(65536)]);
    if level == libc::SOL_SOCKET && matches!(name, 20 | 21 | 66 | 67 | 13) {
        // Timeouts and linger stay short: the shared sockets must not block for long.
        let tv = [0u64, r.below(500_000)];
        for (k, v) in tv.iter().enumerate() {
            if len >= (k + 1) * 8 {
                scratch.big[k * 8..k * 8 + 8].copy_from_slice(&v.to_ne_bytes());
            }
        }
        if name == 13 && len >= 8 {
            scratch.big[4..8].copy_from_slice(&0u32.to_ne_bytes());
        }
    }
    let ptr: *const libc::c_void = match r.below(30) {
        0 => std::ptr::null(),
        1 => op.world.bad as *const libc::c_void,
        _ => scratch.big.as_ptr().cast(),
    };
    if r.chance(2) {
        len = r.pick(&[1 << 28, 0x7fff_ffff, 0xffff_ffff]);
    }
    op.desc = format!(
        "setsockopt({}, level {level}, name {name}, len {len}, {kind}{})",
        s.what,
        if ptr.is_null() {
            ", NULL"
        } else if ptr as usize == op.world.bad {
            ", bad ptr"
        } else {
            ""
        }
    );
    op.publish();
    // SAFETY: the kernel only reads optval; it points at scratch.big (BIG bytes; a longer
    // claimed length makes the kernel read past it into our own mapped memory or fault, which
    // it reports as EFAULT), at the PROT_NONE page, or is null.
    let rc = unsafe {
        libc::setsockopt(
            s.sock.as_raw_fd(),
            level,
            name,
            ptr,
            len as u32 as libc::socklen_t,
        )
    };
    op.result("setsockopt", rc as i64);
    // Whatever the option did, blocking calls must stay short.
    set_timeouts(s.sock.as_raw_fd(), SOCK_TIMEOUT);
}

fn op_getsockopt(op: &mut Op<'_>, r: &mut Rng, s: &Slot, scratch: &mut Scratch) {
    let (level, name) = random_option(r);
    let len = random_optlen(r);
    // getsockopt of some options takes an input (stream id, connection id number...).
    let kind = fill_optval(r, &mut scratch.big[..len.min(65536)]);
    let mode = r.below(40);
    let mut optlen = len as libc::socklen_t;
    if mode == 2 {
        optlen = r.pick(&[u32::MAX, 0x8000_0000]) as libc::socklen_t;
    }
    let ptr: *mut libc::c_void = if mode == 0 {
        op.world.bad as *mut libc::c_void
    } else if mode == 1 {
        std::ptr::null_mut()
    } else {
        scratch.big.as_mut_ptr().cast()
    };
    let lenp: *mut libc::socklen_t = if mode == 3 {
        op.world.bad as *mut libc::socklen_t
    } else {
        &mut optlen
    };
    op.desc = format!(
        "getsockopt({}, level {level}, name {name}, len {optlen}, {kind}, mode {mode})",
        s.what
    );
    let given = optlen;
    op.publish();
    // SAFETY: optval points at scratch.big, BIG bytes, at least every length given except the
    // negative ones (mode 2), which the kernel refuses before writing; or at the PROT_NONE page
    // or null, reported as EFAULT. optlen is a live local or the PROT_NONE page.
    let rc = unsafe { libc::getsockopt(s.sock.as_raw_fd(), level, name, ptr, lenp) };
    let rc = op.result("getsockopt", rc as i64);
    if rc == 0 && mode != 2 && mode != 3 && optlen > given && level == SOL_QUIC {
        op.anomaly(&format!("getsockopt wrote optlen {optlen} > {given} given"));
    }
    // ipv6_getsockopt does not refuse a negative length (as for any IPv6 socket): only
    // kquic's own level must.
    if rc == 0 && mode == 2 && level == SOL_QUIC {
        op.anomaly(&format!("getsockopt accepted optlen {given:#x}"));
    }
}

fn op_bind_or_connect(op: &mut Op<'_>, r: &mut Rng, s: &Slot, connect: bool) {
    let v6 = matches!(s.sock.local_addr(), Ok(SocketAddr::V6(_))) || r.chance(20);
    let (addr, adesc) = random_addr(op.world, r, v6);
    let call = if connect { "connect" } else { "bind" };
    op.desc = format!("{call}({}, {adesc})", s.what);
    op.publish();
    // SAFETY: addr is a live buffer of addr.len() bytes, only read.
    let rc = unsafe {
        let p = if addr.is_empty() {
            std::ptr::null()
        } else {
            addr.as_ptr().cast()
        };
        if connect {
            libc::connect(s.sock.as_raw_fd(), p, addr.len() as libc::socklen_t)
        } else {
            libc::bind(s.sock.as_raw_fd(), p, addr.len() as libc::socklen_t)
        }
    };
    op.result(call, rc as i64);
}

fn op_accept(op: &mut Op<'_>, r: &mut Rng, s: &Slot, dst: usize) {
    let flags = r.pick(&[0, libc::SOCK_NONBLOCK, libc::SOCK_CLOEXEC, 0x4000_0000]);
    let nonblock_listener = r.chance(40);
    let mut name = [0u8; 128];
    let mut namelen = r.pick(&[0u32, 4, 16, 28, 128]) as libc::socklen_t;
    let bad_len = r.chance(3);
    op.desc = format!(
        "accept4({}, namelen {namelen}{}, flags {flags:#x}{})",
        s.what,
        if bad_len { " bad" } else { "" },
        if nonblock_listener {
            ", O_NONBLOCK"
        } else {
            ""
        }
    );
    let fd = s.sock.as_raw_fd();
    if nonblock_listener {
        let _ = s.sock.set_nonblocking(true);
    }
    let lenp: *mut libc::socklen_t = if bad_len {
        op.world.bad as *mut libc::socklen_t
    } else {
        &mut namelen
    };
    op.publish();
    // SAFETY: name is 128 writable bytes, namelen <= 128; lenp is a live local or the PROT_NONE
    // page (EFAULT).
    let rc = unsafe { libc::accept4(fd, name.as_mut_ptr().cast(), lenp, flags) };
    if nonblock_listener {
        let _ = s.sock.set_nonblocking(false);
    }
    let rc = op.result("accept4", rc as i64);
    if rc >= 0 {
        // SAFETY: accept4 returned a new descriptor that nobody else owns.
        let sock = unsafe { Socket::from_raw_fd(rc as RawFd) };
        set_timeouts(sock.as_raw_fd(), SOCK_TIMEOUT);
        op.world.put(dst, sock, "accepted");
    }
}

fn op_socket(op: &mut Op<'_>, r: &mut Rng, dst: usize) {
    let family = r.pick(&[libc::AF_INET, libc::AF_INET6, libc::AF_INET, libc::AF_INET6]);
    let mut ty = r.pick(&[libc::SOCK_STREAM, libc::SOCK_DGRAM, libc::SOCK_STREAM]);
    if r.chance(5) {
        ty = r.pick(&[libc::SOCK_SEQPACKET, libc::SOCK_RAW, libc::SOCK_RDM, 11]);
    }
    if r.chance(20) {
        ty |= libc::SOCK_NONBLOCK;
    }
    op.desc = format!("socket({family}, {ty:#x}, IPPROTO_QUIC)");
    op.publish();
    // SAFETY: plain system call with integer arguments.
    let rc = unsafe { libc::socket(family, ty | libc::SOCK_CLOEXEC, IPPROTO_QUIC) };
    let rc = op.result("socket", rc as i64);
    if rc >= 0 {
        // SAFETY: socket() returned a new descriptor that nobody else owns.
        let sock = unsafe { Socket::from_raw_fd(rc as RawFd) };
        set_timeouts(sock.as_raw_fd(), SOCK_TIMEOUT);
        if r.chance(60) {
            let _ = sock.set_alpn(kquic_fuzz::ALPN);
        }
        op.world.put(dst, sock, "socket");
    }
}

fn op_poll(op: &mut Op<'_>, r: &mut Rng) {
    let n = 1 + r.below(4) as usize;
    let mut held = Vec::new();
    let mut fds = Vec::new();
    for _ in 0..n {
        if let Some(s) = op.world.slot(r.below(SLOTS as u64) as usize) {
            let mut ev = 0i16;
            for b in [
                libc::POLLIN,
                libc::POLLOUT,
                libc::POLLPRI,
                libc::POLLRDHUP,
                libc::POLLRDNORM,
                libc::POLLWRNORM,
                libc::POLLRDBAND,
                libc::POLLWRBAND,
            ] {
                if r.chance(40) {
                    ev |= b;
                }
            }
            fds.push(libc::pollfd {
                fd: s.sock.as_raw_fd(),
                events: ev,
                revents: 0,
            });
            held.push(s);
        }
    }
    let timeout = r.pick(&[0, 0, 1, 10, 100]);
    op.desc = format!("poll({} fds, timeout {timeout})", fds.len());
    op.publish();
    // SAFETY: fds is a live array of fds.len() pollfd structures.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
    op.result("poll", rc as i64);
}

fn op_epoll(op: &mut Op<'_>, r: &mut Rng) {
    op.publish();
    // SAFETY: plain system call.
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if ep < 0 {
        op.desc = "epoll_create1".to_string();
        op.result("epoll_create1", ep as i64);
        return;
    }
    let mut held = Vec::new();
    let n = 1 + r.below(4);
    let mut added = 0;
    for _ in 0..n {
        if let Some(s) = op.world.slot(r.below(SLOTS as u64) as usize) {
            let mut ev = 0u32;
            for b in [
                libc::EPOLLIN,
                libc::EPOLLOUT,
                libc::EPOLLPRI,
                libc::EPOLLRDHUP,
                libc::EPOLLET,
                libc::EPOLLONESHOT,
                libc::EPOLLEXCLUSIVE,
            ] {
                if r.chance(30) {
                    ev |= b as u32;
                }
            }
            let mut e = libc::epoll_event {
                events: ev,
                u64: added,
            };
            op.publish();
            // SAFETY: e is a live epoll_event; ep and the socket are open descriptors.
            let rc =
                unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, s.sock.as_raw_fd(), &mut e) };
            op.result("epoll_ctl", rc as i64);
            added += 1;
            held.push(s);
        }
    }
    let timeout = r.pick(&[0, 1, 10, 100]);
    let mut out = [libc::epoll_event { events: 0, u64: 0 }; 8];
    op.desc = format!("epoll({added} sockets, timeout {timeout})");
    op.publish();
    // SAFETY: out has room for the 8 events passed as maxevents.
    let rc = unsafe { libc::epoll_wait(ep, out.as_mut_ptr(), 8, timeout) };
    op.result("epoll_wait", rc as i64);
    if r.chance(50) {
        // Close a table socket while it is registered (the epoll instance outlives it).
        if let Some(s) = held.pop() {
            drop(s);
        }
    }
    // SAFETY: ep is our own epoll descriptor, closed once.
    unsafe { libc::close(ep) };
}

fn op_ioctl(op: &mut Op<'_>, r: &mut Rng, s: &Slot) {
    let req = r.pick(&[
        libc::FIONREAD,
        libc::TIOCOUTQ,
        libc::FIONBIO,
        0x8905, // SIOCATMARK
        0x8906, // SIOCGSTAMP_OLD
        0x8907, // SIOCGSTAMPNS_OLD
        libc::FIOASYNC,
    ]);
    let mut arg = [0u64; 4];
    op.desc = format!("ioctl({}, {req:#x})", s.what);
    op.publish();
    // SAFETY: every request above reads or writes at most 16 bytes at arg, 32 live bytes.
    let rc = unsafe { libc::ioctl(s.sock.as_raw_fd(), req, arg.as_mut_ptr()) };
    op.result("ioctl", rc as i64);
    if req == libc::FIONBIO {
        // Back to blocking (with timeouts) whatever the argument said.
        let _ = s.sock.set_nonblocking(false);
    }
}

fn op_pair(op: &mut Op<'_>, r: &mut Rng) {
    let v6 = r.chance(50);
    let ty = if r.chance(75) {
        SockType::Stream
    } else {
        SockType::Dgram
    };
    op.desc = format!("pair(v6 {v6}, {ty:?})");
    op.world.stats.syscalls.fetch_add(10, Ordering::Relaxed);
    op.publish();
    match connected_pair(&op.world.tls, v6, ty, Duration::from_secs(5)) {
        Ok(p) => {
            op.world.stats.pairs.fetch_add(1, Ordering::Relaxed);
            for s in [&p.listener, &p.client, &p.server] {
                set_timeouts(s.as_raw_fd(), SOCK_TIMEOUT);
            }
            let base = r.below(SLOTS as u64) as usize;
            op.world.put(base, p.client, "client");
            op.world
                .put(base + 1 + r.below(3) as usize, p.server, "server");
            if r.chance(50) {
                op.world.put(base + 5, p.listener, "listener");
            }
            op.desc.push_str(" -> ok");
        }
        Err(e) => {
            op.world.stats.pair_failures.fetch_add(1, Ordering::Relaxed);
            op.desc.push_str(&format!(" -> {e}"));
        }
    }
}

/// Runs the operation named by `seed`; returns its description (and results).
fn run_op(world: &World, seed: u64, scratch: &mut Scratch, current: &Mutex<String>) -> String {
    let mut r = Rng::new(seed);
    let mut op = Op {
        world,
        current,
        seed,
        desc: String::new(),
    };
    let slot_i = r.below(SLOTS as u64) as usize;
    let kind = r.below(1000);
    world.stats.ops.fetch_add(1, Ordering::Relaxed);
    if kind < 8 {
        op_pair(&mut op, &mut r);
        return op.desc;
    }
    if kind < 60 {
        op_socket(&mut op, &mut r, slot_i);
        return op.desc;
    }
    if kind < 100 {
        op_poll(&mut op, &mut r);
        return op.desc;
    }
    if kind < 120 {
        op_epoll(&mut op, &mut r);
        return op.desc;
    }
    let Some(s) = world.slot(slot_i) else {
        op_socket(&mut op, &mut r, slot_i);
        return op.desc;
    };
    match kind {
        120..=189 => op_bind_or_connect(&mut op, &mut r, &s, false),
        190..=259 => op_bind_or_connect(&mut op, &mut r, &s, true),
        260..=299 => {
            let backlog = r.pick(&[-1, 0, 1, 2, 8, 128, i32::MAX]);
            op.desc = format!("listen({}, {backlog})", s.what);
            op.publish();
            // SAFETY: plain system call on an open descriptor.
            let rc = unsafe { libc::listen(s.sock.as_raw_fd(), backlog) };
            op.result("listen", rc as i64);
        }
        300..=359 => {
            let dst = slot_i + 1 + r.below(4) as usize;
            op_accept(&mut op, &mut r, &s, dst)
        }
        360..=529 => op_sendmsg(&mut op, &mut r, &s, scratch),
        530..=669 => op_recvmsg(&mut op, &mut r, &s, scratch),
        670..=799 => op_setsockopt(&mut op, &mut r, &s, scratch),
        800..=909 => op_getsockopt(&mut op, &mut r, &s, scratch),
        910..=939 => {
            let how = r.pick(&[libc::SHUT_RD, libc::SHUT_WR, libc::SHUT_RDWR, 3, -1]);
            op.desc = format!("shutdown({}, {how})", s.what);
            op.publish();
            // SAFETY: plain system call on an open descriptor.
            let rc = unsafe { libc::shutdown(s.sock.as_raw_fd(), how) };
            op.result("shutdown", rc as i64);
        }
        940..=969 => {
            op.desc = format!("close({})", s.what);
            op.publish();
            drop(s);
            // The descriptor closes when the last thread using it lets go.
            drop(world.take(slot_i));
            op.result("close", 0);
        }
        970..=984 => op_ioctl(&mut op, &mut r, &s),
        _ => {
            let peer = r.chance(50);
            op.desc = format!("get{}name({})", if peer { "peer" } else { "sock" }, s.what);
            let mut ss = [0u8; 128];
            let mut len = r.pick(&[0u32, 2, 16, 28, 128]) as libc::socklen_t;
            op.publish();
            // SAFETY: ss is 128 writable bytes and len <= 128.
            let rc = unsafe {
                if peer {
                    libc::getpeername(s.sock.as_raw_fd(), ss.as_mut_ptr().cast(), &mut len)
                } else {
                    libc::getsockname(s.sock.as_raw_fd(), ss.as_mut_ptr().cast(), &mut len)
                }
            };
            op.result(if peer { "getpeername" } else { "getsockname" }, rc as i64);
        }
    }
    op.desc
}

struct Args {
    seconds: u64,
    seed: u64,
    threads: usize,
    log_dir: Option<String>,
    replay: Vec<String>,
    case: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        seconds: 60,
        seed: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
        threads: 4,
        log_dir: None,
        replay: Vec::new(),
        case: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().ok_or(format!("{k} needs a value"));
        match k.as_str() {
            "--seconds" => a.seconds = v()?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--seed" => a.seed = parse_seed(&v()?)?,
            "--threads" => a.threads = v()?.parse().map_err(|e| format!("--threads: {e}"))?,
            "--log-dir" => a.log_dir = Some(v()?),
            "--replay" => a.replay.push(v()?),
            "--case" => a.case = Some(v()?),
            "--avoid-zero-recv" => AVOID_ZERO_RECV.store(true, Ordering::Relaxed),
            "-h" | "--help" => {
                println!("usage: quic_sockfuzz [--seconds N] [--seed S] [--threads T] [--log-dir DIR] [--replay FILE]... [--avoid-zero-recv]");
                std::process::exit(0);
            }
            _ => return Err(format!("unknown argument {k}")),
        }
    }
    Ok(a)
}

fn parse_seed(s: &str) -> Result<u64, String> {
    let r = match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    };
    r.map_err(|e| format!("seed {s:?}: {e}"))
}

/// The operation seeds of a recorded sequence: lines `t<N> <16 hex digits> [description]`;
/// `#` starts a comment.
fn read_sequence(path: &str) -> Result<Vec<u64>, String> {
    let f = File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let mut seeds = Vec::new();
    for line in BufReader::new(f).lines() {
        let line = line.map_err(|e| format!("{path}: {e}"))?;
        if let Some(s) = parse_sequence_line(&line) {
            seeds.push(s);
        }
    }
    Ok(seeds)
}

fn parse_sequence_line(line: &str) -> Option<u64> {
    let line = line.trim();
    if line.starts_with('#') {
        return None;
    }
    let mut w = line.split_whitespace();
    let t = w.next()?;
    if !t.starts_with('t') {
        return None;
    }
    u64::from_str_radix(w.next()?, 16).ok()
}

/// The seed of thread `t` of a run seeded `seed`.
fn thread_seed(seed: u64, t: usize) -> u64 {
    Rng::new(seed ^ (t as u64).wrapping_mul(0xd6e8_feb8_6659_fd93)).next_u64()
}

/// The minimal form of corpus/recvmsg-zero-len-spins.txt: on a handshaken connection with
/// stream data queued, `recvmsg` with a zero-length buffer and MSG_DONTWAIT must return.
fn case_zero_recv(tls: &Arc<Tls>) -> bool {
    let p = match connected_pair(tls, false, SockType::Stream, Duration::from_secs(5)) {
        Ok(p) => p,
        Err(e) => {
            println!("not ok 1 zero-recv # no connection: {e}");
            return false;
        }
    };
    if let Err(e) = p.server.send(&[7u8; 100], 1, MSG_QUIC_STREAM_NEW) {
        println!("not ok 1 zero-recv # server send: {e}");
        return false;
    }
    thread::sleep(Duration::from_millis(500));
    let fd = p.client.as_raw_fd();
    let h = thread::spawn(move || {
        let mut byte = 0u8;
        let mut iov = libc::iovec {
            iov_base: (&mut byte as *mut u8).cast(),
            iov_len: 0,
        };
        // SAFETY: msghdr is plain data; all-zero is valid.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        // SAFETY: msg points at one zero-length iovec over a live byte; fd stays open while
        // the pair (kept by the caller until this thread is joined or the process exits) lives.
        let rc = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_DONTWAIT) };
        (rc, errno())
    });
    let start = Instant::now();
    while !h.is_finished() && start.elapsed() < Duration::from_secs(10) {
        thread::sleep(Duration::from_millis(50));
    }
    if !h.is_finished() {
        println!(
            "not ok 1 zero-recv # recvmsg(client, 0-byte buffer, MSG_DONTWAIT) with 100 stream bytes queued has not returned after 10 s"
        );
        dump_task_stacks();
        return false;
    }
    let (rc, e) = h.join().unwrap_or((-2, 0));
    println!("ok 1 zero-recv # recvmsg returned {rc} (errno {e})");
    drop(p);
    true
}

/// Prints the kernel stack of every thread of this process that is inside the kernel
/// (`/proc/self/task/*/stack`; root only).
fn dump_task_stacks() {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return;
    };
    for e in dir.flatten() {
        let path = e.path();
        let stack = std::fs::read_to_string(path.join("stack")).unwrap_or_default();
        let wchan = std::fs::read_to_string(path.join("wchan")).unwrap_or_default();
        if stack.lines().count() > 2 {
            println!(
                "#   task {} (wchan {wchan}):",
                e.file_name().to_string_lossy()
            );
            for l in stack.lines() {
                println!("#     {l}");
            }
        }
    }
}

fn bad_page() -> usize {
    // SAFETY: an anonymous PROT_NONE mapping of one page; nothing else refers to it and it is
    // never unmapped, so that pointers into it stay unreadable.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert!(p != libc::MAP_FAILED, "mmap PROT_NONE failed");
    p as usize
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("quic_sockfuzz: {e}");
            std::process::exit(2);
        }
    };
    // SAFETY: ignoring SIGPIPE, so that writes on closed connections return EPIPE.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    let tls = match tls_configs(0) {
        Ok(t) => Arc::new(t),
        Err(e) => {
            eprintln!("quic_sockfuzz: {e}");
            std::process::exit(2);
        }
    };
    if let Some(c) = &args.case {
        let ok = match c.as_str() {
            "zero-recv" => case_zero_recv(&tls),
            _ => {
                eprintln!("quic_sockfuzz: unknown case {c} (zero-recv)");
                std::process::exit(2);
            }
        };
        let _ = io::stdout().flush();
        std::process::exit(i32::from(!ok));
    }
    let world = Arc::new(World {
        slots: Mutex::new((0..SLOTS).map(|_| None).collect()),
        tls,
        bad: bad_page(),
        stop: AtomicBool::new(false),
        stats: Stats::default(),
        anomalies: Mutex::new(Vec::new()),
    });
    let start = Instant::now();
    let mut sequences: Vec<(usize, Vec<u64>)> = Vec::new();
    if args.replay.is_empty() {
        println!(
            "# quic_sockfuzz: seed {:#018x}, {} threads, {} s (replay with --seed {:#x})",
            args.seed, args.threads, args.seconds, args.seed
        );
    } else {
        for (k, p) in args.replay.iter().enumerate() {
            match read_sequence(p) {
                Ok(s) => {
                    println!("# replaying {p}: {} operations on one thread", s.len());
                    sequences.push((k, s));
                }
                Err(e) => {
                    eprintln!("quic_sockfuzz: {e}");
                    std::process::exit(2);
                }
            }
        }
    }
    let nthreads = if args.replay.is_empty() {
        args.threads.max(1)
    } else {
        1
    };
    let progress: Vec<Arc<Progress>> = (0..nthreads)
        .map(|_| {
            Arc::new(Progress {
                since_ms: AtomicU64::new(0),
                seed: AtomicU64::new(0),
                current: Mutex::new(String::new()),
                history: Mutex::new(Vec::new()),
            })
        })
        .collect();
    let mut handles = Vec::new();
    for (t, prog) in progress.iter().enumerate() {
        let world = world.clone();
        let file = args.log_dir.as_ref().and_then(|d| {
            let path = format!("{d}/sockfuzz-t{t}.log");
            File::create(&path)
                .map_err(|e| eprintln!("quic_sockfuzz: {path}: {e}"))
                .ok()
        });
        let mut log = OpLog {
            tid: t,
            file,
            progress: prog.clone(),
        };
        let replay: Option<Vec<u64>> = if sequences.is_empty() {
            None
        } else {
            Some(
                sequences
                    .iter()
                    .flat_map(|(_, s)| s.iter().copied())
                    .collect(),
            )
        };
        let seed = args.seed;
        handles.push(thread::spawn(move || {
            let mut scratch = Scratch {
                big: vec![0u8; BIG],
            };
            let mut rng = Rng::new(thread_seed(seed, t));
            let mut k = 0usize;
            loop {
                if world.stop.load(Ordering::Relaxed) {
                    break;
                }
                let op_seed = match &replay {
                    Some(list) => match list.get(k) {
                        Some(&s) => s,
                        None => break,
                    },
                    None => rng.next_u64(),
                };
                k += 1;
                log.start(op_seed, start);
                let desc = run_op(&world, op_seed, &mut scratch, &log.progress.current);
                log.finish(op_seed, &desc);
            }
        }));
    }
    // Watchdog and clock.
    let deadline = start + Duration::from_secs(args.seconds);
    let mut reported = vec![false; nthreads];
    let mut last_report = Instant::now();
    loop {
        thread::sleep(Duration::from_millis(200));
        let done = handles.iter().all(|h| h.is_finished());
        if done {
            break;
        }
        if Instant::now() >= deadline && !world.stop.swap(true, Ordering::Relaxed) {
            println!("# time is up, stopping the threads");
        }
        let now_ms = start.elapsed().as_millis() as u64;
        for (t, p) in progress.iter().enumerate() {
            let since = p.since_ms.load(Ordering::Relaxed);
            if since != 0 && now_ms.saturating_sub(since) > HANG.as_millis() as u64 {
                if !reported[t] {
                    reported[t] = true;
                    let seed = p.seed.load(Ordering::Relaxed);
                    let line = format!(
                        "HANG thread {t}: operation {seed:016x} running for {} s",
                        (now_ms - since) / 1000
                    );
                    println!("# ANOMALY {line}");
                    println!(
                        "#   running: {}",
                        p.current.lock().unwrap_or_else(|e| e.into_inner())
                    );
                    dump_task_stacks();
                    for h in p.history.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                        println!("#   before: {h}");
                    }
                    world
                        .anomalies
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(line);
                }
            } else {
                reported[t] = false;
            }
        }
        if last_report.elapsed() > Duration::from_secs(30) {
            last_report = Instant::now();
            println!(
                "# {} s: {} operations, {} syscalls, {} pairs",
                start.elapsed().as_secs(),
                world.stats.ops.load(Ordering::Relaxed),
                world.stats.syscalls.load(Ordering::Relaxed),
                world.stats.pairs.load(Ordering::Relaxed)
            );
        }
        if Instant::now() > deadline + HANG * 3 {
            println!(
                "# ANOMALY threads still running {} s after the end",
                (HANG * 3).as_secs()
            );
            world
                .anomalies
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push("threads did not stop".to_string());
            break;
        }
    }
    // Close everything: the module must be unloadable afterwards.
    for s in world
        .slots
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter_mut()
    {
        *s = None;
    }
    let st = &world.stats;
    println!(
        "# done in {:.1} s: {} operations, {} syscalls, {} connections made ({} failed)",
        start.elapsed().as_secs_f64(),
        st.ops.load(Ordering::Relaxed),
        st.syscalls.load(Ordering::Relaxed),
        st.pairs.load(Ordering::Relaxed),
        st.pair_failures.load(Ordering::Relaxed)
    );
    let by = st.by_errno.lock().unwrap_or_else(|e| e.into_inner());
    let mut line = String::new();
    let mut last_call = String::new();
    for ((call, e), n) in by.iter() {
        if *call != last_call {
            if !line.is_empty() {
                println!("# {line}");
            }
            line = format!("{call}:");
            last_call = call.clone();
        }
        if *e == 0 {
            line.push_str(&format!(" ok {n}"));
        } else {
            line.push_str(&format!(" e{e} {n}"));
        }
    }
    if !line.is_empty() {
        println!("# {line}");
    }
    let anomalies = world.anomalies.lock().unwrap_or_else(|e| e.into_inner());
    println!("# anomalies: {}", anomalies.len());
    let _ = io::stdout().flush();
    let code = i32::from(!anomalies.is_empty());
    // Threads stuck in the kernel would keep a plain return from ending the process.
    std::process::exit(code);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_lines() {
        assert_eq!(
            parse_sequence_line("t3 00000000000000ff sendmsg(...) -> sendmsg: 5"),
            Some(255)
        );
        assert_eq!(
            parse_sequence_line("t0 deadbeefdeadbeef"),
            Some(0xdead_beef_dead_beef)
        );
        assert_eq!(parse_sequence_line("# t0 00000000000000ff"), None);
        assert_eq!(parse_sequence_line(""), None);
        assert_eq!(parse_sequence_line("x 12"), None);
    }

    #[test]
    fn thread_seeds_differ_and_repeat() {
        assert_eq!(thread_seed(1, 0), thread_seed(1, 0));
        assert_ne!(thread_seed(1, 0), thread_seed(1, 1));
        assert_ne!(thread_seed(1, 0), thread_seed(2, 0));
        assert_eq!(parse_seed("0x10"), Ok(16));
        assert_eq!(parse_seed("10"), Ok(10));
        assert!(parse_seed("zz").is_err());
    }

    #[test]
    fn control_messages_are_aligned_and_well_formed() {
        let mut out = Vec::new();
        push_cmsg(&mut out, SOL_QUIC, QUIC_HANDSHAKE_INFO, &[2], None);
        assert_eq!(out.len(), 24);
        assert_eq!(u64::from_ne_bytes(out[..8].try_into().unwrap()), 17);
        assert_eq!(i32::from_ne_bytes(out[8..12].try_into().unwrap()), SOL_QUIC);
        assert_eq!(out[16], 2);
        for seed in 0..200 {
            let mut d = String::new();
            let c = random_control(&mut Rng::new(seed), &mut d);
            assert!(c.len().is_multiple_of(8) || d.contains("cut"), "{d}");
        }
    }

    #[test]
    fn sockaddr_images() {
        let a: SocketAddr = "127.0.0.1:4433".parse().unwrap();
        let b = sockaddr_bytes(&a);
        assert_eq!(b.len(), 16);
        assert_eq!(&b[2..4], &4433u16.to_be_bytes());
        assert_eq!(&b[4..8], &[127, 0, 0, 1]);
        let a6: SocketAddr = "[::1]:443".parse().unwrap();
        let b6 = sockaddr_bytes(&a6);
        assert_eq!(b6.len(), 28);
        assert_eq!(b6[23], 1);
    }
}
