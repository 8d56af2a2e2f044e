// SPDX-License-Identifier: GPL-2.0
//! UDP tunnel sockets: one kernel UDP socket per bound (netns, family, address, port), shared by
//! every QUIC socket bound there and released when the last one lets go.

use core::ptr;

use kernel::prelude::*;
use quic_mem::{Box as MBox, Vec as MVec};

use crate::sync::TunnelLocked;
use crate::sys;

/// A local endpoint in network byte order (`addr` holds 4 or 16 bytes).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct LocalAddr {
    pub(crate) family: u16,
    pub(crate) addr: [u8; 16],
    /// Host byte order; 0 asks for an ephemeral port.
    pub(crate) port: u16,
}

struct Tunnel {
    net: *mut sys::net,
    local: LocalAddr,
    sock: *mut sys::socket,
    users: usize,
}

// SAFETY: `net` and `sock` are kernel objects that may be used from any thread; the table that
// holds tunnels is only touched under the tunnel mutex.
unsafe impl Send for Tunnel {}

static TUNNELS: TunnelLocked<MVec<MBox<Tunnel>>> = TunnelLocked::new(MVec::new());

/// A counted reference to a shared tunnel; dropping it releases the reference.
pub(crate) struct TunnelRef {
    tunnel: *const Tunnel,
    local: LocalAddr,
}

// SAFETY: the pointee is only dereferenced under the tunnel mutex (in `drop`), or read-only for
// fields that never change after creation.
unsafe impl Send for TunnelRef {}

impl TunnelRef {
    /// The address actually bound (with the ephemeral port filled in).
    pub(crate) fn local(&self) -> &LocalAddr {
        &self.local
    }

    /// The tunnel's kernel UDP socket (valid while this reference lives).
    pub(crate) fn sock(&self) -> *mut sys::socket {
        // SAFETY: the tunnel lives while a reference to it exists; `sock` never changes.
        unsafe { (*self.tunnel).sock }
    }

    /// An identifier of the tunnel, as `rx::encap_rcv` sees it (its `sk_user_data`).
    pub(crate) fn id(&self) -> usize {
        self.tunnel as usize
    }

    /// Another reference to the same tunnel (an accepted connection shares its listener's).
    pub(crate) fn try_clone(&self) -> Result<TunnelRef, i32> {
        let mut table = TUNNELS.lock();
        let t = table
            .iter_mut()
            .find(|t| ptr::eq(&***t, self.tunnel))
            .ok_or(-(sys::EINVAL as i32))?;
        t.users += 1;
        Ok(TunnelRef {
            tunnel: self.tunnel,
            local: self.local,
        })
    }
}

fn create_udp_socket(net: *mut sys::net, local: &LocalAddr) -> Result<*mut sys::socket, i32> {
    let mut cfg = sys::udp_port_cfg {
        family: local.family as u8,
        local_udp_port: local.port.to_be(),
        ..Default::default()
    };
    let mut sock: *mut sys::socket = ptr::null_mut();
    let rc = if u32::from(local.family) == sys::AF_INET6 {
        // Writing a plain-data union member is safe.
        cfg.__bindgen_anon_1.local_ip6.in6_u.u6_addr8 = local.addr;
        cfg.set_ipv6_v6only(0);
        cfg.set_use_udp6_tx_checksums(1);
        cfg.set_use_udp6_rx_checksums(1);
        // SAFETY: `net` is a live namespace (the binding socket holds a reference); `cfg` and
        // `sock` are valid for the call.
        unsafe { sys::udp_sock_create6(net, &mut cfg, &mut sock) }
    } else {
        let mut a = [0u8; 4];
        a.copy_from_slice(&local.addr[..4]);
        cfg.__bindgen_anon_1.local_ip = sys::in_addr {
            s_addr: u32::from_ne_bytes(a),
        };
        cfg.set_use_udp_checksums(1);
        // SAFETY: as above.
        unsafe { sys::udp_sock_create4(net, &mut cfg, &mut sock) }
    };
    if rc != 0 {
        return Err(rc);
    }
    Ok(sock)
}

/// Takes a reference on the tunnel for `local` in `net`, creating its UDP socket if needed.
/// Process context (may sleep). Errors are negative errnos (e.g. `-EADDRINUSE`).
pub(crate) fn acquire(net: *mut sys::net, local: &LocalAddr) -> Result<TunnelRef, i32> {
    let mut table = TUNNELS.lock();
    if local.port != 0 {
        for t in table.iter_mut() {
            if t.net == net && t.local == *local {
                t.users += 1;
                let p: *const Tunnel = &**t;
                return Ok(TunnelRef {
                    tunnel: p,
                    local: t.local,
                });
            }
        }
    }
    table.reserve(1).map_err(|_| -(sys::ENOMEM as i32))?;
    let sock = create_udp_socket(net, local)?;
    let mut bound = *local;
    // SAFETY: `sock` was just created and its `sk` is valid.
    bound.port = unsafe { sys::kq_sk_local_port((*sock).sk) };
    let tunnel = match MBox::new(Tunnel {
        net,
        local: bound,
        sock,
        users: 1,
    }) {
        Ok(t) => t,
        Err(_) => {
            // SAFETY: `sock` is ours and not yet published anywhere.
            unsafe { sys::udp_tunnel_sock_release(sock) };
            return Err(-(sys::ENOMEM as i32));
        }
    };
    let p: *const Tunnel = &*tunnel;
    let mut tcfg = sys::udp_tunnel_sock_cfg {
        sk_user_data: p as *mut kernel::ffi::c_void,
        encap_type: 1,
        encap_rcv: Some(crate::rx::encap_rcv),
        ..Default::default()
    };
    // SAFETY: `sock` is a fresh UDP socket in `net`; `tcfg` outlives the call; the tunnel it
    // points to lives until `udp_tunnel_sock_release` has run (see `Drop for TunnelRef`).
    unsafe { sys::setup_udp_tunnel_sock(net, sock, &mut tcfg) };
    // Cannot fail: capacity was reserved above.
    if table.push(tunnel).is_err() {
        // SAFETY: not published in the table; release the socket we created.
        unsafe { sys::udp_tunnel_sock_release(sock) };
        return Err(-(sys::ENOMEM as i32));
    }
    Ok(TunnelRef {
        tunnel: p,
        local: bound,
    })
}

impl Drop for TunnelRef {
    fn drop(&mut self) {
        let removed = {
            let mut table = TUNNELS.lock();
            let Some(idx) = table.iter().position(|t| ptr::eq(&**t, self.tunnel)) else {
                pr_err!("releasing an unknown tunnel\n");
                return;
            };
            let last = match table.get_mut(idx) {
                Some(t) => {
                    t.users -= 1;
                    t.users == 0
                }
                None => false,
            };
            if !last {
                return;
            }
            let removed = table.remove(idx);
            if table.is_empty() {
                // Give the table's buffer back too: the table is a static that outlives the
                // module's last socket, and a kept capacity would leak at rmmod.
                *table = MVec::new();
            }
            removed
        };
        // Outside the mutex: releasing waits for an RCU grace period, which must not hold up
        // every bind. The tunnel is out of the table, so nobody else can find it.
        if let Some(t) = removed {
            // SAFETY: the last user is gone; releasing clears sk_user_data and waits for RCU
            // readers (encap_rcv), after which the tunnel box may be freed.
            unsafe { sys::udp_tunnel_sock_release(t.sock) };
        }
    }
}

/// Number of live tunnel sockets (for the load-time and unload checks).
pub(crate) fn count() -> usize {
    TUNNELS.lock().len()
}
