//! The harness of the socket option and datagram tests (`options.rs`, `datagrams.rs`): a
//! connected, handshaken pair driven from one thread, each end with an inbox that sorts what
//! `recvmsg` returns (stream data, notifications, datagrams), and the record of the module's
//! known deviations from the spec.
//!
//! Every assertion about the module's behaviour has an id. An assertion that fails and whose id
//! is in [`KNOWN_GAPS`] is a known gap: it is noted, the test goes on, and the test is reported
//! as `ok N name # SKIP kmod: <what is wrong>` (with `KQUIC_STRICT=1`: `not ok`). Any other
//! failing assertion fails the test. `/root/notes/issue9-option-gaps.md` explains each gap.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Debug;

use super::*;
use quic_uapi::{AbiStruct, MSG_QUIC_DATAGRAM, QUIC_SOCKOPT_EVENT};

/// Assertions that fail on the current module because it does not do what the spec or the
/// ABI says (ids are `option.what`; `libquic.` ids are the userspace library's).
pub(crate) const KNOWN_GAPS: &[&str] = &[
    // CONFIG
    "config.bbr",
    // ALPN
    "alpn.listener_routing",
    "alpn.listener_mismatch",
];

static GAPS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The gaps the last test met (and forgets them).
pub(crate) fn take_gaps() -> Vec<String> {
    GAPS.lock()
        .map(|mut g| std::mem::take(&mut *g))
        .unwrap_or_default()
}

/// `KQUIC_STRICT=1`: known gaps fail their tests instead of skipping them.
pub(crate) fn strict() -> bool {
    std::env::var("KQUIC_STRICT").is_ok_and(|v| v == "1")
}

/// `KQUIC_DISCOVER=1`: every failing assertion is treated as a known gap, so that a test runs
/// to its end and lists all of them.
pub(crate) fn discover() -> bool {
    std::env::var("KQUIC_DISCOVER").is_ok_and(|v| v == "1")
}

/// One assertion `id` about the module: `Ok(true)` if it holds, `Ok(false)` if it does not and is
/// a known gap (recorded), `Err` (fail the test) otherwise.
pub(crate) fn check(id: &str, ok: bool, detail: impl FnOnce() -> String) -> Result<bool, String> {
    let listed = KNOWN_GAPS.contains(&id);
    if ok {
        if listed {
            note!("{id}: listed in KNOWN_GAPS but holds now");
        }
        return Ok(true);
    }
    let who = if id.starts_with("libquic.") {
        "libquic"
    } else {
        "kmod"
    };
    let mut msg = format!("{who}: {id}: {}", detail());
    if !listed {
        if !discover() {
            return Err(msg);
        }
        msg.push_str(" [not in KNOWN_GAPS]");
    }
    note!("gap: {msg}");
    if let Ok(mut g) = GAPS.lock() {
        g.push(msg);
    }
    Ok(false)
}

fn errnos(want: &[i32]) -> String {
    want.iter()
        .map(|&e| errno_name(e))
        .collect::<Vec<_>>()
        .join(" or ")
}

/// `r` must have failed with one of `want`.
pub(crate) fn check_errno<T: Debug>(
    id: &str,
    r: io::Result<T>,
    want: &[i32],
    what: &str,
) -> Result<bool, String> {
    let ok = r
        .as_ref()
        .err()
        .and_then(io::Error::raw_os_error)
        .is_some_and(|e| want.contains(&e));
    check(id, ok, || {
        format!("{what}: expected {}, got {}", errnos(want), describe(&r))
    })
}

/// `r` must have succeeded; its value if it did.
pub(crate) fn check_ok<T: Debug>(
    id: &str,
    r: io::Result<T>,
    what: &str,
) -> Result<Option<T>, String> {
    match r {
        Ok(v) => {
            check(id, true, String::new)?;
            Ok(Some(v))
        }
        Err(e) => {
            let got = describe::<()>(&Err(e));
            check(id, false, || format!("{what}: expected success, got {got}"))?;
            Ok(None)
        }
    }
}

/// `got` must equal `want`.
pub(crate) fn check_eq<T: PartialEq + Debug>(
    id: &str,
    got: T,
    want: T,
    what: &str,
) -> Result<bool, String> {
    let ok = got == want;
    check(id, ok, || format!("{what}: expected {want:?}, got {got:?}"))
}

// ------------------------------------------------------------------------------------------------
// Raw option access
// ------------------------------------------------------------------------------------------------

/// setsockopt(SOL_QUIC, `name`) with `val`.
pub(crate) fn setopt(s: &Socket, name: i32, val: &[u8]) -> io::Result<()> {
    s.setsockopt_raw(SOL_QUIC, name, val)
}

/// getsockopt(SOL_QUIC, `name`) with `input` in a buffer of `optlen` bytes; the bytes the
/// kernel reported.
pub(crate) fn getopt(s: &Socket, name: i32, input: &[u8], optlen: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; optlen];
    let k = input.len().min(optlen);
    buf[..k].copy_from_slice(&input[..k]);
    let n = s.getsockopt_raw(SOL_QUIC, name, &mut buf)?;
    buf.truncate(n.min(optlen));
    Ok(buf)
}

/// getsockopt of an ABI structure (`input` is what the buffer holds on the way in); fails with
/// EPROTO if the kernel reported another length.
pub(crate) fn get_struct<T: AbiStruct>(s: &Socket, name: i32, input: &T) -> io::Result<T> {
    let mut image = vec![0u8; T::SIZE];
    input.write_prefix(&mut image);
    let b = getopt(s, name, &image, T::SIZE)?;
    if b.len() != T::SIZE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} bytes back, the structure has {}", b.len(), T::SIZE),
        ));
    }
    Ok(T::from_bytes_prefix(&b))
}

/// The image of an ABI structure.
pub(crate) fn image<T: AbiStruct>(v: &T) -> Vec<u8> {
    let mut b = vec![0u8; T::SIZE];
    v.write_prefix(&mut b);
    b
}

/// QUIC_SOCKOPT_EVENT get: whether event `ty` is on.
pub(crate) fn event_on(s: &Socket, ty: u8) -> io::Result<u8> {
    let b = getopt(s, QUIC_SOCKOPT_EVENT, &[ty, 0xee], 2)?;
    Ok(b.get(1).copied().unwrap_or(0xff))
}

/// QUIC_SOCKOPT_EVENT set.
pub(crate) fn events(s: &Socket, types: &[u8], on: bool) -> TResult {
    for &ty in types {
        setopt(s, QUIC_SOCKOPT_EVENT, &[ty, u8::from(on)])
            .ctx(&format!("setsockopt(QUIC_SOCKOPT_EVENT {ty} {on})"))?;
    }
    Ok(())
}

/// A `struct sockaddr_in` / `sockaddr_in6` image.
pub(crate) fn sockaddr(a: &SocketAddr) -> Vec<u8> {
    match a {
        SocketAddr::V4(v4) => {
            let mut b = vec![0u8; 16];
            b[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
            b[2..4].copy_from_slice(&v4.port().to_be_bytes());
            b[4..8].copy_from_slice(&v4.ip().octets());
            b
        }
        SocketAddr::V6(v6) => {
            let mut b = vec![0u8; 28];
            b[..2].copy_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
            b[2..4].copy_from_slice(&v6.port().to_be_bytes());
            b[8..24].copy_from_slice(&v6.ip().octets());
            b
        }
    }
}

/// A counter of /proc/net/quic/snmp.
pub(crate) fn counter(name: &str) -> Result<u64, String> {
    Ok(snmp()?.get(name).copied().unwrap_or(0))
}

// ------------------------------------------------------------------------------------------------
// One end of a connection
// ------------------------------------------------------------------------------------------------

/// A stream's bytes so far and whether its FIN was read.
#[derive(Default, Debug)]
pub(crate) struct StreamIn {
    pub(crate) data: Vec<u8>,
    pub(crate) fin: bool,
}

/// A socket and what was read from it, sorted.
pub(crate) struct End {
    pub(crate) sock: Socket,
    pub(crate) streams: BTreeMap<i64, StreamIn>,
    pub(crate) events: VecDeque<(u8, Vec<u8>)>,
    /// Datagrams with the `msg_flags` of their read.
    pub(crate) dgrams: VecDeque<(Vec<u8>, u32)>,
    /// How reading ended: the errno, or 0 for end of file.
    pub(crate) closed: Option<i32>,
}

impl End {
    pub(crate) fn new(sock: Socket) -> Self {
        Self {
            sock,
            streams: BTreeMap::new(),
            events: VecDeque::new(),
            dgrams: VecDeque::new(),
            closed: None,
        }
    }

    /// One recvmsg without waiting; true if it read something. Errors (the connection ended)
    /// are kept in `closed` and returned.
    pub(crate) fn poll_once(&mut self) -> Result<bool, String> {
        if let Some(e) = self.closed {
            return Err(format!("connection ended ({})", closed_name(e)));
        }
        let mut buf = vec![0u8; 1 << 16];
        match self.sock.recv_with_flags(&mut buf, libc::MSG_DONTWAIT) {
            Ok(r) => {
                if r.msg_flags & MSG_QUIC_NOTIFICATION != 0 {
                    let ty = buf.first().copied().unwrap_or(0);
                    self.events
                        .push_back((ty, buf[1.min(r.len)..r.len].to_vec()));
                } else if r.msg_flags & MSG_QUIC_DATAGRAM != 0 {
                    self.dgrams.push_back((buf[..r.len].to_vec(), r.msg_flags));
                } else if r.len == 0 && !r.fin() {
                    self.closed = Some(0);
                    return Err("connection ended (end of file)".into());
                } else {
                    let s = self.streams.entry(r.stream_id).or_default();
                    s.data.extend_from_slice(&buf[..r.len]);
                    s.fin |= r.fin();
                }
                Ok(true)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(false)
            }
            Err(e) => {
                let n = e.raw_os_error().unwrap_or(-1);
                self.closed = Some(n);
                Err(format!("recvmsg: {}", describe::<()>(&Err(e))))
            }
        }
    }

    /// Reads until `done` holds (true) or `limit` passed (false).
    pub(crate) fn until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&mut Self) -> bool,
    ) -> Result<bool, String> {
        let end = Instant::now() + limit;
        loop {
            if done(self) {
                return Ok(true);
            }
            if Instant::now() >= end {
                return Ok(false);
            }
            if !self.poll_once()? {
                thread::sleep(Duration::from_millis(2));
            }
        }
    }

    /// Reads for `limit` (or until the connection ends) and keeps everything.
    pub(crate) fn drain(&mut self, limit: Duration) {
        let _ = self.until(limit, |_| false);
    }

    /// The first notification (oldest first, also one read earlier) that `want` accepts,
    /// waiting at most `limit`; it is taken out of the inbox.
    pub(crate) fn event(
        &mut self,
        limit: Duration,
        mut want: impl FnMut(u8, &[u8]) -> bool,
    ) -> Result<Option<(u8, Vec<u8>)>, String> {
        let mut found = None;
        let r = self.until(limit, |e| {
            if let Some(i) = e.events.iter().position(|(t, p)| want(*t, p)) {
                found = e.events.remove(i);
                return true;
            }
            false
        });
        match (found, r) {
            (Some(ev), _) => Ok(Some(ev)),
            (None, Ok(_)) => Ok(None),
            (None, Err(e)) => Err(e),
        }
    }

    /// Stream `sid` up to its FIN (taken out of the inbox).
    pub(crate) fn stream_fin(&mut self, sid: i64, limit: Duration) -> Result<Vec<u8>, String> {
        let done = self.until(limit, |e| e.streams.get(&sid).is_some_and(|s| s.fin))?;
        ensure!(
            done,
            "stream {sid} not finished in {limit:?} (have {:?})",
            self.streams.get(&sid).map(|s| s.data.len())
        );
        Ok(self.streams.remove(&sid).unwrap_or_default().data)
    }

    /// Waits until stream `sid` has at least `n` bytes (kept in the inbox).
    pub(crate) fn stream_bytes(&mut self, sid: i64, n: usize, limit: Duration) -> TResult {
        let done = self.until(limit, |e| {
            e.streams.get(&sid).is_some_and(|s| s.data.len() >= n)
        })?;
        ensure!(done, "stream {sid}: {n} bytes not there in {limit:?}");
        Ok(())
    }

    /// The next datagram, waiting at most `limit`.
    pub(crate) fn dgram(&mut self, limit: Duration) -> Result<Option<(Vec<u8>, u32)>, String> {
        self.until(limit, |e| !e.dgrams.is_empty())?;
        Ok(self.dgrams.pop_front())
    }
}

fn closed_name(e: i32) -> String {
    if e == 0 {
        "end of file".into()
    } else {
        errno_name(e)
    }
}

/// A `QUIC_EVENT_STREAM_UPDATE` payload.
pub(crate) fn stream_update(p: &[u8]) -> quic_uapi::quic_stream_update {
    quic_uapi::quic_stream_update::from_bytes_prefix(p)
}

// ------------------------------------------------------------------------------------------------
// A connected pair
// ------------------------------------------------------------------------------------------------

type Hook<'a> = Box<dyn FnOnce(&Socket) -> TResult + 'a>;
type SendHook = Box<dyn FnOnce(&Socket) -> TResult + Send + 'static>;

/// What to do to the sockets of a pair on the way up.
#[derive(Default)]
pub(crate) struct Setup<'a> {
    listener: Option<Hook<'a>>,
    accepted: Option<SendHook>,
    client: Option<Hook<'a>>,
    connected: Option<Hook<'a>>,
}

impl<'a> Setup<'a> {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// On the listening socket, before bind() and listen().
    pub(crate) fn listener(mut self, f: impl FnOnce(&Socket) -> TResult + 'a) -> Self {
        self.listener = Some(Box::new(f));
        self
    }

    /// On the accepted socket, before its handshake (in the server thread).
    pub(crate) fn accepted(mut self, f: impl FnOnce(&Socket) -> TResult + Send + 'static) -> Self {
        self.accepted = Some(Box::new(f));
        self
    }

    /// On the client socket, before connect().
    pub(crate) fn client(mut self, f: impl FnOnce(&Socket) -> TResult + 'a) -> Self {
        self.client = Some(Box::new(f));
        self
    }

    /// On the client socket after connect(), before the handshake.
    pub(crate) fn connected(mut self, f: impl FnOnce(&Socket) -> TResult + 'a) -> Self {
        self.connected = Some(Box::new(f));
        self
    }
}

/// Both ends of a live connection over 127.0.0.1, handshake complete.
pub(crate) struct Live {
    pub(crate) c: End,
    pub(crate) s: End,
}

/// A listening socket on 127.0.0.1 with `hook` run before bind() and listen().
pub(crate) fn listener_with(hook: Option<Hook<'_>>) -> Result<(Socket, SocketAddr), String> {
    let a = loopback(false);
    let l = new_socket(&a)?;
    if let Some(h) = hook {
        h(&l).map_err(|e| format!("listener setup: {e}"))?;
    }
    l.bind(&a).ctx("bind")?;
    l.listen(16).ctx("listen")?;
    let addr = l.local_addr().ctx("getsockname(listener)")?;
    Ok((l, addr))
}

/// Accepts one connection on `l` and runs the server handshake on it, in a thread.
pub(crate) fn accept_one(
    l: Socket,
    tls: &Arc<Tls>,
    hook: Option<SendHook>,
) -> thread::JoinHandle<Result<Socket, String>> {
    let stls = tls.clone();
    thread::spawn(move || {
        let (a, _) = l.accept().ctx("accept")?;
        drop(l);
        a.set_read_timeout(Some(TIMEOUT)).ctx("SO_RCVTIMEO")?;
        a.set_write_timeout(Some(TIMEOUT)).ctx("SO_SNDTIMEO")?;
        if let Some(h) = hook {
            h(&a).map_err(|e| format!("accepted socket setup: {e}"))?;
        }
        server_handshake(&a, &stls.server).ctx("server handshake")?;
        Ok(a)
    })
}

/// A client of `addr`, handshaken, with the hooks run on the way.
pub(crate) fn client_of(
    tls: &Arc<Tls>,
    addr: &SocketAddr,
    before: Option<Hook<'_>>,
    after_connect: Option<Hook<'_>>,
) -> Result<Socket, String> {
    let c = new_socket(addr)?;
    if let Some(h) = before {
        h(&c).map_err(|e| format!("client setup: {e}"))?;
    }
    c.connect(addr).ctx("connect")?;
    if let Some(h) = after_connect {
        h(&c).map_err(|e| format!("connected client setup: {e}"))?;
    }
    client_handshake(&c, &tls.client, None).ctx("client handshake")?;
    Ok(c)
}

/// A live pair set up as `setup` says.
pub(crate) fn live(tls: &Arc<Tls>, setup: Setup<'_>) -> Result<Live, String> {
    let Setup {
        listener,
        accepted,
        client,
        connected,
    } = setup;
    let (l, addr) = listener_with(listener)?;
    let h = accept_one(l, tls, accepted);
    let cr = client_of(tls, &addr, client, connected);
    let sr = h.join().unwrap_or_else(|p| Err(panic_message(p)));
    match (cr, sr) {
        (Ok(c), Ok(s)) => Ok(Live {
            c: End::new(c),
            s: End::new(s),
        }),
        (Err(c), Ok(_)) => Err(format!("client: {c}")),
        (Ok(_), Err(s)) => Err(format!("server: {s}")),
        (Err(c), Err(s)) => Err(format!("client: {c}; server: {s}")),
    }
}

impl Live {
    /// The client sends `msg` on a new stream with FIN, the server echoes it back with FIN.
    /// Returns the stream id.
    pub(crate) fn echo(&mut self, msg: &[u8]) -> Result<i64, String> {
        let n = self
            .c
            .sock
            .send(msg, -1, MSG_QUIC_STREAM_NEW | MSG_QUIC_STREAM_FIN)
            .ctx("client sendmsg(-1, NEW|FIN)")?;
        ensure!(n == msg.len(), "sendmsg took {n} of {}", msg.len());
        let mut sid = None;
        let done = self.s.until(TIMEOUT, |e| {
            sid = e
                .streams
                .iter()
                .find(|(_, s)| s.fin && s.data == msg)
                .map(|(id, _)| *id);
            sid.is_some()
        })?;
        let Some(sid) = sid.filter(|_| done) else {
            return Err(format!(
                "server: {} bytes on a new stream not received",
                msg.len()
            ));
        };
        self.s.streams.remove(&sid);
        self.s
            .sock
            .send(msg, sid, MSG_QUIC_STREAM_FIN)
            .ctx("server echo")?;
        let back = self.c.stream_fin(sid, TIMEOUT)?;
        ensure!(back == msg, "echo on stream {sid} differs");
        Ok(sid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockaddr_images() {
        let v4 = sockaddr(&"127.0.0.2:4433".parse().unwrap());
        assert_eq!(v4.len(), 16);
        assert_eq!(&v4[2..8], &[0x11, 0x51, 127, 0, 0, 2]);
        let v6 = sockaddr(&"[::1]:4433".parse().unwrap());
        assert_eq!(v6.len(), 28);
        assert_eq!(v6[23], 1);
    }

    #[test]
    fn known_gaps_are_unique_and_named() {
        for (i, g) in KNOWN_GAPS.iter().enumerate() {
            assert!(g.contains('.'), "{g}");
            assert!(!KNOWN_GAPS[..i].contains(g), "{g} listed twice");
        }
    }
}
