// SPDX-License-Identifier: GPL-2.0
//! The QUIC socket: its memory layout, its `struct proto` callbacks (init, destroy, close, bind,
//! options) and its per-socket state.

use core::ptr;
use kernel::ffi::c_int;

use kernel::prelude::*;

use core::net::SocketAddr;

use crate::addr;
use crate::driver::{self, ConnState};
use crate::listen::{self, Listener};
use crate::rx::RxDatagram;
use crate::sockopt::Options;
use crate::sys;
use crate::table;
use crate::tunnel::{self, LocalAddr, TunnelRef};
use crate::tx;

/// `struct quic_sock`: the inet socket, the process-context machinery (receive queue, work
/// item, timer) and a pointer to the Rust-owned state. Defined in shim.h so that C and Rust
/// agree on it by construction.
pub(crate) type QuicSock = sys::kq_sock;

/// `struct quic6_sock`: IPv6 sockets carry their `ipv6_pinfo` after the common part
/// (`proto.ipv6_pinfo_offset` points here).
pub(crate) type Quic6Sock = sys::kq6_sock;

/// Everything the module keeps per socket, behind `lock_sock`.
pub(crate) struct SockState {
    /// The shared UDP tunnel once bound.
    pub(crate) tunnel: Option<TunnelRef>,
    /// Socket options set before/while connecting.
    pub(crate) opts: Options,
    /// The connection of a connected or accepted socket.
    pub(crate) conn: Option<KBox<ConnState>>,
    /// The accept queue of a listening socket.
    pub(crate) listener: Option<KBox<Listener>>,
    /// Closed by the application and orphaned: the connection is in its closing period, and
    /// the work item frees the socket when that ends.
    pub(crate) orphan: bool,
}

impl SockState {
    /// The socket's tunnel, binding the wildcard address and an ephemeral port first if the
    /// socket is not bound (connect and listen do this, as UDP and TCP do).
    ///
    /// # Safety
    /// `sk` is this state's live socket, locked.
    pub(crate) unsafe fn autobind(&mut self, sk: *mut sys::sock) -> Result<(), i32> {
        if self.tunnel.is_none() {
            // SAFETY: `sk` is live per the contract.
            let family = unsafe { sys::kq_sk_family(sk) };
            // SAFETY: as above.
            let t = unsafe { tunnel::acquire(sk, &LocalAddr::any(family), 0) }?;
            // SAFETY: locked per the contract; the address is the family's wildcard.
            unsafe { sys::kq_sk_set_local(sk, [0u8; 16].as_ptr().cast(), t.port()) };
            self.tunnel = Some(t);
        }
        Ok(())
    }
}

/// Returns the state of a QUIC socket.
///
/// # Safety
/// `sk` must be a QUIC socket between `init` and `destroy`, and the caller must hold its lock
/// (or otherwise own it exclusively) for the lifetime of the returned reference.
pub(crate) unsafe fn state<'a>(sk: *mut sys::sock) -> Option<&'a mut SockState> {
    // SAFETY: per the contract `sk` is the first field of a `QuicSock`.
    let p = unsafe { (*sk.cast::<QuicSock>()).state }.cast::<SockState>();
    // SAFETY: non-null `state` was set by `init` from a live KBox and is only freed by `destroy`.
    unsafe { p.as_mut() }
}

/// Runs `f` on the socket's state with the socket locked.
///
/// # Safety
/// `sk` must be a live QUIC socket (the caller holds a reference, as in any proto callback).
pub(crate) unsafe fn with_locked<R>(
    sk: *mut sys::sock,
    f: impl FnOnce(&mut SockState) -> Result<R, i32>,
) -> Result<R, i32> {
    // SAFETY: `sk` is live per the contract; process context.
    unsafe { sys::kq_lock_sock(sk) };
    // SAFETY: the lock is held until `kq_release_sock` below.
    let r = match unsafe { state(sk) } {
        Some(st) => f(st),
        None => Err(-(sys::EBADF as i32)),
    };
    // SAFETY: taken above.
    unsafe { sys::kq_release_sock(sk) };
    r
}

/// `proto.init`: allocates the socket's Rust state.
///
/// # Safety
/// Called by the socket layer with a live socket of our proto (and, where present, the user or
/// kernel buffers it vouches for), in process context.
pub(crate) unsafe extern "C" fn quic_init(sk: *mut sys::sock) -> c_int {
    let st = match KBox::new(
        SockState {
            tunnel: None,
            opts: Options::new(),
            conn: None,
            listener: None,
            orphan: false,
        },
        GFP_KERNEL,
    ) {
        Ok(b) => b,
        Err(_) => return -(sys::ENOMEM as c_int),
    };
    // SAFETY: `sk` was allocated from our proto's slab, so it is a `QuicSock`; nobody else sees it
    // before init returns.
    unsafe {
        sys::kq_ext_init(sk);
        (*sk.cast::<QuicSock>()).state = KBox::into_raw(st).cast();
    }
    0
}

/// `proto.destroy`: frees the socket's Rust state (and with it the tunnel reference).
///
/// # Safety
/// Called by the socket layer with a live socket of our proto (and, where present, the user or
/// kernel buffers it vouches for), in process context.
pub(crate) unsafe extern "C" fn quic_destroy(sk: *mut sys::sock) {
    // SAFETY: called once by sk_common_release (or on a failed create) with exclusive access.
    let qs = unsafe { &mut *sk.cast::<QuicSock>() };
    let p = core::mem::replace(&mut qs.state, ptr::null_mut());
    if !p.is_null() {
        // SAFETY: `p` came from `KBox::into_raw` in `quic_init` and is released exactly once;
        // dropping it drops the tunnel reference (process context: may sleep).
        drop(unsafe { KBox::from_raw(p.cast::<SockState>()) });
    }
}

/// Takes the state out of the socket (close): from here on the work item and softirq find
/// nothing to act on.
///
/// # Safety
/// `sk` is a live QUIC socket whose lock the caller holds.
unsafe fn take_state(sk: *mut sys::sock) -> Option<KBox<SockState>> {
    // SAFETY: per the contract, `sk` is a `QuicSock` and locked.
    let qs = unsafe { &mut *sk.cast::<QuicSock>() };
    let p = core::mem::replace(&mut qs.state, ptr::null_mut());
    if p.is_null() {
        None
    } else {
        // SAFETY: `p` came from `KBox::into_raw` in `quic_init`; it is taken exactly once.
        Some(unsafe { KBox::from_raw(p.cast::<SockState>()) })
    }
}

/// `proto.close`: the last user reference is gone. Sends CONNECTION_CLOSE (with the code and
/// phrase of `QUIC_SOCKOPT_CONNECTION_CLOSE`) and returns at once. A connection the peer has
/// heard from then spends its closing period (three PTOs, RFC 9000 section 10.2) as an orphan:
/// the socket, detached from its file, answers the peer's packets with CONNECTION_CLOSE until
/// the work item sees the period end and frees it (`finish_orphan`). Anything else (never
/// connected, peer silent, already drained, or `SO_LINGER` with a zero timeout) is freed here.
///
/// # Safety
/// Called by the socket layer with a live socket of our proto (and, where present, the user or
/// kernel buffers it vouches for), in process context.
pub(crate) unsafe extern "C" fn quic_close(sk: *mut sys::sock, _timeout: kernel::ffi::c_long) {
    // SAFETY: `sk` is live; process context.
    unsafe { sys::kq_lock_sock(sk) };
    // SAFETY: `sk` is live.
    let abort = unsafe { sys::kq_sk_linger_abort(sk) };
    // SAFETY: locked above.
    if let Some(st) = unsafe { state(sk) } {
        if let Some(cs) = st.conn.as_deref_mut() {
            if !cs.conn.is_closed() {
                let (code, frame, phrase) = st.opts.close_info();
                cs.conn.close(true, code, frame, phrase);
            }
            // (The closing period has a deadline, which the timer drives: without one the
            // orphan would never end.)
            if !abort
                && cs.conn.peer_authenticated()
                && !cs.conn.is_drained()
                && cs.conn.poll_timeout().is_some()
            {
                st.orphan = true;
                // SAFETY: `sk` is live and locked: flush CONNECTION_CLOSE, arm the timer for
                // the closing period; then detach from the file, as TCP does in close.
                unsafe {
                    cs.drive(sk);
                    sys::kq_sk_set_shutdown(sk, sys::SHUTDOWN_MASK as i32);
                    sys::kq_sk_set_state(sk, sys::TCP_CLOSING as i32);
                    sys::kq_sk_orphan(sk);
                    sys::kq_release_sock(sk);
                }
                // The socket reference the file held is the orphan's now.
                return;
            }
        }
    }
    // SAFETY: locked above.
    let mut st = unsafe { take_state(sk) };
    if let Some(st) = st.as_deref_mut() {
        if let Some(cs) = st.conn.as_deref_mut() {
            if !cs.conn.is_drained() {
                // SAFETY: `sk` is live and locked.
                unsafe { tx::flush(sk, &cs.tunnel, &mut cs.conn, driver::now_us()) };
            }
            cs.unroute_all(sk);
        }
        if st.listener.is_some() {
            table::unlisten(sk);
        }
    }
    // SAFETY: `sk` is live and locked.
    unsafe {
        sys::kq_sk_set_shutdown(sk, sys::SHUTDOWN_MASK as i32);
        sys::kq_sk_set_state(sk, sys::TCP_CLOSE as i32);
        sys::kq_release_sock(sk);
        // Unlocked: the work item may be waiting for the lock.
        sys::kq_ext_kill(sk);
    }
    // Frees the connection, queued requests and tunnel references (may sleep).
    drop(st);
    // SAFETY: `inet_release` hands us the last user reference; sk_common_release calls our
    // destroy, unhashes, orphans and drops the reference.
    unsafe { sys::sk_common_release(sk) };
}

/// The end of an orphan's closing period, from its work item (which holds its own socket
/// reference): unroutes the connection, stops the timer, frees the state and drops the
/// reference the orphan kept.
///
/// # Safety
/// `sk` is a live orphaned QUIC socket whose lock the caller holds; the lock is released here.
unsafe fn finish_orphan(sk: *mut sys::sock) {
    // SAFETY: locked per the contract.
    let mut st = unsafe { take_state(sk) };
    if let Some(cs) = st.as_deref_mut().and_then(|s| s.conn.as_deref_mut()) {
        cs.unroute_all(sk);
    }
    // SAFETY: `sk` is live and locked; `kq_ext_stop` runs unlocked and, unlike `kq_ext_kill`,
    // does not wait for the work item (this is the work item).
    unsafe {
        sys::kq_sk_set_state(sk, sys::TCP_CLOSE as i32);
        sys::kq_release_sock(sk);
        sys::kq_ext_stop(sk);
    }
    // Frees the connection and the tunnel reference (process context: may sleep).
    drop(st);
    // SAFETY: the orphan's reference (once the file's) is dropped here; the work item's own
    // reference keeps `sk` valid until the work function returns.
    unsafe { sys::sk_common_release(sk) };
}

/// Processes the datagrams softirq queued for the socket, in the calling task: one that owns
/// the lock (before it releases it) or that was woken in `kq_wait` (see `kq_rx_enqueue`), so
/// that the work item is not needed while the application is in a system call.
///
/// # Safety
/// `sk` is a live QUIC socket whose lock the caller holds (process context).
pub(crate) unsafe fn process_queued(sk: *mut sys::sock) {
    // SAFETY: `sk` is live.
    if !unsafe { sys::kq_rx_pending(sk) } {
        return;
    }
    // SAFETY: locked per the contract.
    match unsafe { state(sk) } {
        Some(st) if st.conn.is_some() => {
            if let Some(cs) = st.conn.as_deref_mut() {
                // SAFETY: `sk` is this connection's socket, locked.
                unsafe {
                    cs.receive_queued(sk);
                    cs.drive(sk);
                }
            }
        }
        // SAFETY: locked listener.
        Some(st) if st.listener.is_some() => unsafe { listen::receive(sk, st) },
        // Closed: the work item drops what is left.
        _ => {}
    }
}

/// Runs the socket's work item (see shim.c): datagrams queued by softirq, the timer, then the
/// driver. Process context, with a socket reference held by the work item.
///
/// # Safety
/// `sk` is a live QUIC socket.
#[no_mangle]
pub(crate) unsafe extern "C" fn kq_rust_work(sk: *mut sys::sock, timer_fired: bool) {
    // SAFETY: live per the contract; process context.
    unsafe { sys::kq_lock_sock(sk) };
    // SAFETY: locked above.
    match unsafe { state(sk) } {
        Some(st) if st.conn.is_some() => {
            if let Some(cs) = st.conn.as_deref_mut() {
                // SAFETY: `sk` is this connection's socket, locked.
                unsafe { cs.receive_queued(sk) };
                if timer_fired {
                    cs.conn.on_timeout(driver::now_us());
                }
                // SAFETY: as above.
                unsafe { cs.drive(sk) };
                if st.orphan && cs.conn.is_drained() {
                    // SAFETY: an orphan, locked; the lock is released inside.
                    unsafe { finish_orphan(sk) };
                    return;
                }
            }
        }
        // SAFETY: locked listener.
        Some(st) if st.listener.is_some() => unsafe { listen::receive(sk, st) },
        _ => {
            // Nothing to deliver to: drop what was queued.
            // SAFETY: `sk` is live; each skb dequeued is ours.
            while let Some(d) = unsafe { RxDatagram::next(sk) } {
                drop(d);
            }
        }
    }
    // SAFETY: taken above.
    unsafe { sys::kq_release_sock(sk) };
}

/// `proto_ops.connect`: routes to the peer (binding an ephemeral port if unbound), sets up the
/// connection IDs and Initial keys. Nothing is sent until userspace writes the ClientHello.
///
/// # Safety
/// Called by the socket layer with a live socket and `len` bytes of address in kernel memory.
pub(crate) unsafe extern "C" fn quic_connect(
    sock: *mut sys::socket,
    addr: *mut sys::kq_sockaddr_arg,
    len: c_int,
    _flags: c_int,
) -> c_int {
    // The address type differs between kernels (shim.h); it starts with the family either way.
    let addr = addr.cast::<sys::sockaddr>();
    // SAFETY: the socket layer passes a live socket.
    let sk = unsafe { (*sock).sk };
    // SAFETY: `sk` is live.
    let family = unsafe { sys::kq_sk_family(sk) };
    // SAFETY: `len` bytes of `addr` are readable.
    let peer = match unsafe { addr::parse_peer(family, addr, len) } {
        Ok(p) => p,
        Err(e) => return e,
    };
    if peer.port() == 0 || peer.ip().is_unspecified() {
        return -(sys::EINVAL as c_int);
    }
    // SAFETY: as above.
    let scope = unsafe { addr::scope_id(addr, len) };
    // SAFETY: `sk` is live; process context.
    let r = unsafe {
        with_locked(sk, |st| {
            if st.conn.is_some() {
                return Err(-(sys::EISCONN as i32));
            }
            if st.listener.is_some() {
                return Err(-(sys::EINVAL as i32));
            }
            // A link-local peer is reached through the device its scope names (which the
            // socket then stays bound to, as a UDP socket would).
            if let core::net::IpAddr::V6(a) = peer.ip() {
                if a.segments()[0] & 0xffc0 == 0xfe80 {
                    let dev = sys::kq_sk_bound_dev(sk);
                    let scope = i32::try_from(scope).map_err(|_| -(sys::EINVAL as i32))?;
                    if scope != 0 && dev != 0 && scope != dev {
                        return Err(-(sys::EINVAL as i32));
                    }
                    if dev == 0 && scope == 0 {
                        return Err(-(sys::EINVAL as i32));
                    }
                    if dev == 0 {
                        sys::kq_sk_set_bound_dev(sk, scope);
                    }
                }
            }
            st.autobind(sk)?;
            let Some(tun) = st.tunnel.as_ref() else {
                return Err(-(sys::EINVAL as i32));
            };
            // A v6-only socket, or one bound to an address of the other family, cannot reach
            // the peer (UDP's answer).
            if !tun.reaches(&peer.ip()) {
                return Err(-(sys::ENETUNREACH as i32));
            }
            let (pfam, daddr, dport) = addr::to_wire(&peer);
            // The bound address if it is of the peer's family, else let routing choose.
            let mut saddr = [0u8; 16];
            let bound_ip = tun.local_ip();
            if bound_ip.is_ipv4() == peer.is_ipv4() {
                saddr = addr::to_wire(&SocketAddr::new(bound_ip, 0)).1;
            }
            let rc = sys::kq_route_saddr(sk, pfam, daddr.as_ptr(), dport, saddr.as_mut_ptr());
            if rc != 0 {
                return Err(rc);
            }
            let port = tun.port();
            let local = addr::from_raw(pfam, &saddr, port.to_be());
            let config = driver::config(&st.opts);
            let mut conn = driver::new_client(&config, local, peer)?;
            // A token set before connect (from an earlier connection) goes in our Initials.
            // (The server's remembered parameters are set after connect, on the connection.)
            if !st.opts.token().is_empty() {
                conn.set_token(st.opts.token())
                    .map_err(|_| -(sys::ENOMEM as i32))?;
            }
            let mut cs = ConnState::new(sk, conn, tun.try_clone()?, None)?;
            cs.events_on = st.opts.events;
            sys::kq_sk_set_local(
                sk,
                addr::for_sock(family, &local.ip()).as_ptr().cast(),
                port,
            );
            sys::kq_sk_set_peer(
                sk,
                addr::for_sock(family, &peer.ip()).as_ptr().cast(),
                peer.port(),
            );
            sys::kq_sk_set_state(sk, sys::TCP_SYN_SENT as i32);
            cs.drive(sk);
            st.conn = Some(cs);
            Ok(())
        })
    };
    match r {
        Ok(()) => 0,
        Err(e) => e,
    }
}

/// `proto_ops.shutdown`: SHUT_RD stops receiving (and, on a listener, accepting); SHUT_WR sends
/// CONNECTION_CLOSE; either wakes every blocked call.
///
/// # Safety
/// Called by the socket layer with a live socket.
pub(crate) unsafe extern "C" fn quic_shutdown(sock: *mut sys::socket, how: c_int) -> c_int {
    let mask = match how {
        0 => sys::RCV_SHUTDOWN,
        1 => sys::SEND_SHUTDOWN,
        2 => sys::SHUTDOWN_MASK,
        _ => return -(sys::EINVAL as c_int),
    } as i32;
    // SAFETY: the socket layer passes a live socket.
    let sk = unsafe { (*sock).sk };
    // SAFETY: `sk` is live; process context.
    let r = unsafe {
        with_locked(sk, |st| {
            sys::kq_sk_set_shutdown(sk, mask);
            if let Some(cs) = st.conn.as_deref_mut() {
                if mask & sys::SEND_SHUTDOWN as i32 != 0 && !cs.conn.is_closed() {
                    let (code, frame, phrase) = st.opts.close_info();
                    cs.conn.close(true, code, frame, phrase);
                }
                cs.drive(sk);
            } else if st.listener.is_none() {
                sys::kq_wake(sk);
                return Err(-(sys::ENOTCONN as i32));
            }
            sys::kq_wake(sk);
            Ok(())
        })
    };
    match r {
        Ok(()) => 0,
        Err(e) => e,
    }
}

/// `proto.hash`: nothing to hash.
///
/// # Safety
/// Called by the socket layer with a live socket of our proto (and, where present, the user or
/// kernel buffers it vouches for), in process context.
pub(crate) unsafe extern "C" fn quic_hash(_sk: *mut sys::sock) -> c_int {
    // QUIC sockets are found through their tunnel, not through a protocol hash table.
    0
}

/// `proto.unhash`: nothing to unhash.
///
/// # Safety
/// Called by the socket layer with a live socket of our proto (and, where present, the user or
/// kernel buffers it vouches for), in process context.
pub(crate) unsafe extern "C" fn quic_unhash(_sk: *mut sys::sock) {}

/// Parses a user `sockaddr` for a socket of `family` (already copied into kernel memory).
///
/// # Safety
/// `addr` must point to `len` readable bytes.
pub(crate) unsafe fn parse_addr(
    family: u16,
    addr: *const sys::sockaddr,
    len: c_int,
) -> Result<LocalAddr, i32> {
    let len = usize::try_from(len).map_err(|_| -(sys::EINVAL as i32))?;
    if len < core::mem::size_of::<u16>() {
        return Err(-(sys::EINVAL as i32));
    }
    // SAFETY: at least the family field is readable (checked above).
    let fam = unsafe { (*addr).sa_family };
    let mut local = LocalAddr {
        family,
        addr: [0; 16],
        port: 0,
    };
    if u32::from(family) == sys::AF_INET6 && u32::from(fam) == sys::AF_INET {
        // An IPv4 address on an AF_INET6 socket, as lxin/quic accepts: its v4-mapped form.
        if len < core::mem::size_of::<sys::sockaddr_in>() {
            return Err(-(sys::EINVAL as i32));
        }
        // SAFETY: length checked to cover a whole sockaddr_in.
        let sin = unsafe { &*addr.cast::<sys::sockaddr_in>() };
        let v4 = core::net::Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
        local.addr = v4.to_ipv6_mapped().octets();
        local.port = u16::from_be(sin.sin_port);
        return Ok(local);
    }
    if u32::from(family) == sys::AF_INET6 {
        if len < core::mem::size_of::<sys::sockaddr_in6>() {
            return Err(-(sys::EINVAL as i32));
        }
        if u32::from(fam) != sys::AF_INET6 {
            return Err(-(sys::EAFNOSUPPORT as i32));
        }
        // SAFETY: length checked to cover a whole sockaddr_in6.
        let sin6 = unsafe { &*addr.cast::<sys::sockaddr_in6>() };
        // SAFETY: plain-data union read.
        local.addr = unsafe { sin6.sin6_addr.in6_u.u6_addr8 };
        local.port = u16::from_be(sin6.sin6_port);
    } else {
        if len < core::mem::size_of::<sys::sockaddr_in>() {
            return Err(-(sys::EINVAL as i32));
        }
        if u32::from(fam) != sys::AF_INET {
            return Err(-(sys::EAFNOSUPPORT as i32));
        }
        // SAFETY: length checked to cover a whole sockaddr_in.
        let sin = unsafe { &*addr.cast::<sys::sockaddr_in>() };
        local.addr[..4].copy_from_slice(&sin.sin_addr.s_addr.to_ne_bytes());
        local.port = u16::from_be(sin.sin_port);
    }
    Ok(local)
}

/// `proto.bind`: binds to a local address, sharing the UDP tunnel of that address and port.
///
/// # Safety
/// Called by the socket layer with a live socket of our proto (and, where present, the user or
/// kernel buffers it vouches for), in process context.
pub(crate) unsafe extern "C" fn quic_bind(
    sk: *mut sys::sock,
    addr: *mut sys::kq_sockaddr_arg,
    len: c_int,
) -> c_int {
    // As in `quic_connect`.
    let addr = addr.cast::<sys::sockaddr>();
    // SAFETY: `sk` is a live socket in a proto callback.
    let family = unsafe { sys::kq_sk_family(sk) };
    // SAFETY: the socket layer copied `len` bytes of the address into kernel memory.
    let local = match unsafe { parse_addr(family, addr, len) } {
        Ok(l) => l,
        Err(e) => return e,
    };
    // SAFETY: as above (`parse_addr` checked the length).
    let scope = unsafe { addr::scope_id(addr, len) };
    // SAFETY: `sk` is live.
    let net = unsafe { sys::kq_sock_net(sk) };
    if local.port != 0
        // SAFETY: `net` is the socket's live namespace.
        && unsafe { sys::kq_port_requires_bind_service(net, local.port) }
        // SAFETY: as above.
        && !unsafe { sys::kq_capable_bind_service(net) }
    {
        return -(sys::EACCES as c_int);
    }
    // SAFETY: `sk` is live; we run in process context.
    let r = unsafe {
        with_locked(sk, |st| {
            if st.tunnel.is_some() {
                return Err(-(sys::EINVAL as i32));
            }
            let t = tunnel::acquire(sk, &local, scope)?;
            // The socket is locked: publish the address as bound (`local.addr` holds the 4 or
            // 16 bytes of the socket's family) with the tunnel's port, for getsockname.
            sys::kq_sk_set_local(sk, local.addr.as_ptr().cast(), t.port());
            st.tunnel = Some(t);
            Ok(())
        })
    };
    match r {
        Ok(()) => 0,
        Err(e) => e,
    }
}
