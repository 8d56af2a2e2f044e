// SPDX-License-Identifier: GPL-2.0
//! Listening and accepting. A listener owns its tunnel's unclaimed datagrams: a valid client
//! Initial becomes a request (its datagrams kept as skbs, nothing else allocated); Version
//! Negotiation and Retry are answered before any request exists; a full accept queue drops
//! Initials without keeping state. `accept()` turns the oldest request into a socket with its
//! own connection, whose receive queue then holds the ClientHello for userspace.

use core::net::SocketAddr;

use kernel::ffi::{c_int, c_long};
use kernel::prelude::*;
use quic_mem::Vec as MVec;
use quic_proto::cid::ConnectionId;
use quic_proto::conn::{Accepted, Config};
use quic_proto::endpoint::{self, Decision};

use crate::crypto::KernelCrypto;
use crate::driver::{self, ConnState};
use crate::rx::{RxDatagram, LOCAL_CID_LEN};
use crate::socket::{self, SockState};
use crate::sys;
use crate::table;
use crate::{addr, tx};

/// Datagrams kept per request (a ClientHello over several Initials, retransmissions).
const REQUEST_DATAGRAMS: usize = 8;

/// A client Initial waiting for `accept`.
struct Request {
    skbs: MVec<*mut sys::sk_buff>,
    from: SocketAddr,
    to: SocketAddr,
    accepted: Accepted,
}

impl Drop for Request {
    fn drop(&mut self) {
        for skb in self.skbs.iter() {
            // SAFETY: the request owns its skbs.
            unsafe { sys::kq_kfree_skb(*skb) };
        }
    }
}

/// A listening socket's state.
pub(crate) struct Listener {
    backlog: usize,
    reqs: MVec<Request>,
    crypto: KernelCrypto,
    /// The engine configuration Initials are answered with (refreshed when options change).
    pub(crate) config: Config,
}

impl Listener {
    /// Something to accept.
    pub(crate) fn ready(&self) -> bool {
        !self.reqs.is_empty()
    }
}

/// `proto_ops.listen`. `listen(fd, 0)` stops accepting (queued requests are dropped).
///
/// # Safety
/// Called by the socket layer with a live socket.
pub(crate) unsafe extern "C" fn quic_listen(sock: *mut sys::socket, backlog: c_int) -> c_int {
    // SAFETY: the socket layer passes a live socket.
    let sk = unsafe { (*sock).sk };
    // SAFETY: `sk` is live; process context.
    let r = unsafe {
        socket::with_locked(sk, |st| {
            if st.conn.is_some() {
                return Err(-(sys::EINVAL as i32));
            }
            if backlog <= 0 {
                if st.listener.take().is_some() {
                    table::unlisten(sk);
                    sys::kq_sk_set_state(sk, sys::TCP_CLOSE as i32);
                }
                return Ok(());
            }
            st.autobind(sk)?;
            let backlog = (backlog as usize).min(4096);
            if let Some(l) = st.listener.as_deref_mut() {
                l.backlog = backlog;
                return Ok(());
            }
            let id = st.tunnel.as_ref().map(|t| t.id()).unwrap_or(0);
            st.opts.ensure_ticket_key()?;
            let l = KBox::new(
                Listener {
                    backlog,
                    reqs: MVec::new(),
                    crypto: KernelCrypto::new()?,
                    config: driver::config(&st.opts),
                },
                GFP_KERNEL,
            )
            .map_err(|_| -(sys::ENOMEM as i32))?;
            table::listen(id, sk)?;
            publish(sk, &l);
            st.listener = Some(l);
            sys::kq_sk_set_state(sk, sys::TCP_LISTEN as i32);
            Ok(())
        })
    };
    match r {
        Ok(()) => 0,
        Err(e) => e,
    }
}

/// The listener's work: datagrams that matched no connection on its tunnel.
///
/// # Safety
/// `sk` is the live listening socket, locked, whose state `st` is.
pub(crate) unsafe fn receive(sk: *mut sys::sock, st: &mut SockState) {
    let (Some(l), Some(tun)) = (st.listener.as_deref_mut(), st.tunnel.as_ref()) else {
        return;
    };
    // SAFETY: `sk` is live.
    let net = unsafe { sys::kq_sock_net(sk) };
    let mut out = [0u8; 1280];
    let mut woke = false;
    // SAFETY: per the contract.
    while let Some(mut d) = unsafe { RxDatagram::next(sk) } {
        let (from, to) = (d.from, d.to);
        let Some(dcid) = endpoint::dcid(d.payload(), LOCAL_CID_LEN).and_then(ConnectionId::new)
        else {
            continue;
        };
        // Accepted meanwhile: the connection has its routes now.
        if let Some(child) = table::lookup(net, dcid.as_slice()) {
            // SAFETY: `child` is live (referenced); the skb is handed over.
            unsafe {
                sys::kq_rx_enqueue(child, d.into_raw());
                sys::kq_sock_put(child);
            }
            continue;
        }
        if let Some(r) = l
            .reqs
            .iter_mut()
            .find(|r| r.from == from && r.accepted.initial_dcid == dcid)
        {
            if r.skbs.len() < REQUEST_DATAGRAMS && r.skbs.reserve(1).is_ok() {
                let _ = r.skbs.push(d.into_raw());
            }
            continue;
        }
        let full = l.reqs.len() >= l.backlog;
        let decision = endpoint::handle(
            &l.crypto,
            &l.config,
            driver::now_us(),
            from,
            d.payload(),
            &mut out,
            &mut driver::KernelRng,
        );
        let counter = match &decision {
            Decision::Accept(_) if full => sys::kq_mib_KQ_MIB_ACCEPT_DROPPED,
            Decision::Accept(_) => sys::kq_mib_KQ_MIB_ACCEPT_QUEUED,
            Decision::Respond(_) => sys::kq_mib_KQ_MIB_LISTENER_ANSWERS,
            _ => sys::kq_mib_KQ_MIB_MAX,
        };
        driver::mib(sk, counter, 1);
        match decision {
            Decision::Accept(accepted) if !full => {
                if l.reqs.reserve(1).is_err() {
                    continue;
                }
                let mut skbs = MVec::new();
                if skbs.reserve(REQUEST_DATAGRAMS).is_err() {
                    continue;
                }
                let _ = skbs.push(d.into_raw());
                let _ = l.reqs.push(Request {
                    skbs,
                    from,
                    to,
                    accepted,
                });
                woke = true;
            }
            // SAFETY: `sk` is live and locked.
            Decision::Respond(n) => unsafe { tx::send_raw(sk, tun, &out[..n], &to, &from) },
            _ => {}
        }
    }
    // SAFETY: `sk` is live and locked.
    unsafe { publish(sk, l) };
    if woke {
        // SAFETY: `sk` is live.
        unsafe { sys::kq_wake(sk) };
    }
}

/// Refreshes what /proc/net/quic/sockets shows of a listener.
///
/// # Safety
/// `sk` is the live listening socket, locked; `l` its accept queue.
pub(crate) unsafe fn publish(sk: *mut sys::sock, l: &Listener) {
    let info = sys::kq_info {
        listening: 1,
        backlog: u32::try_from(l.reqs.len()).unwrap_or(u32::MAX),
        ..Default::default()
    };
    // SAFETY: `sk` is live per the contract; `info` is read during the call.
    unsafe { sys::kq_info_set(sk, &info) };
}

/// Builds the connection of request `req` on the new socket `child` (locked by the caller).
///
/// # Safety
/// `child` is a fresh, locked QUIC socket; `lst` the listener's state.
#[inline(never)]
unsafe fn setup_child(
    child: *mut sys::sock,
    lst: &SockState,
    req: &mut Request,
) -> Result<(), i32> {
    // SAFETY: `child` is locked; its state was made by our init.
    let st = unsafe { socket::state(child) }.ok_or(-(sys::EINVAL as i32))?;
    st.opts = lst.opts.try_clone()?;
    let tun = lst
        .tunnel
        .as_ref()
        .ok_or(-(sys::EINVAL as i32))?
        .try_clone()?;
    let config = driver::config(&st.opts);
    let conn = driver::new_server(&config, &req.accepted, req.to, req.from)?;
    let mut cs = ConnState::new(child, conn, tun, Some(req.accepted.initial_dcid))?;
    cs.events_on = st.opts.events;
    for skb in core::mem::take(&mut req.skbs).iter() {
        // SAFETY: the request owned the skb; ownership moves to the datagram.
        if let Some(mut d) = unsafe { RxDatagram::from_raw(*skb) } {
            cs.receive(&mut d);
        }
    }
    if !cs.conn.peer_authenticated() {
        cs.unroute_all(child);
        return Err(-(sys::ECONNABORTED as i32));
    }
    // SAFETY: `child` is live and locked.
    unsafe {
        let fam = sys::kq_sk_family(child);
        sys::kq_sk_set_local(
            child,
            addr::for_sock(fam, &req.to.ip()).as_ptr().cast(),
            req.to.port(),
        );
        sys::kq_sk_set_peer(
            child,
            addr::for_sock(fam, &req.from.ip()).as_ptr().cast(),
            req.from.port(),
        );
        sys::kq_sk_set_state(child, sys::TCP_SYN_RECV as i32);
        cs.drive(child);
    }
    st.tunnel = None;
    st.conn = Some(cs);
    Ok(())
}

/// `proto.accept` (through `inet_accept`): the oldest request becomes a new socket.
///
/// # Safety
/// Called by the socket layer with a live socket and a valid `arg`.
pub(crate) unsafe extern "C" fn quic_accept(
    sk: *mut sys::sock,
    arg: *mut sys::proto_accept_arg,
) -> *mut sys::sock {
    // SAFETY: `arg` is valid per the contract.
    let arg = unsafe { &mut *arg };
    // SAFETY: `sk` is live.
    let mut timeo: c_long = unsafe { sys::kq_rcvtimeo(sk, arg.flags & sys::O_NONBLOCK as i32) };
    // SAFETY: `sk` is live; process context.
    unsafe { sys::kq_lock_sock(sk) };
    let r = loop {
        // SAFETY: locked.
        let Some(st) = (unsafe { socket::state(sk) }) else {
            break Err(-(sys::EINVAL as i32));
        };
        let Some(l) = st.listener.as_deref_mut() else {
            break Err(-(sys::EINVAL as i32));
        };
        // SAFETY: `sk` is live.
        if unsafe { sys::kq_sk_shutdown(sk) } & sys::RCV_SHUTDOWN as i32 != 0 {
            break Err(-(sys::EINVAL as i32));
        }
        if let Some(mut req) = l.reqs.remove(0) {
            // SAFETY: the listener is locked.
            unsafe { publish(sk, l) };
            // SAFETY: `sk` is live, the listener is locked (process context).
            let child = unsafe { sys::kq_sk_new_child(sk) };
            if child.is_null() {
                break Err(-(sys::ENOMEM as i32));
            }
            // SAFETY: `child` is new and ours; nested under the listener's lock.
            unsafe { sys::kq_lock_sock_nested(child) };
            // SAFETY: `child` is locked, `st` is the locked listener's state.
            let r = unsafe { setup_child(child, st, &mut req) };
            // SAFETY: locked above.
            unsafe { sys::kq_release_sock(child) };
            match r {
                Ok(()) => break Ok(child),
                Err(e) => {
                    // SAFETY: never handed out; stop its machinery, then release it (our
                    // destroy frees its state).
                    unsafe {
                        sys::kq_ext_kill(child);
                        sys::kq_sk_free_child(child);
                    }
                    if e == -(sys::ECONNABORTED as i32) {
                        continue;
                    }
                    break Err(e);
                }
            }
        }
        // SAFETY: `sk` is live and locked; the wait releases and retakes the lock.
        let e = unsafe { sys::kq_signal_errno(timeo) };
        if e != 0 {
            break Err(e);
        }
        // SAFETY: as above.
        timeo = unsafe { sys::kq_wait(sk, timeo) };
        // Initials that woke us are processed here (see `kq_rx_enqueue`).
        // SAFETY: locked again.
        unsafe { socket::process_queued(sk) };
    };
    // SAFETY: taken above.
    unsafe { sys::kq_release_sock(sk) };
    match r {
        Ok(child) => child,
        Err(e) => {
            arg.err = e;
            core::ptr::null_mut()
        }
    }
}
