//! [`Socket`]: an owned `IPPROTO_QUIC` socket and its system calls.

use std::io;
use std::mem::{size_of, MaybeUninit};
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use quic_uapi::{
    quic_config, quic_connection_close, quic_transport_param, AbiStruct, IPPROTO_QUIC,
    MSG_QUIC_NOTIFICATION, QUIC_ALPN_MAX_LEN, QUIC_CRYPTO_APP, QUIC_EVENT_NEW_SESSION_TICKET,
    QUIC_SOCKOPT_ALPN, QUIC_SOCKOPT_CONFIG, QUIC_SOCKOPT_CONNECTION_CLOSE,
    QUIC_SOCKOPT_CRYPTO_SECRET, QUIC_SOCKOPT_EVENT, QUIC_SOCKOPT_TRANSPORT_PARAM,
    QUIC_SOCKOPT_TRANSPORT_PARAM_EXT, QUIC_TRANSPORT_PARAM_EXT_MAX_LEN, SOL_QUIC,
};

use super::cmsg::{self, CmsgBuf};
use crate::tls::{Level, Secret, TlsSession};

/// Address family of a QUIC socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// `AF_INET`.
    V4,
    /// `AF_INET6`.
    V6,
}

impl Family {
    /// The family of an address.
    pub fn of(addr: &SocketAddr) -> Self {
        match addr {
            SocketAddr::V4(_) => Self::V4,
            SocketAddr::V6(_) => Self::V6,
        }
    }

    fn raw(self) -> libc::c_int {
        match self {
            Self::V4 => libc::AF_INET,
            Self::V6 => libc::AF_INET6,
        }
    }
}

/// Socket type: both carry the same QUIC; `SOCK_STREAM` is the usual choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SockType {
    /// `SOCK_STREAM`.
    Stream,
    /// `SOCK_DGRAM`.
    Dgram,
}

impl SockType {
    fn raw(self) -> libc::c_int {
        match self {
            Self::Stream => libc::SOCK_STREAM,
            Self::Dgram => libc::SOCK_DGRAM,
        }
    }
}

/// What one `recvmsg` returned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Recv {
    /// Bytes written to the buffer.
    pub len: usize,
    /// Stream of the data (`QUIC_STREAM_INFO`), -1 if the kernel sent no stream information.
    pub stream_id: i64,
    /// `stream_flags` of `QUIC_STREAM_INFO` (`MSG_QUIC_STREAM_FIN` at the stream's end).
    pub stream_flags: u32,
    /// `msg_flags` of the `recvmsg` (`MSG_EOR`, `MSG_CTRUNC`, ...).
    pub msg_flags: u32,
    /// `QUIC_HANDSHAKE_INFO`: the data is handshake (CRYPTO) bytes of this crypto level.
    pub handshake_level: Option<u8>,
}

impl Recv {
    /// The read reached the end of its stream (`MSG_QUIC_STREAM_FIN` in `stream_flags`).
    pub fn fin(&self) -> bool {
        self.stream_flags & quic_uapi::MSG_QUIC_STREAM_FIN != 0
    }

    /// `MSG_EOR` is set in `msg_flags`.
    pub fn eor(&self) -> bool {
        self.msg_flags & libc::MSG_EOR as u32 != 0
    }
}

/// An owned `IPPROTO_QUIC` socket (closed on drop).
///
/// After [`client_handshake`](super::client_handshake) or
/// [`server_handshake`](super::server_handshake) the socket keeps the connection's TLS session,
/// so that [`Socket::recv`] can hand post-handshake messages (NewSessionTicket) to it instead of
/// to the caller.
pub struct Socket {
    fd: OwnedFd,
    tls: Mutex<Option<TlsSession>>,
    /// This library turned the NEW_SESSION_TICKET event on (the application had not), so the
    /// events are its own: fed to TLS, never returned.
    ticket_events: AtomicBool,
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("fd", &self.fd.as_raw_fd())
            .finish_non_exhaustive()
    }
}

/// `-1` → the last OS error, else the value.
fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn cvt_size(r: libc::ssize_t) -> io::Result<usize> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

/// A socket address as the kernel takes it.
pub(crate) fn to_raw_addr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data; all-zero is a valid (AF_UNSPEC) value.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and as aligned as sockaddr_in.
            unsafe { std::ptr::write((&mut ss as *mut libc::sockaddr_storage).cast(), sin) };
            size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo().to_be(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than and as aligned as sockaddr_in6.
            unsafe { std::ptr::write((&mut ss as *mut libc::sockaddr_storage).cast(), sin6) };
            size_of::<libc::sockaddr_in6>()
        }
    };
    (ss, len as libc::socklen_t)
}

/// The address the kernel wrote into `ss` (`len` bytes of it).
pub(crate) fn from_raw_addr(
    ss: &libc::sockaddr_storage,
    len: libc::socklen_t,
) -> io::Result<SocketAddr> {
    let len = len as usize;
    match libc::c_int::from(ss.ss_family) {
        libc::AF_INET if len >= size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says the storage holds a sockaddr_in, which it is large and
            // aligned enough for.
            let sin: libc::sockaddr_in =
                unsafe { std::ptr::read((ss as *const libc::sockaddr_storage).cast()) };
            Ok(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes()),
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 if len >= size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6: libc::sockaddr_in6 =
                unsafe { std::ptr::read((ss as *const libc::sockaddr_storage).cast()) };
            Ok(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                u16::from_be(sin6.sin6_port),
                u32::from_be(sin6.sin6_flowinfo),
                sin6.sin6_scope_id,
            )))
        }
        f => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unexpected socket address (family {f}, {len} bytes)"),
        )),
    }
}

fn empty_storage() -> libc::sockaddr_storage {
    // SAFETY: sockaddr_storage is plain data; all-zero is a valid value.
    unsafe { std::mem::zeroed() }
}

impl Socket {
    /// `socket(family, type, IPPROTO_QUIC)`, close-on-exec.
    pub fn new(family: Family, ty: SockType) -> io::Result<Self> {
        // SAFETY: plain system call with integer arguments.
        let fd = cvt(unsafe {
            libc::socket(family.raw(), ty.raw() | libc::SOCK_CLOEXEC, IPPROTO_QUIC)
        })?;
        // SAFETY: fd was just returned by socket() and is owned by nobody else.
        Ok(unsafe { Self::from_raw_fd(fd) })
    }

    /// A socket of `addr`'s family.
    pub fn for_addr(addr: &SocketAddr, ty: SockType) -> io::Result<Self> {
        Self::new(Family::of(addr), ty)
    }

    /// `bind(2)`.
    pub fn bind(&self, addr: &SocketAddr) -> io::Result<()> {
        let (ss, len) = to_raw_addr(addr);
        // SAFETY: ss is a valid socket address of len bytes.
        cvt(unsafe {
            libc::bind(
                self.as_raw_fd(),
                (&ss as *const libc::sockaddr_storage).cast(),
                len,
            )
        })
        .map(drop)
    }

    /// `connect(2)`. On a QUIC socket this returns at once; the handshake
    /// ([`client_handshake`](super::client_handshake)) brings the connection up.
    pub fn connect(&self, addr: &SocketAddr) -> io::Result<()> {
        let (ss, len) = to_raw_addr(addr);
        // SAFETY: ss is a valid socket address of len bytes.
        cvt(unsafe {
            libc::connect(
                self.as_raw_fd(),
                (&ss as *const libc::sockaddr_storage).cast(),
                len,
            )
        })
        .map(drop)
    }

    /// `listen(2)`.
    pub fn listen(&self, backlog: i32) -> io::Result<()> {
        // SAFETY: plain system call with integer arguments.
        cvt(unsafe { libc::listen(self.as_raw_fd(), backlog) }).map(drop)
    }

    /// `accept4(2)` (close-on-exec): a socket holding the client's first flight, not yet
    /// handshaken ([`server_handshake`](super::server_handshake)), and the client's address.
    pub fn accept(&self) -> io::Result<(Socket, SocketAddr)> {
        let mut ss = empty_storage();
        let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        // SAFETY: ss and len are valid for writes of the storage's size.
        let fd = cvt(unsafe {
            libc::accept4(
                self.as_raw_fd(),
                (&mut ss as *mut libc::sockaddr_storage).cast(),
                &mut len,
                libc::SOCK_CLOEXEC,
            )
        })?;
        // SAFETY: fd was just returned by accept4() and is owned by nobody else.
        let sock = unsafe { Self::from_raw_fd(fd) };
        let addr = from_raw_addr(&ss, len).or_else(|_| sock.peer_addr())?;
        Ok((sock, addr))
    }

    /// The bound address (`getsockname(2)`).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        let mut ss = empty_storage();
        let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        // SAFETY: ss and len are valid for writes of the storage's size.
        cvt(unsafe {
            libc::getsockname(
                self.as_raw_fd(),
                (&mut ss as *mut libc::sockaddr_storage).cast(),
                &mut len,
            )
        })?;
        from_raw_addr(&ss, len)
    }

    /// The peer's address (`getpeername(2)`).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        let mut ss = empty_storage();
        let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        // SAFETY: ss and len are valid for writes of the storage's size.
        cvt(unsafe {
            libc::getpeername(
                self.as_raw_fd(),
                (&mut ss as *mut libc::sockaddr_storage).cast(),
                &mut len,
            )
        })?;
        from_raw_addr(&ss, len)
    }

    /// `shutdown(2)`.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        let how = match how {
            Shutdown::Read => libc::SHUT_RD,
            Shutdown::Write => libc::SHUT_WR,
            Shutdown::Both => libc::SHUT_RDWR,
        };
        // SAFETY: plain system call with integer arguments.
        cvt(unsafe { libc::shutdown(self.as_raw_fd(), how) }).map(drop)
    }

    /// Sets or clears `O_NONBLOCK`.
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        let fd = self.as_raw_fd();
        // SAFETY: F_GETFL takes no argument.
        let fl = cvt(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
        let new = if on {
            fl | libc::O_NONBLOCK
        } else {
            fl & !libc::O_NONBLOCK
        };
        if new != fl {
            // SAFETY: F_SETFL takes an int.
            cvt(unsafe { libc::fcntl(fd, libc::F_SETFL, new) })?;
        }
        Ok(())
    }

    /// Whether `O_NONBLOCK` is set.
    pub fn is_nonblocking(&self) -> io::Result<bool> {
        // SAFETY: F_GETFL takes no argument.
        let fl = cvt(unsafe { libc::fcntl(self.as_raw_fd(), libc::F_GETFL) })?;
        Ok(fl & libc::O_NONBLOCK != 0)
    }

    /// `setsockopt(2)` with raw bytes.
    pub fn setsockopt_raw(&self, level: i32, name: i32, val: &[u8]) -> io::Result<()> {
        // SAFETY: val is readable for val.len() bytes.
        cvt(unsafe {
            libc::setsockopt(
                self.as_raw_fd(),
                level,
                name,
                val.as_ptr().cast(),
                val.len() as libc::socklen_t,
            )
        })
        .map(drop)
    }

    /// `getsockopt(2)` into `buf` (which also carries input, for options that read it);
    /// returns the length the kernel reported.
    pub fn getsockopt_raw(&self, level: i32, name: i32, buf: &mut [u8]) -> io::Result<usize> {
        let mut len = buf.len() as libc::socklen_t;
        // SAFETY: buf is writable for len bytes; len is a valid socklen_t.
        cvt(unsafe {
            libc::getsockopt(
                self.as_raw_fd(),
                level,
                name,
                buf.as_mut_ptr().cast(),
                &mut len,
            )
        })?;
        Ok(len as usize)
    }

    /// Sets a `SOL_QUIC` option from raw bytes.
    pub fn set_quic_opt_bytes(&self, name: i32, val: &[u8]) -> io::Result<()> {
        self.setsockopt_raw(SOL_QUIC, name, val)
    }

    /// Reads a `SOL_QUIC` option of at most `max` bytes.
    pub fn quic_opt_bytes(&self, name: i32, max: usize) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; max];
        let n = self.getsockopt_raw(SOL_QUIC, name, &mut buf)?;
        buf.truncate(n.min(max));
        Ok(buf)
    }

    /// Sets a `SOL_QUIC` option taking an ABI structure.
    pub fn set_quic_opt<T: AbiStruct>(&self, name: i32, val: &T) -> io::Result<()> {
        let mut buf = vec![0u8; T::SIZE];
        val.write_prefix(&mut buf);
        self.setsockopt_raw(SOL_QUIC, name, &buf)
    }

    /// Reads a `SOL_QUIC` option returning an ABI structure. `input` is what the buffer holds
    /// on the way in (e.g. [`quic_transport_param`] with `remote` set).
    pub fn quic_opt<T: AbiStruct>(&self, name: i32, input: &T) -> io::Result<T> {
        let mut buf = vec![0u8; T::SIZE];
        input.write_prefix(&mut buf);
        let n = self.getsockopt_raw(SOL_QUIC, name, &mut buf)?;
        Ok(T::from_bytes_prefix(&buf[..n.min(T::SIZE)]))
    }

    /// `QUIC_SOCKOPT_ALPN`: a comma separated list (a listener's is inherited by the sockets it
    /// accepts).
    pub fn set_alpn(&self, alpns: &str) -> io::Result<()> {
        self.set_quic_opt_bytes(QUIC_SOCKOPT_ALPN, alpns.as_bytes())
    }

    /// `QUIC_SOCKOPT_ALPN` as the kernel has it (after a handshake: the negotiated one).
    pub fn alpn(&self) -> io::Result<String> {
        let mut b = self.quic_opt_bytes(QUIC_SOCKOPT_ALPN, QUIC_ALPN_MAX_LEN + 1)?;
        if let Some(nul) = b.iter().position(|&c| c == 0) {
            b.truncate(nul);
        }
        String::from_utf8(b).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// `QUIC_SOCKOPT_TRANSPORT_PARAM`: the local parameters, or the peer's with `remote`.
    pub fn transport_param(&self, remote: bool) -> io::Result<quic_transport_param> {
        let input = quic_transport_param {
            remote: u8::from(remote),
            ..quic_transport_param::ZERO
        };
        self.quic_opt(QUIC_SOCKOPT_TRANSPORT_PARAM, &input)
    }

    /// Sets `QUIC_SOCKOPT_TRANSPORT_PARAM`.
    pub fn set_transport_param(&self, p: &quic_transport_param) -> io::Result<()> {
        self.set_quic_opt(QUIC_SOCKOPT_TRANSPORT_PARAM, p)
    }

    /// `QUIC_SOCKOPT_CONFIG`.
    pub fn config(&self) -> io::Result<quic_config> {
        self.quic_opt(QUIC_SOCKOPT_CONFIG, &quic_config::ZERO)
    }

    /// Sets `QUIC_SOCKOPT_CONFIG`.
    pub fn set_config(&self, c: &quic_config) -> io::Result<()> {
        self.set_quic_opt(QUIC_SOCKOPT_CONFIG, c)
    }

    /// `QUIC_SOCKOPT_TRANSPORT_PARAM_EXT` (get): our encoded transport parameters extension.
    pub fn local_transport_params_ext(&self) -> io::Result<Vec<u8>> {
        self.quic_opt_bytes(
            QUIC_SOCKOPT_TRANSPORT_PARAM_EXT,
            QUIC_TRANSPORT_PARAM_EXT_MAX_LEN,
        )
    }

    /// `QUIC_SOCKOPT_TRANSPORT_PARAM_EXT` (set): the peer's extension bytes.
    pub fn set_peer_transport_params_ext(&self, ext: &[u8]) -> io::Result<()> {
        self.set_quic_opt_bytes(QUIC_SOCKOPT_TRANSPORT_PARAM_EXT, ext)
    }

    /// `QUIC_SOCKOPT_CRYPTO_SECRET`: installs a traffic secret.
    pub fn set_crypto_secret(&self, s: &Secret) -> io::Result<()> {
        let mut b = s.to_crypto_secret();
        let r = self.set_quic_opt_bytes(QUIC_SOCKOPT_CRYPTO_SECRET, &b);
        b.fill(0);
        r
    }

    /// `QUIC_SOCKOPT_CONNECTION_CLOSE` (set): close with `errcode` and a reason phrase.
    pub fn close_connection(&self, errcode: u32, phrase: &str) -> io::Result<()> {
        let mut c = quic_connection_close {
            errcode,
            ..quic_connection_close::ZERO
        };
        c.set_phrase(phrase.as_bytes());
        self.set_quic_opt(QUIC_SOCKOPT_CONNECTION_CLOSE, &c)
    }

    fn timeval_opt(&self, name: i32, t: Option<Duration>) -> io::Result<()> {
        let t = t.unwrap_or(Duration::ZERO);
        let mut tv = libc::timeval {
            tv_sec: t.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
            tv_usec: t.subsec_micros() as libc::suseconds_t,
        };
        if tv.tv_sec == 0 && tv.tv_usec == 0 && !t.is_zero() {
            tv.tv_usec = 1;
        }
        // SAFETY: tv is a valid timeval, passed with its size.
        cvt(unsafe {
            libc::setsockopt(
                self.as_raw_fd(),
                libc::SOL_SOCKET,
                name,
                (&tv as *const libc::timeval).cast(),
                size_of::<libc::timeval>() as libc::socklen_t,
            )
        })
        .map(drop)
    }

    /// `SO_RCVTIMEO` (`None`: wait forever). It also bounds the handshake.
    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        self.timeval_opt(libc::SO_RCVTIMEO, t)
    }

    /// `SO_SNDTIMEO` (`None`: wait forever).
    pub fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        self.timeval_opt(libc::SO_SNDTIMEO, t)
    }

    /// Pending socket error (`SO_ERROR`), cleared by reading it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        let mut b = [0u8; size_of::<libc::c_int>()];
        self.getsockopt_raw(libc::SOL_SOCKET, libc::SO_ERROR, &mut b)?;
        let e = libc::c_int::from_ne_bytes(b);
        Ok((e != 0).then(|| io::Error::from_raw_os_error(e)))
    }

    /// `sendmsg(2)` of `data` with one control message already encoded in `control`.
    fn sendmsg_control(
        &self,
        data: &[u8],
        control: &mut CmsgBuf,
        clen: usize,
        flags: i32,
    ) -> io::Result<usize> {
        let mut iov = libc::iovec {
            iov_base: data.as_ptr() as *mut libc::c_void,
            iov_len: data.len(),
        };
        // SAFETY: msghdr is plain data; all-zero (null name and pointers) is valid.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        if clen > 0 {
            msg.msg_control = control.bytes.as_mut_ptr().cast();
            msg.msg_controllen = clen as _;
        }
        // SAFETY: msg points at one iovec over data (only read by sendmsg) and at clen bytes of
        // an aligned control buffer; all outlive the call.
        cvt_size(unsafe { libc::sendmsg(self.as_raw_fd(), &msg, flags | libc::MSG_NOSIGNAL) })
    }

    /// Sends `data` on stream `stream_id` (`-1`: the next stream, bidirectional unless
    /// `MSG_QUIC_STREAM_UNI`) with a `QUIC_STREAM_INFO` message carrying `flags`
    /// (`MSG_QUIC_STREAM_NEW`, `_FIN`, `_UNI`, `_DONTWAIT`, ...). `libc::MSG_DONTWAIT` in
    /// `flags` is taken out and passed to `sendmsg` instead (do not wait for flow control).
    /// Returns the bytes queued: a blocking send waits until all fit or `SO_SNDTIMEO` ends.
    pub fn send(&self, data: &[u8], stream_id: i64, flags: u32) -> io::Result<usize> {
        let dontwait = libc::MSG_DONTWAIT as u32;
        let mut control = CmsgBuf::default();
        let clen = cmsg::encode_stream_info(&mut control.bytes, stream_id, flags & !dontwait)
            .expect("control buffer fits a stream info");
        self.sendmsg_control(data, &mut control, clen, (flags & dontwait) as i32)
    }

    /// Sends `data` as one datagram (RFC 9221): `MSG_QUIC_DATAGRAM` on a message without
    /// stream information. `flags` are further `sendmsg` flags (`libc::MSG_DONTWAIT`).
    pub fn send_datagram(&self, data: &[u8], flags: i32) -> io::Result<usize> {
        let mut control = CmsgBuf::default();
        let flags = flags | quic_uapi::MSG_QUIC_DATAGRAM as i32;
        self.sendmsg_control(data, &mut control, 0, flags)
    }

    /// Sends handshake (CRYPTO) bytes at `level` (`QUIC_HANDSHAKE_INFO`).
    pub fn send_handshake(&self, level: Level, data: &[u8]) -> io::Result<usize> {
        let mut control = CmsgBuf::default();
        let clen = cmsg::encode_handshake_info(&mut control.bytes, level.as_u8())
            .expect("control buffer fits a handshake info");
        self.sendmsg_control(data, &mut control, clen, 0)
    }

    /// `send(2)` without ancillary data: the most recently opened stream.
    pub fn write(&self, data: &[u8]) -> io::Result<usize> {
        // SAFETY: data is readable for its length.
        cvt_size(unsafe {
            libc::send(
                self.as_raw_fd(),
                data.as_ptr().cast(),
                data.len(),
                libc::MSG_NOSIGNAL,
            )
        })
    }

    /// `recv(2)` without a control buffer (no stream information; handshake messages are never
    /// delivered to such a read).
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: buf is writable for its length.
        cvt_size(unsafe { libc::recv(self.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) })
    }

    /// One `recvmsg(2)` with a control buffer, returning whatever the kernel gives: stream data
    /// or handshake bytes (`handshake_level` set). `flags` are `recvmsg` flags
    /// (`libc::MSG_DONTWAIT`, `MSG_PEEK`, ...).
    pub fn recv_raw(&self, buf: &mut [u8], flags: i32) -> io::Result<Recv> {
        let mut control = CmsgBuf::default();
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: msghdr is plain data; all-zero is valid.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.bytes.as_mut_ptr().cast();
        msg.msg_controllen = control.bytes.len() as _;
        // SAFETY: msg points at one iovec over buf and at the aligned control buffer, both
        // writable for their lengths and alive during the call.
        let len = cvt_size(unsafe { libc::recvmsg(self.as_raw_fd(), &mut msg, flags) })?;
        let clen = (msg.msg_controllen as usize).min(control.bytes.len());
        let q = cmsg::decode(&control.bytes[..clen]);
        Ok(Recv {
            len: len.min(buf.len()),
            stream_id: q.stream.map_or(-1, |s| s.stream_id),
            stream_flags: q.stream.map_or(0, |s| s.stream_flags),
            msg_flags: msg.msg_flags as u32,
            handshake_level: q.handshake_level,
        })
    }

    /// Receives stream data (`recvmsg` with flags 0): one stream's bytes per call, with its
    /// stream id and flags. Handshake messages that arrive after the handshake (a server's
    /// NewSessionTicket) are passed to the connection's TLS session, never returned.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Recv> {
        self.recv_with_flags(buf, 0)
    }

    /// [`Socket::recv`] with `recvmsg` flags (`libc::MSG_DONTWAIT`, ...).
    pub fn recv_with_flags(&self, buf: &mut [u8], flags: i32) -> io::Result<Recv> {
        loop {
            let r = self.recv_raw(buf, flags)?;
            if let Some(level) = r.handshake_level {
                self.post_handshake(level, &buf[..r.len])?;
                continue;
            }
            // The kernel keeps a client's NewSessionTickets out of the CRYPTO stream and
            // reports each as an event: TLS takes it (for resumption).
            let whole = MSG_QUIC_NOTIFICATION | libc::MSG_EOR as u32;
            if r.msg_flags & whole == whole
                && r.len > 1
                && buf[0] == QUIC_EVENT_NEW_SESSION_TICKET
                && flags & libc::MSG_PEEK == 0
            {
                self.post_handshake(QUIC_CRYPTO_APP, &buf[1..r.len])?;
                if self.ticket_events.load(Ordering::Relaxed) {
                    continue;
                }
            }
            return Ok(r);
        }
    }

    /// Client, before its handshake, when every read goes through [`Socket::recv`] (the Rust
    /// API; not the C API, whose `quic_recvmsg` is a plain `recvmsg`): has the kernel report
    /// the server's NewSessionTickets as events (turned on here unless the application already
    /// did), which `recv` hands to TLS.
    pub(crate) fn want_ticket_events(&self) -> io::Result<()> {
        let mut ev = [QUIC_EVENT_NEW_SESSION_TICKET, 0];
        self.getsockopt_raw(SOL_QUIC, QUIC_SOCKOPT_EVENT, &mut ev)?;
        if ev[1] == 0 {
            self.setsockopt_raw(
                SOL_QUIC,
                QUIC_SOCKOPT_EVENT,
                &[QUIC_EVENT_NEW_SESSION_TICKET, 1],
            )?;
            self.ticket_events.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Handles handshake bytes received after the handshake.
    fn post_handshake(&self, level: u8, data: &[u8]) -> io::Result<()> {
        let mut guard = self.tls();
        let Some(tls) = guard.as_mut() else {
            // No session here (the handshake ran elsewhere): nothing can use them.
            return Ok(());
        };
        let level = Level::from_u8(level).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("handshake bytes at unknown level {level}"),
            )
        })?;
        tls.feed(level, data)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        // TLS 1.3 sends nothing back to a NewSessionTicket; anything else goes out at its level.
        while let Some((l, out)) = tls.poll_output() {
            self.send_all_handshake(l, &out)?;
        }
        while tls.poll_secret().is_some() {}
        Ok(())
    }

    /// Sends all of a handshake chunk.
    pub(crate) fn send_all_handshake(&self, level: Level, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            match self.send_handshake(level, data) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => data = &data[n.min(data.len())..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    pub(crate) fn tls(&self) -> MutexGuard<'_, Option<TlsSession>> {
        self.tls.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The connection's TLS session (kept after a handshake run by this library), for
    /// inspection: peer certificates, tickets received, keying material export.
    pub fn with_tls<R>(&self, f: impl FnOnce(Option<&TlsSession>) -> R) -> R {
        f(self.tls().as_ref())
    }

    /// Reads the `SO_RCVTIMEO` in effect.
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        let mut tv = MaybeUninit::<libc::timeval>::zeroed();
        let mut len = size_of::<libc::timeval>() as libc::socklen_t;
        // SAFETY: tv is writable for len bytes.
        cvt(unsafe {
            libc::getsockopt(
                self.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                tv.as_mut_ptr().cast(),
                &mut len,
            )
        })?;
        // SAFETY: zero-initialised, and the kernel wrote at most a full timeval.
        let tv = unsafe { tv.assume_init() };
        let d = Duration::new(tv.tv_sec.max(0) as u64, tv.tv_usec.max(0) as u32 * 1000);
        Ok((!d.is_zero()).then_some(d))
    }
}

impl AsRawFd for Socket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for Socket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl FromRawFd for Socket {
    /// # Safety
    ///
    /// `fd` must be an open `IPPROTO_QUIC` socket that the caller owns and gives up.
    unsafe fn from_raw_fd(fd: RawFd) -> Self {
        Self {
            // SAFETY: the caller hands over ownership of an open fd.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            tls: Mutex::new(None),
            ticket_events: AtomicBool::new(false),
        }
    }
}

impl IntoRawFd for Socket {
    fn into_raw_fd(self) -> RawFd {
        self.fd.into_raw_fd()
    }
}

impl From<OwnedFd> for Socket {
    fn from(fd: OwnedFd) -> Self {
        Self {
            fd,
            tls: Mutex::new(None),
            ticket_events: AtomicBool::new(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_addresses_round_trip() {
        for a in [
            "127.0.0.1:4433",
            "0.0.0.0:0",
            "[::1]:443",
            "[fe80::1%3]:65535",
            "[2001:db8::7]:1",
        ] {
            let a: SocketAddr = a.parse().unwrap();
            let (ss, len) = to_raw_addr(&a);
            assert_eq!(from_raw_addr(&ss, len).unwrap(), a);
        }
        let (ss, len) = to_raw_addr(&"10.1.2.3:258".parse().unwrap());
        assert_eq!(len as usize, size_of::<libc::sockaddr_in>());
        // SAFETY: to_raw_addr stored a sockaddr_in.
        let sin: libc::sockaddr_in =
            unsafe { std::ptr::read((&ss as *const libc::sockaddr_storage).cast()) };
        assert_eq!(sin.sin_port, 258u16.to_be());
        assert_eq!(sin.sin_addr.s_addr.to_ne_bytes(), [10, 1, 2, 3]);
        assert!(from_raw_addr(&empty_storage(), 16).is_err());
        assert!(from_raw_addr(&ss, 4).is_err());
    }

    #[test]
    fn recv_flags() {
        let r = Recv {
            stream_flags: quic_uapi::MSG_QUIC_STREAM_FIN,
            msg_flags: libc::MSG_EOR as u32,
            ..Recv::default()
        };
        assert!(r.fin() && r.eor());
        assert!(!Recv::default().fin());
    }
}
