// SPDX-License-Identifier: GPL-2.0
//! UDP tunnel sockets: one kernel UDP socket per bound (address, port, device) of a network
//! namespace, shared by every QUIC socket of the same owner bound there and released when the
//! last one lets go. Each namespace keeps its own table behind its own mutex (`struct kq_net`,
//! registered with `pernet_operations` in shim.c), freed by the namespace's exit hook.
//!
//! Binding follows UDP's rules where QUIC has no reason to differ:
//! - an AF_INET6 socket bound to a v4-mapped address uses an IPv4 tunnel, so it shares the port
//!   with AF_INET sockets bound to that address (EINVAL with `IPV6_V6ONLY`);
//! - an AF_INET6 wildcard bind without `IPV6_V6ONLY` is dual-stack: IPv4 binds on its port
//!   share it (it receives their datagrams); with `IPV6_V6ONLY` it is IPv6 only;
//! - link-local IPv6 addresses need a scope id (or a bound device), which binds the tunnel to
//!   that device; `SO_BINDTODEVICE` binds it to the socket's device;
//! - only sockets of the tunnel creator's user share a tunnel: anyone else gets `EADDRINUSE`,
//!   as they would from UDP (listening on a tunnel is exclusive in any case, see `table`).

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::ptr;
use core::sync::atomic::{AtomicUsize, Ordering};

use kernel::prelude::*;
use quic_mem::{Box as MBox, Vec as MVec};

use crate::sys;

/// An address to bind, in the binding socket's family and network byte order (`addr` holds
/// 4 or 16 bytes); `port` in host order, 0 asks for an ephemeral port.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct LocalAddr {
    pub(crate) family: u16,
    pub(crate) addr: [u8; 16],
    pub(crate) port: u16,
}

impl LocalAddr {
    /// The wildcard address of `family`, ephemeral port.
    pub(crate) fn any(family: u16) -> Self {
        LocalAddr {
            family,
            addr: [0; 16],
            port: 0,
        }
    }
}

/// What identifies a tunnel within its namespace (the UDP socket's own family and address).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Key {
    ip: IpAddr,
    /// Host byte order.
    port: u16,
    /// IPv6 wildcard only: false means dual-stack.
    v6only: bool,
    /// Bound device, 0 for none.
    ifindex: i32,
}

impl Key {
    fn is_dual_stack(&self) -> bool {
        matches!(self.ip, IpAddr::V6(a) if a.is_unspecified()) && !self.v6only
    }

    /// Whether a tunnel with this key receives what a bind of `want` asks for, so `want` may
    /// share it (exactly the same, or IPv4 on a dual-stack wildcard of the same device).
    fn covers(&self, want: &Key) -> bool {
        self.port == want.port
            && self.ifindex == want.ifindex
            && (self == want || (want.ip.is_ipv4() && self.is_dual_stack()))
    }
}

struct Tunnel {
    key: Key,
    sock: *mut sys::socket,
    users: usize,
    /// The creator's user (kuid): only its sockets share the tunnel.
    uid: u32,
}

// SAFETY: `sock` is a kernel object that may be used from any thread; a tunnel is
// only touched under its namespace's tunnel mutex.
unsafe impl Send for Tunnel {}

type Table = MVec<MBox<Tunnel>>;

/// Tunnels open in all namespaces (for the unload check).
static COUNT: AtomicUsize = AtomicUsize::new(0);

/// A namespace's tunnel table, locked.
struct NetTable {
    net: *mut sys::net,
}

impl NetTable {
    /// Locks the tunnel table of `net` (process context: the lock is a mutex).
    fn lock(net: *mut sys::net) -> Self {
        // SAFETY: `net` is live (the caller's socket holds it, or its tunnel does); its
        // `kq_net` was initialised by our pernet init before any socket of ours existed in it.
        unsafe { sys::kq_net_lock(net) };
        NetTable { net }
    }

    /// The table, created on first use.
    fn get(&mut self) -> Result<&mut Table, i32> {
        // SAFETY: the namespace's mutex is held (by `self`), which guards the slot.
        let slot = unsafe { &mut *sys::kq_net_tunnels(self.net) };
        if slot.is_null() {
            let t = KBox::new(Table::new(), GFP_KERNEL).map_err(|_| -(sys::ENOMEM as i32))?;
            *slot = KBox::into_raw(t).cast();
        }
        // SAFETY: a non-null slot holds the table `KBox::into_raw` made above, which only the
        // namespace's exit hook frees; the mutex makes this the only reference.
        Ok(unsafe { &mut *(*slot).cast::<Table>() })
    }
}

impl Drop for NetTable {
    fn drop(&mut self) {
        // SAFETY: taken in `lock`.
        unsafe { sys::kq_net_unlock(self.net) };
    }
}

/// The pernet exit hook: the namespace is going away, and with it every socket that held it
/// (user sockets hold a reference to their namespace; their tunnels went with them).
///
/// # Safety
/// `slot` is the namespace's table slot; nothing else uses it any more.
#[no_mangle]
pub(crate) unsafe extern "C" fn kq_rust_net_exit(slot: *mut *mut kernel::ffi::c_void) {
    // SAFETY: per the contract.
    let p = unsafe { core::mem::replace(&mut *slot, ptr::null_mut()) };
    if p.is_null() {
        return;
    }
    // SAFETY: the slot only ever holds a table made by `NetTable::get`.
    let table = unsafe { KBox::from_raw(p.cast::<Table>()) };
    if !table.is_empty() {
        // Only a kernel socket (which holds no namespace reference) can outlive its namespace:
        // its owner did not close it. Its references would dangle if the tunnels were freed.
        pr_err!(
            "{} UDP tunnels left in an exiting network namespace (a kernel QUIC socket was not closed)\n",
            table.len()
        );
        KBox::leak(table);
    }
}

/// A counted reference to a shared tunnel; dropping it releases the reference.
pub(crate) struct TunnelRef {
    tunnel: *const Tunnel,
    net: *mut sys::net,
    /// The tunnel's key (its port is the bound one).
    key: Key,
    /// The address this reference's socket bound to (IPv4 for a v4-mapped bind); a dual-stack
    /// tunnel also serves IPv4 binds of the same port.
    ip: IpAddr,
}

// SAFETY: the pointee is only dereferenced under its namespace's mutex (in `drop`), or read-only
// for fields that never change after creation.
unsafe impl Send for TunnelRef {}

impl TunnelRef {
    /// The address the socket bound to (wildcard or not; IPv4 for a v4-mapped bind).
    pub(crate) fn local_ip(&self) -> IpAddr {
        self.ip
    }

    /// The bound port (host order; an ephemeral one filled in).
    pub(crate) fn port(&self) -> u16 {
        self.key.port
    }

    /// Whether the tunnel can send to and receive from `peer`'s family.
    pub(crate) fn reaches(&self, peer: &IpAddr) -> bool {
        match (self.ip, peer) {
            (IpAddr::V4(_), IpAddr::V4(_)) => true,
            (IpAddr::V6(_), IpAddr::V6(_)) => true,
            (IpAddr::V6(_), IpAddr::V4(_)) => self.key.is_dual_stack(),
            (IpAddr::V4(_), IpAddr::V6(_)) => false,
        }
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
        let mut nt = NetTable::lock(self.net);
        let t = nt
            .get()?
            .iter_mut()
            .find(|t| ptr::eq(&***t, self.tunnel))
            .ok_or(-(sys::EINVAL as i32))?;
        t.users += 1;
        Ok(TunnelRef {
            tunnel: self.tunnel,
            net: self.net,
            key: self.key,
            ip: self.ip,
        })
    }
}

fn v6_link_local(a: &Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

/// The tunnel key a bind of socket `sk` to `want` asks for (see the module doc).
///
/// # Safety
/// `sk` is a live socket.
unsafe fn key_for(sk: *mut sys::sock, want: &LocalAddr, scope_id: u32) -> Result<Key, i32> {
    // SAFETY: `sk` is live per the contract.
    let (v6only, bound_dev) = unsafe { (sys::kq_sk_ipv6only(sk), sys::kq_sk_bound_dev(sk)) };
    let mut ifindex = bound_dev;
    let (ip, v6only) = if u32::from(want.family) == sys::AF_INET6 {
        let a = Ipv6Addr::from(want.addr);
        match a.to_ipv4_mapped() {
            Some(_) if v6only => return Err(-(sys::EINVAL as i32)),
            Some(v4) => (IpAddr::V4(v4), false),
            None if a.is_unspecified() => (IpAddr::V6(a), v6only),
            None => {
                if v6_link_local(&a) {
                    let scope = i32::try_from(scope_id).map_err(|_| -(sys::EINVAL as i32))?;
                    if scope != 0 && bound_dev != 0 && scope != bound_dev {
                        return Err(-(sys::EINVAL as i32));
                    }
                    if scope != 0 {
                        ifindex = scope;
                    }
                    if ifindex == 0 {
                        return Err(-(sys::EINVAL as i32));
                    }
                }
                // A specific IPv6 address receives IPv6 only, whatever the option says.
                (IpAddr::V6(a), true)
            }
        }
    } else {
        let mut b = [0u8; 4];
        b.copy_from_slice(&want.addr[..4]);
        (IpAddr::V4(Ipv4Addr::from(b)), false)
    };
    Ok(Key {
        ip,
        port: want.port,
        v6only,
        ifindex,
    })
}

fn create_udp_socket(net: *mut sys::net, key: &Key) -> Result<*mut sys::socket, i32> {
    let mut cfg = sys::udp_port_cfg {
        local_udp_port: key.port.to_be(),
        bind_ifindex: key.ifindex,
        ..Default::default()
    };
    let mut sock: *mut sys::socket = ptr::null_mut();
    let rc = match key.ip {
        IpAddr::V6(a) => {
            cfg.family = sys::AF_INET6 as u8;
            // Writing a plain-data union member is safe.
            cfg.__bindgen_anon_1.local_ip6.in6_u.u6_addr8 = a.octets();
            cfg.set_ipv6_v6only(u32::from(key.v6only));
            cfg.set_use_udp6_tx_checksums(1);
            cfg.set_use_udp6_rx_checksums(1);
            // SAFETY: `net` is a live namespace (the binding socket holds a reference); `cfg`
            // and `sock` are valid for the call.
            unsafe { sys::udp_sock_create6(net, &mut cfg, &mut sock) }
        }
        IpAddr::V4(a) => {
            cfg.family = sys::AF_INET as u8;
            cfg.__bindgen_anon_1.local_ip = sys::in_addr {
                s_addr: u32::from_ne_bytes(a.octets()),
            };
            cfg.set_use_udp_checksums(1);
            // SAFETY: as above.
            unsafe { sys::udp_sock_create4(net, &mut cfg, &mut sock) }
        }
    };
    if rc != 0 {
        return Err(rc);
    }
    Ok(sock)
}

/// Takes a reference on the tunnel that serves a bind of `sk` to `want` (with `scope_id` from
/// a `sockaddr_in6`, else 0), creating its UDP socket if needed. Process context (may sleep).
/// Errors are negative errnos (`EADDRINUSE` for a port another user or an overlapping bind
/// holds, `EINVAL` for an address the socket's options rule out).
///
/// # Safety
/// `sk` is a live QUIC socket.
pub(crate) unsafe fn acquire(
    sk: *mut sys::sock,
    want: &LocalAddr,
    scope_id: u32,
) -> Result<TunnelRef, i32> {
    // SAFETY: per the contract.
    let key = unsafe { key_for(sk, want, scope_id) }?;
    // SAFETY: as above.
    let (net, uid) = unsafe { (sys::kq_sock_net(sk), sys::kq_sk_uid(sk)) };
    let mut nt = NetTable::lock(net);
    let table = nt.get()?;
    if key.port != 0 {
        if let Some(t) = table.iter_mut().find(|t| t.key.covers(&key)) {
            if t.uid != uid {
                return Err(-(sys::EADDRINUSE as i32));
            }
            t.users += 1;
            let p: *const Tunnel = &**t;
            return Ok(TunnelRef {
                tunnel: p,
                net,
                key: t.key,
                ip: key.ip,
            });
        }
    }
    table.reserve(1).map_err(|_| -(sys::ENOMEM as i32))?;
    let sock = create_udp_socket(net, &key)?;
    let mut bound = key;
    // SAFETY: `sock` was just created and its `sk` is valid.
    bound.port = unsafe { sys::kq_sk_local_port((*sock).sk) };
    let tunnel = match MBox::new(Tunnel {
        key: bound,
        sock,
        users: 1,
        uid,
    }) {
        Ok(t) => t,
        Err(_) => {
            // SAFETY: `sock` is ours and not yet published anywhere.
            unsafe { sys::kq_udp_tunnel_sock_release(sock) };
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
    unsafe { sys::kq_setup_udp_tunnel_sock(net, sock, &mut tcfg) };
    // Cannot fail: capacity was reserved above.
    if table.push(tunnel).is_err() {
        // SAFETY: not published in the table; release the socket we created.
        unsafe { sys::kq_udp_tunnel_sock_release(sock) };
        return Err(-(sys::ENOMEM as i32));
    }
    COUNT.fetch_add(1, Ordering::Relaxed);
    Ok(TunnelRef {
        tunnel: p,
        net,
        key: bound,
        ip: key.ip,
    })
}

impl Drop for TunnelRef {
    fn drop(&mut self) {
        let removed = {
            let mut nt = NetTable::lock(self.net);
            let Ok(table) = nt.get() else {
                pr_err!("releasing a tunnel of a namespace without a table\n");
                return;
            };
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
            table.remove(idx)
        };
        // Outside the mutex: releasing waits for an RCU grace period, which must not hold up
        // every bind. The tunnel is out of the table, so nobody else can find it.
        if let Some(t) = removed {
            COUNT.fetch_sub(1, Ordering::Relaxed);
            // SAFETY: the last user is gone; releasing clears sk_user_data and waits for RCU
            // readers (encap_rcv), after which the tunnel box may be freed.
            unsafe { sys::kq_udp_tunnel_sock_release(t.sock) };
        }
    }
}

/// Number of live tunnel sockets in all namespaces (for the unload check).
pub(crate) fn count() -> usize {
    COUNT.load(Ordering::Relaxed)
}
