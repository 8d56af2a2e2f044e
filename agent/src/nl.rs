//! The real transport: generic netlink sockets to the kernel's `handshake` family, through
//! neli.
//!
//! - the family id and the `tlshd` group id are resolved by name (neli's router, controller
//!   family);
//! - READY notifications arrive on a socket subscribed to the group ([`listen`]);
//! - ACCEPT and DONE go over a second socket ([`NetlinkTransport`]) that is `connect()`ed to
//!   the kernel (port 0): Linux then refuses unicast from any other sender, so no other
//!   process can forge an ACCEPT reply naming one of the agent's descriptors.

use std::collections::VecDeque;
use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use log::{debug, trace, warn};
use neli::consts::socket::NlFamily;
use neli::router::asynchronous::NlRouter;
use neli::socket::asynchronous::NlSocketHandle;
use neli::socket::NlSocket;
use neli::types::Buffer;
use neli::utils::Groups;
use tokio::sync::mpsc;

use crate::agent::{AcceptOutcome, Event, Transport};
use crate::genl::{self, classify, messages, parse_accept, AcceptError, Done, Incoming};

/// The family as this kernel numbers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Family {
    /// Generic netlink family id (the `nlmsg_type` of its messages).
    pub id: u16,
    /// Multicast group id of `tlshd`.
    pub group: u32,
}

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// Resolves the `handshake` family and its group `group_name` with the controller.
pub async fn resolve(group_name: &str) -> io::Result<Family> {
    let (router, _notifications) = NlRouter::connect(NlFamily::Generic, None, Groups::empty())
        .await
        .map_err(other)?;
    let id = router
        .resolve_genl_family(genl::FAMILY_NAME)
        .await
        .map_err(|e| {
            let why = match &e {
                neli::err::RouterError::Nlmsgerr(m) => {
                    io::Error::from_raw_os_error(-*m.error()).to_string()
                }
                e => e.to_string(),
            };
            other(format!(
                "generic netlink family {:?} not found ({why}): a kernel without \
                 CONFIG_NET_HANDSHAKE?",
                genl::FAMILY_NAME
            ))
        })?;
    let group = router
        .resolve_nl_mcast_group(genl::FAMILY_NAME, group_name)
        .await
        .map_err(|e| other(format!("multicast group {group_name:?}: {e}")))?;
    Ok(Family { id, group })
}

/// Size of the receive buffer for replies (an ACCEPT reply is well under a page).
const RECV_BUF: usize = 64 * 1024;
/// How long a reply may take before the request is given up.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// A datagram link to the kernel (a netlink socket; a script in tests).
pub trait Link: Send {
    /// Sends one datagram.
    fn send(&mut self, msg: &[u8]) -> io::Result<()>;
    /// Receives one datagram into `buf` (`WouldBlock` when nothing came in time).
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize>;
}

/// The netlink socket as a [`Link`].
pub struct NlLink(NlSocket);

impl Link for NlLink {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.0
            .send(msg, neli::consts::socket::Msg::empty())
            .map(drop)
    }

    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0
            .recv(buf, neli::consts::socket::Msg::empty())
            .map(|(n, _)| n)
    }
}

/// ACCEPT and DONE over a netlink socket connected to the kernel. Requests are serialised.
pub struct NetlinkTransport<L: Link = NlLink> {
    inner: Mutex<Inner<L>>,
    family: u16,
    fd: RawFd,
}

struct Inner<L> {
    sock: L,
    seq: u32,
    pid: u32,
    buf: Vec<u8>,
    /// ACCEPT replies that arrived for an earlier, abandoned request: each installed a
    /// socket, handed to the agent (to be failed) by the next `accept`.
    strays: VecDeque<AcceptOutcome>,
}

fn set_rcvtimeo(fd: RawFd, t: Duration) -> io::Result<()> {
    let tv = libc::timeval {
        tv_sec: t.as_secs() as libc::time_t,
        tv_usec: t.subsec_micros() as libc::suseconds_t,
    };
    // SAFETY: tv is a valid timeval passed with its size.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn connect_to_kernel(fd: RawFd) -> io::Result<()> {
    // SAFETY: sockaddr_nl is plain data; all-zero is the kernel's address (pid 0, no groups).
    let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    // SAFETY: sa is a valid sockaddr_nl of the given size.
    let r = unsafe {
        libc::connect(
            fd,
            (&sa as *const libc::sockaddr_nl).cast(),
            size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// What a request got back.
#[derive(Default)]
struct Reply {
    /// The attributes of the family message answering the request, if any.
    attrs: Option<Vec<u8>>,
    /// The acknowledgement's errno (0: success).
    errno: i32,
}

impl NetlinkTransport {
    /// Opens the request socket for family `family`.
    pub fn open(family: u16) -> io::Result<Self> {
        let sock = NlSocket::connect(NlFamily::Generic, None, Groups::empty())?;
        sock.block()?;
        let fd = sock.as_raw_fd();
        connect_to_kernel(fd)?;
        set_rcvtimeo(fd, REPLY_TIMEOUT)?;
        let pid = sock.pid()?;
        Ok(Self::with_link(NlLink(sock), family, pid, fd))
    }
}

impl<L: Link> NetlinkTransport<L> {
    /// A transport over `link`, whose port id is `pid` and descriptor `fd`.
    pub fn with_link(link: L, family: u16, pid: u32, fd: RawFd) -> Self {
        Self {
            inner: Mutex::new(Inner {
                sock: link,
                seq: 1,
                pid,
                buf: vec![0; RECV_BUF],
                strays: VecDeque::new(),
            }),
            family,
            fd,
        }
    }

    /// The socket's descriptor (to reserve in the agent's registry).
    pub fn raw_fd(&self) -> RawFd {
        self.fd
    }

    fn request(
        &self,
        build: impl FnOnce(u32, u32) -> Result<Vec<u8>, String>,
    ) -> io::Result<Reply> {
        let mut g = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let inner = &mut *g;
        inner.seq = inner.seq.wrapping_add(1).max(1);
        let seq = inner.seq;
        let msg = build(seq, inner.pid).map_err(other)?;
        inner.sock.send(&msg)?;
        let mut reply = Reply::default();
        loop {
            let n = match inner.sock.recv(&mut inner.buf[..]) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("no answer to request {seq} within {REPLY_TIMEOUT:?}"),
                    ))
                }
                Err(e) => return Err(e),
            };
            let data = &inner.buf[..n];
            trace!("netlink: {n} bytes");
            for m in messages(data) {
                let m = match m {
                    Ok(m) => m,
                    Err(e) => {
                        warn!("malformed netlink datagram from the kernel: {e}");
                        break;
                    }
                };
                match classify(m, self.family) {
                    Ok(Incoming::Genl { seq: s, cmd, attrs }) if s == seq => {
                        reply.attrs = Some(attrs.to_vec());
                        debug!(
                            "reply to {seq}: command {cmd}, {} attribute bytes",
                            attrs.len()
                        );
                    }
                    Ok(Incoming::Genl {
                        seq: s,
                        cmd: genl::cmd::ACCEPT,
                        attrs,
                    }) => {
                        warn!("ACCEPT reply for abandoned request {s}: failing its socket");
                        inner.strays.push_back(match parse_accept(attrs) {
                            Ok(r) => AcceptOutcome::Malformed(AcceptError {
                                sockfd: Some(r.sockfd),
                                reason: format!("reply to abandoned request {s}"),
                            }),
                            Err(e) => AcceptOutcome::Malformed(e),
                        });
                    }
                    Ok(Incoming::Ack { seq: s }) if s == seq => return Ok(reply),
                    Ok(Incoming::Error { seq: s, errno }) if s == seq => {
                        reply.errno = errno;
                        return Ok(reply);
                    }
                    Ok(Incoming::Noop) => {}
                    Ok(other) => debug!("ignored: {other:?}"),
                    Err(e) => warn!("unexpected netlink message: {e}"),
                }
            }
        }
    }
}

impl<L: Link + 'static> Transport for NetlinkTransport<L> {
    fn accept(&self, class: u32) -> io::Result<AcceptOutcome> {
        if let Some(s) = self
            .inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .strays
            .pop_front()
        {
            return Ok(s);
        }
        let fam = self.family;
        let r = self.request(|seq, pid| genl::encode_accept(fam, seq, pid, class))?;
        match (r.errno, r.attrs) {
            (libc::EAGAIN, _) => Ok(AcceptOutcome::Empty),
            (0, Some(a)) => Ok(match parse_accept(&a) {
                Ok(req) => AcceptOutcome::Request(req),
                Err(e) => AcceptOutcome::Malformed(e),
            }),
            (0, None) => Ok(AcceptOutcome::Malformed(AcceptError {
                sockfd: None,
                reason: "acknowledged without a reply".into(),
            })),
            (e, attrs) => {
                if let Some(fd) = attrs.and_then(|a| parse_accept(&a).err().and_then(|e| e.sockfd))
                {
                    warn!("ACCEPT failed with a socket {fd} in its reply");
                }
                Err(io::Error::from_raw_os_error(e))
            }
        }
    }

    fn done(&self, d: &Done) -> io::Result<()> {
        let fam = self.family;
        let r = self.request(|seq, pid| genl::encode_done(fam, seq, pid, d))?;
        match r.errno {
            0 => Ok(()),
            e => Err(io::Error::from_raw_os_error(e)),
        }
    }
}

/// Listens for READY notifications of `class` on group `fam.group` and passes them on as
/// [`Event`]s until `tx` closes. Malformed or foreign messages are logged and skipped.
/// `on_fd` receives the socket's descriptor once it is open.
pub async fn listen(
    fam: Family,
    class: u32,
    tx: mpsc::Sender<Event>,
    on_fd: impl FnOnce(RawFd),
) -> io::Result<()> {
    let sock = NlSocketHandle::connect(NlFamily::Generic, None, Groups::empty()).map_err(other)?;
    sock.add_mcast_membership(Groups::new_groups(&[fam.group]))
        .map_err(other)?;
    on_fd(sock.as_raw_fd());
    loop {
        let (iter, _groups) = match sock.recv::<u16, Buffer>().await {
            Ok(r) => r,
            Err(neli::err::SocketError::Io(e)) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                warn!("notifications lost (ENOBUFS): looking for requests");
                if tx.send(Event::Overrun).await.is_err() {
                    return Ok(());
                }
                continue;
            }
            Err(e) => {
                warn!("notification socket: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let mut ready = false;
        for m in iter {
            let m = match m {
                Ok(m) => m,
                Err(e) => {
                    warn!("malformed notification: {e}");
                    break;
                }
            };
            if *m.nl_type() != fam.id {
                debug!("notification of type {} ignored", m.nl_type());
                continue;
            }
            let Some(p) = m.get_payload() else {
                continue;
            };
            ready |= is_ready_for(p.as_ref(), class);
        }
        if ready && tx.send(Event::Ready).await.is_err() {
            return Ok(());
        }
    }
}

/// Whether a family message's payload (genetlink header + attributes) is a READY for
/// `class`.
pub fn is_ready_for(payload: &[u8], class: u32) -> bool {
    if payload.len() < 4 || payload[0] != genl::cmd::READY {
        debug!("family message ignored: {payload:?}");
        return false;
    }
    match genl::ready_class(&payload[4..]) {
        Ok(Some(c)) => c == class,
        Ok(None) => {
            warn!("READY without a handler class");
            false
        }
        Err(e) => {
            warn!("malformed READY: {e}");
            false
        }
    }
}

impl<L: Link> AsRawFd for NetlinkTransport<L> {
    fn as_raw_fd(&self) -> RawFd {
        self.fd
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::genl::testbuf::*;
    use crate::genl::{accept_attr, handler_class};
    use std::sync::Arc;

    #[test]
    fn ready_payloads() {
        let mut a = Vec::new();
        attr_u32(&mut a, accept_attr::HANDLER_CLASS, handler_class::TLSHD);
        let mut p = vec![genl::cmd::READY, 1, 0, 0];
        p.extend_from_slice(&a);
        assert!(is_ready_for(&p, 1));
        assert!(!is_ready_for(&p, 2), "another class's READY");
        p[0] = genl::cmd::DONE;
        assert!(!is_ready_for(&p, 1), "not a READY");
        assert!(!is_ready_for(&[1, 1], 1), "short");
        assert!(
            !is_ready_for(&[1, 1, 0, 0, 9, 0, 2, 0], 1),
            "truncated attribute"
        );
        assert!(!is_ready_for(&[1, 1, 0, 0], 1), "no class");
    }

    const FAM: u16 = 0x22;

    /// What the scripted kernel answers to one request, given its sequence number.
    type Answer = Box<dyn FnOnce(u32) -> Vec<Vec<u8>> + Send>;

    /// The requests a script received.
    type Sent = Arc<Mutex<Vec<Vec<u8>>>>;

    /// A kernel stand-in: each request sent gets the next scripted answer (datagrams).
    #[derive(Default)]
    struct Script {
        answers: VecDeque<Answer>,
        rx: VecDeque<Vec<u8>>,
        sent: Sent,
    }

    impl Link for Script {
        fn send(&mut self, msg: &[u8]) -> io::Result<()> {
            let seq = u32::from_ne_bytes(msg[8..12].try_into().unwrap());
            self.sent.lock().unwrap().push(msg.to_vec());
            if let Some(a) = self.answers.pop_front() {
                self.rx.extend(a(seq));
            }
            Ok(())
        }

        fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.rx.pop_front() {
                Some(d) => {
                    buf[..d.len()].copy_from_slice(&d);
                    Ok(d.len())
                }
                None => Err(io::ErrorKind::WouldBlock.into()),
            }
        }
    }

    fn transport(answers: Vec<Answer>) -> (NetlinkTransport<Script>, Sent) {
        let s = Script {
            answers: answers.into(),
            ..Script::default()
        };
        let sent = Arc::clone(&s.sent);
        (NetlinkTransport::with_link(s, FAM, 4242, -1), sent)
    }

    fn reply(seq: u32, fd: i32) -> Vec<u8> {
        genl_msg(
            FAM,
            seq,
            genl::cmd::ACCEPT,
            &accept_attrs(fd, genl::msg_type::CLIENTHELLO, genl::auth::X509),
        )
    }

    #[test]
    fn accept_reply_and_ack_in_one_or_two_datagrams() {
        let (t, sent) = transport(vec![
            Box::new(|seq| {
                let mut d = reply(seq, 7);
                d.extend(nlmsg_error(seq, 0));
                vec![d]
            }),
            Box::new(|seq| vec![reply(seq, 8), nlmsg_error(seq, 0)]),
        ]);
        for fd in [7, 8] {
            match t.accept(1).unwrap() {
                AcceptOutcome::Request(r) => {
                    assert_eq!(r.sockfd, fd);
                    assert_eq!(r.peername.as_deref(), Some("server.example"));
                }
                o => panic!("{o:?}"),
            }
        }
        // Each request: ACCEPT for class 1, from our port, a new sequence number.
        let sent = sent.lock().unwrap();
        let seqs: Vec<u32> = sent
            .iter()
            .map(|m| {
                let m = messages(m).next().unwrap().unwrap();
                assert_eq!((m.ty, m.pid, m.payload[0]), (FAM, 4242, genl::cmd::ACCEPT));
                m.seq
            })
            .collect();
        assert_ne!(seqs[0], seqs[1]);
    }

    #[test]
    fn accept_errors() {
        let (t, _) = transport(vec![
            Box::new(|seq| vec![nlmsg_error(seq, -libc::EAGAIN)]),
            Box::new(|seq| vec![nlmsg_error(seq, -libc::EPERM)]),
            // Acknowledged without a reply.
            Box::new(|seq| vec![nlmsg_error(seq, 0)]),
            // No answer at all.
            Box::new(|_| vec![]),
            // A malformed reply: the socket it names comes back with the error.
            Box::new(|seq| {
                let mut a = accept_attrs(9, 1, 3);
                a.extend_from_slice(&[60, 0, 8, 0]);
                vec![
                    genl_msg(FAM, seq, genl::cmd::ACCEPT, &a),
                    nlmsg_error(seq, 0),
                ]
            }),
        ]);
        assert!(matches!(t.accept(1).unwrap(), AcceptOutcome::Empty));
        assert_eq!(t.accept(1).unwrap_err().raw_os_error(), Some(libc::EPERM));
        match t.accept(1).unwrap() {
            AcceptOutcome::Malformed(e) => assert_eq!(e.sockfd, None),
            o => panic!("{o:?}"),
        }
        assert_eq!(t.accept(1).unwrap_err().kind(), io::ErrorKind::TimedOut);
        match t.accept(1).unwrap() {
            AcceptOutcome::Malformed(e) => assert_eq!(e.sockfd, Some(9)),
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn unexpected_messages_are_skipped_and_stray_sockets_kept() {
        let (t, _) = transport(vec![
            Box::new(|seq| {
                vec![
                    // Garbage, a foreign message type, a READY, a NOOP, an ACK for another
                    // request: all skipped.
                    vec![1, 2, 3],
                    genl_msg(0x77, seq, 1, &[]),
                    genl_msg(FAM, 0, genl::cmd::READY, &[]),
                    {
                        let mut m = genl_msg(FAM, seq, 0, &[]);
                        m[4..6].copy_from_slice(&genl::NLMSG_NOOP.to_ne_bytes());
                        m
                    },
                    nlmsg_error(seq.wrapping_add(100), 0),
                    // The reply of an earlier, abandoned ACCEPT: its socket must be failed.
                    reply(seq.wrapping_sub(1), 11),
                    reply(seq, 12),
                    nlmsg_error(seq, 0),
                ]
            }),
            Box::new(|seq| vec![nlmsg_error(seq, 0)]),
        ]);
        match t.accept(1).unwrap() {
            AcceptOutcome::Request(r) => assert_eq!(r.sockfd, 12),
            o => panic!("{o:?}"),
        }
        // The stray comes next, without a request to the kernel.
        match t.accept(1).unwrap() {
            AcceptOutcome::Malformed(e) => assert_eq!(e.sockfd, Some(11)),
            o => panic!("{o:?}"),
        }
        // DONE: acknowledged.
        t.done(&Done {
            sockfd: 12,
            status: 0,
            remote_auth: vec![],
        })
        .unwrap();
    }

    #[test]
    fn done_errors() {
        let (t, sent) = transport(vec![Box::new(|seq| vec![nlmsg_error(seq, -libc::EBUSY)])]);
        let d = Done {
            sockfd: 5,
            status: libc::EACCES as u32,
            remote_auth: vec![3],
        };
        assert_eq!(t.done(&d).unwrap_err().raw_os_error(), Some(libc::EBUSY));
        let sent = sent.lock().unwrap();
        let m = messages(&sent[0]).next().unwrap().unwrap();
        assert_eq!(m.payload[0], genl::cmd::DONE);
        assert_eq!(m.flags & 0x4, 0x4, "DONE asks for an acknowledgement");
    }

    /// Sends `msg` to generic netlink multicast group `group` (root only).
    fn multicast(group: u32, msg: &[u8]) {
        let s = NlSocket::connect(NlFamily::Generic, None, Groups::empty()).unwrap();
        // SAFETY: sockaddr_nl is plain data; all-zero is valid.
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        sa.nl_groups = 1 << (group - 1);
        // SAFETY: msg is readable for its length; sa is a valid sockaddr_nl of its size.
        let r = unsafe {
            libc::sendto(
                s.as_raw_fd(),
                msg.as_ptr().cast(),
                msg.len(),
                0,
                (&sa as *const libc::sockaddr_nl).cast(),
                size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        assert_eq!(r, msg.len() as isize, "{}", io::Error::last_os_error());
    }

    /// The READY listener over real netlink sockets, in a network namespace of its own: a
    /// family id nobody uses stands in for `handshake`, the controller's `notify` group for
    /// `tlshd` (the host kernel may lack net/handshake). READYs of our class become events;
    /// garbage, other classes and other families do not, and do not stop the listener.
    /// Needs root (a private network namespace, multicast sending); skipped otherwise.
    #[test]
    fn listener_over_real_netlink() {
        std::thread::spawn(|| {
            // SAFETY: unshare(CLONE_NEWNET) moves only this thread, which the test owns, into a
            // new network namespace; every socket below is created from it.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                eprintln!(
                    "unshare(CLONE_NEWNET): {}: skipped",
                    io::Error::last_os_error()
                );
                return;
            }
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let (router, _) = NlRouter::connect(NlFamily::Generic, None, Groups::empty())
                    .await
                    .unwrap();
                let group = router
                    .resolve_nl_mcast_group("nlctrl", "notify")
                    .await
                    .unwrap();
                let fam = Family { id: 0x3ff0, group };
                let (tx, mut rx) = mpsc::channel(8);
                let (fd_tx, fd_rx) = tokio::sync::oneshot::channel();
                let l = tokio::spawn(listen(fam, handler_class::TLSHD, tx, move |fd| {
                    let _ = fd_tx.send(fd);
                }));
                assert!(fd_rx.await.unwrap() > 2);
                let ready = |class: u32, ty: u16| {
                    let mut a = Vec::new();
                    attr_u32(&mut a, accept_attr::HANDLER_CLASS, class);
                    genl_msg(ty, 0, genl::cmd::READY, &a)
                };
                multicast(group, &[0xde, 0xad, 0xbe, 0xef, 1, 2, 3]);
                multicast(group, &ready(2, fam.id));
                multicast(group, &ready(1, 0x3ff1));
                multicast(group, &genl_msg(fam.id, 0, genl::cmd::DONE, &[]));
                multicast(group, &ready(1, fam.id));
                multicast(group, &ready(1, fam.id));
                for _ in 0..2 {
                    let ev = tokio::time::timeout(Duration::from_secs(3), rx.recv()).await;
                    assert_eq!(ev.unwrap(), Some(Event::Ready));
                }
                // Nothing else became an event.
                assert!(tokio::time::timeout(Duration::from_millis(200), rx.recv())
                    .await
                    .is_err());
                l.abort();
            });
        })
        .join()
        .unwrap();
    }

    /// On a host whose kernel has net/handshake, the family resolves and ACCEPT answers
    /// (EAGAIN without a request, EPERM without CAP_NET_ADMIN). Elsewhere, the error names
    /// the family.
    #[tokio::test]
    async fn resolve_and_accept_on_this_host() {
        match resolve(genl::MCGRP_TLSHD).await {
            Ok(fam) => {
                assert!(fam.id >= 0x10, "dynamic family ids start at GENL_MIN_ID");
                let t = NetlinkTransport::open(fam.id).unwrap();
                match t.accept(handler_class::TLSHD) {
                    Ok(AcceptOutcome::Empty) => {}
                    Err(e) if e.raw_os_error() == Some(libc::EPERM) => {}
                    other => panic!("ACCEPT with nothing queued: {other:?}"),
                }
                // DONE on a descriptor that is no socket of a request: refused, not hung.
                let r = t.done(&Done {
                    sockfd: t.raw_fd(),
                    status: libc::EIO as u32,
                    remote_auth: vec![],
                });
                assert!(r.is_err());
            }
            Err(e) => assert!(e.to_string().contains("handshake"), "{e}"),
        }
    }

    /// The request socket against the real kernel, with a family id nobody registered: the
    /// kernel's error comes back as the request's error (sequence numbers matched, socket
    /// connected to the kernel), for ACCEPT and DONE alike.
    #[test]
    fn requests_to_an_unknown_family_fail_cleanly() {
        let t = NetlinkTransport::open(0x3ff0).unwrap();
        for _ in 0..2 {
            let e = t.accept(handler_class::TLSHD).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::ENOENT), "{e}");
        }
        let e = t
            .done(&Done {
                sockfd: 0,
                status: 0,
                remote_auth: vec![],
            })
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT), "{e}");
        // Connected to the kernel: a datagram from another socket is refused.
        let other = NlSocket::connect(NlFamily::Generic, None, Groups::empty()).unwrap();
        // SAFETY: sockaddr_nl is plain data; all-zero is valid.
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        let mut len = size_of::<libc::sockaddr_nl>() as libc::socklen_t;
        // SAFETY: getsockname writes at most len bytes into sa.
        let r = unsafe {
            libc::getsockname(
                t.raw_fd(),
                (&mut sa as *mut libc::sockaddr_nl).cast(),
                &mut len,
            )
        };
        assert_eq!(r, 0);
        let forged = genl_msg(0x3ff0, 1, genl::cmd::ACCEPT, &accept_attrs(0, 1, 3));
        // SAFETY: forged is readable for its length; sa is a valid sockaddr_nl.
        let r = unsafe {
            libc::sendto(
                other.as_raw_fd(),
                forged.as_ptr().cast(),
                forged.len(),
                0,
                (&sa as *const libc::sockaddr_nl).cast(),
                size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        assert_eq!(r, -1, "a forged reply was delivered");
        assert_eq!(
            io::Error::last_os_error().raw_os_error(),
            Some(libc::ECONNREFUSED)
        );
    }
}
