// SPDX-License-Identifier: GPL-2.0
//! Socket addresses: user `sockaddr`s to the engine's `SocketAddr` and back into the socket's
//! own family (an IPv4 peer of an AF_INET6 socket is shown v4-mapped).

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use kernel::ffi::c_int;

use crate::sys;

fn einval<T>() -> Result<T, i32> {
    Err(-(sys::EINVAL as i32))
}

/// Parses a peer address given to `connect` (already copied into kernel memory). AF_INET
/// sockets take `sockaddr_in`; AF_INET6 sockets take `sockaddr_in6` (v4-mapped addresses
/// become IPv4) and also `sockaddr_in`, as lxin/quic does.
///
/// # Safety
/// `addr` must point to `len` readable bytes.
pub(crate) unsafe fn parse_peer(
    sk_family: u16,
    addr: *const sys::sockaddr,
    len: c_int,
) -> Result<SocketAddr, i32> {
    let len = usize::try_from(len).map_err(|_| -(sys::EINVAL as i32))?;
    if len < core::mem::size_of::<u16>() {
        return einval();
    }
    // SAFETY: at least the family field is readable (checked above).
    let fam = u32::from(unsafe { (*addr).sa_family });
    if fam == sys::AF_INET6 && u32::from(sk_family) == sys::AF_INET6 {
        if len < core::mem::size_of::<sys::sockaddr_in6>() {
            return einval();
        }
        // SAFETY: length checked to cover a whole sockaddr_in6.
        let sin6 = unsafe { &*addr.cast::<sys::sockaddr_in6>() };
        // SAFETY: plain-data union read.
        let ip = Ipv6Addr::from(unsafe { sin6.sin6_addr.in6_u.u6_addr8 });
        let port = u16::from_be(sin6.sin6_port);
        return Ok(match ip.to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), port),
            None => SocketAddr::new(IpAddr::V6(ip), port),
        });
    }
    if fam == sys::AF_INET {
        if len < core::mem::size_of::<sys::sockaddr_in>() {
            return einval();
        }
        // SAFETY: length checked to cover a whole sockaddr_in.
        let sin = unsafe { &*addr.cast::<sys::sockaddr_in>() };
        let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
        return Ok(SocketAddr::new(IpAddr::V4(ip), u16::from_be(sin.sin_port)));
    }
    Err(-(sys::EAFNOSUPPORT as i32))
}

/// The scope id of a `sockaddr_in6` (0 for anything else).
///
/// # Safety
/// `addr` must point to `len` readable bytes.
pub(crate) unsafe fn scope_id(addr: *const sys::sockaddr, len: c_int) -> u32 {
    let Ok(len) = usize::try_from(len) else {
        return 0;
    };
    if len < core::mem::size_of::<sys::sockaddr_in6>() {
        return 0;
    }
    // SAFETY: the length covers a whole sockaddr_in6 (which starts with the family).
    let sin6 = unsafe { &*addr.cast::<sys::sockaddr_in6>() };
    if u32::from(sin6.sin6_family) != sys::AF_INET6 {
        return 0;
    }
    sin6.sin6_scope_id
}

/// A received datagram's address as the engine sees it (v4-mapped IPv6 becomes IPv4, as a
/// dual-stack tunnel delivers IPv4 datagrams to IPv6 sockets).
pub(crate) fn from_raw(family: u16, bytes: &[u8; 16], port_be: u16) -> SocketAddr {
    let port = u16::from_be(port_be);
    if u32::from(family) == sys::AF_INET {
        let mut a = [0u8; 4];
        a.copy_from_slice(&bytes[..4]);
        SocketAddr::new(IpAddr::V4(Ipv4Addr::from(a)), port)
    } else {
        let ip = Ipv6Addr::from(*bytes);
        match ip.to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), port),
            None => SocketAddr::new(IpAddr::V6(ip), port),
        }
    }
}

/// The wire form of `a` for the datagram path: (family, address bytes, port in network order).
pub(crate) fn to_wire(a: &SocketAddr) -> (u16, [u8; 16], u16) {
    let mut b = [0u8; 16];
    match a.ip() {
        IpAddr::V4(v4) => {
            b[..4].copy_from_slice(&v4.octets());
            (sys::AF_INET as u16, b, a.port().to_be())
        }
        IpAddr::V6(v6) => (sys::AF_INET6 as u16, v6.octets(), a.port().to_be()),
    }
}

/// The address bytes of `ip` as a socket of `sk_family` stores them (4 bytes for AF_INET, 16
/// for AF_INET6, IPv4 v4-mapped).
pub(crate) fn for_sock(sk_family: u16, ip: &IpAddr) -> [u8; 16] {
    let mut b = [0u8; 16];
    match ip {
        IpAddr::V4(v4) if u32::from(sk_family) == sys::AF_INET => {
            b[..4].copy_from_slice(&v4.octets())
        }
        IpAddr::V4(v4) => b = v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => b = v6.octets(),
    }
    b
}
