// SPDX-License-Identifier: GPL-2.0
//! The QUIC socket: its memory layout, its `struct proto` callbacks (init, destroy, close, bind,
//! options) and its per-socket state.

use core::ptr;
use kernel::ffi::c_int;

use kernel::prelude::*;

use crate::sockopt::Options;
use crate::sys;
use crate::tunnel::{self, LocalAddr, TunnelRef};

/// `struct quic_sock`: the inet socket followed by a pointer to the Rust-owned state.
#[repr(C)]
pub(crate) struct QuicSock {
    pub(crate) inet: sys::inet_sock,
    pub(crate) state: *mut SockState,
}

/// `struct quic6_sock`: IPv6 sockets carry their `ipv6_pinfo` after the common part
/// (`proto.ipv6_pinfo_offset` points here).
#[repr(C)]
pub(crate) struct Quic6Sock {
    pub(crate) quic: QuicSock,
    pub(crate) v6: sys::ipv6_pinfo,
}

/// Everything the module keeps per socket, behind `lock_sock`.
pub(crate) struct SockState {
    /// The shared UDP tunnel once bound.
    pub(crate) tunnel: Option<TunnelRef>,
    /// Socket options set before/while connecting.
    pub(crate) opts: Options,
}

/// Returns the state of a QUIC socket.
///
/// # Safety
/// `sk` must be a QUIC socket between `init` and `destroy`, and the caller must hold its lock
/// (or otherwise own it exclusively) for the lifetime of the returned reference.
pub(crate) unsafe fn state<'a>(sk: *mut sys::sock) -> Option<&'a mut SockState> {
    // SAFETY: per the contract `sk` is the first field of a `QuicSock`.
    let p = unsafe { (*sk.cast::<QuicSock>()).state };
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
        },
        GFP_KERNEL,
    ) {
        Ok(b) => b,
        Err(_) => return -(sys::ENOMEM as c_int),
    };
    // SAFETY: `sk` was allocated from our proto's slab, so it is a `QuicSock`; nobody else sees it
    // before init returns.
    unsafe { (*sk.cast::<QuicSock>()).state = KBox::into_raw(st) };
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
        drop(unsafe { KBox::from_raw(p) });
    }
}

/// `proto.close`: the last user reference is gone.
///
/// # Safety
/// Called by the socket layer with a live socket of our proto (and, where present, the user or
/// kernel buffers it vouches for), in process context.
pub(crate) unsafe extern "C" fn quic_close(sk: *mut sys::sock, _timeout: kernel::ffi::c_long) {
    // SAFETY: `inet_release` hands us the last user reference; sk_common_release calls our
    // destroy, unhashes, orphans and drops the reference.
    unsafe { sys::sk_common_release(sk) };
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
unsafe fn parse_addr(
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
    addr: *mut sys::sockaddr,
    len: c_int,
) -> c_int {
    // SAFETY: `sk` is a live socket in a proto callback.
    let family = unsafe { sys::kq_sk_family(sk) };
    // SAFETY: the socket layer copied `len` bytes of the address into kernel memory.
    let local = match unsafe { parse_addr(family, addr, len) } {
        Ok(l) => l,
        Err(e) => return e,
    };
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
            let t = tunnel::acquire(net, &local)?;
            let bound = *t.local();
            st.tunnel = Some(t);
            // The socket is locked: publish the bound address for getsockname (`bound.addr`
            // holds the 4 or 16 address bytes); covered by the enclosing `unsafe` block.
            sys::kq_sk_set_local(sk, bound.addr.as_ptr().cast(), bound.port);
            Ok(())
        })
    };
    match r {
        Ok(()) => 0,
        Err(e) => e,
    }
}
