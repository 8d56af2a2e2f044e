// SPDX-License-Identifier: GPL-2.0
//! Transmit: the engine writes each datagram straight into a fresh skb's data (no intermediate
//! copy), which goes out through the socket's UDP tunnel (`udp_tunnel_xmit_skb` /
//! `udp_tunnel6_xmit_skb`). Process context.

use core::net::SocketAddr;

use quic_proto::conn::Connection;
use quic_proto::recovery::ecn::EcnCodepoint;

use crate::addr;
use crate::crypto::KernelCrypto;
use crate::sys;
use crate::tunnel::TunnelRef;

/// Room given to the engine for one datagram: the largest size DPLPMTUD probes.
pub(crate) const MAX_DATAGRAM: usize = 1452;

/// Sends the datagram in `skb` (consumed) from `from` to `to`.
///
/// # Safety
/// `sk` is a live QUIC socket, `skb` an skb we own holding the payload.
unsafe fn xmit(
    sk: *mut sys::sock,
    tun: &TunnelRef,
    skb: *mut sys::sk_buff,
    from: &SocketAddr,
    to: &SocketAddr,
    ecn: EcnCodepoint,
) -> i32 {
    let (family, daddr, dport) = addr::to_wire(to);
    let (_, mut saddr, sport) = addr::to_wire(from);
    if from.is_ipv4() != to.is_ipv4() {
        saddr = [0; 16];
    }
    // SAFETY: per the contract; the tunnel socket lives while `tun` does; the address arrays
    // are 16 bytes as the C side reads.
    unsafe {
        sys::kq_xmit(
            sk,
            tun.sock(),
            skb,
            family,
            saddr.as_ptr(),
            daddr.as_ptr(),
            if sport != 0 {
                sport
            } else {
                tun.port().to_be()
            },
            dport,
            ecn as u8,
        )
    }
}

/// Sends every datagram the engine has ready now. Returns the number sent.
///
/// # Safety
/// `sk` is a live QUIC socket whose lock the caller holds (process context).
pub(crate) unsafe fn flush(
    sk: *mut sys::sock,
    tun: &TunnelRef,
    conn: &mut Connection<KernelCrypto>,
    now: u64,
) -> usize {
    let mut sent = 0;
    loop {
        // SAFETY: plain allocation (process context).
        let skb = unsafe { sys::kq_tx_alloc(MAX_DATAGRAM as u32) };
        if skb.is_null() {
            return sent;
        }
        // SAFETY: `kq_tx_alloc` put MAX_DATAGRAM bytes of linear data in the new skb, which we
        // own; nothing else refers to it.
        let buf = unsafe { core::slice::from_raw_parts_mut(sys::kq_skb_data(skb), MAX_DATAGRAM) };
        let Some(t) = conn.poll_transmit(now, buf) else {
            // SAFETY: ours.
            unsafe { sys::kq_kfree_skb(skb) };
            return sent;
        };
        // SAFETY: `t.len <= MAX_DATAGRAM`; the skb is ours.
        unsafe { sys::kq_skb_trim(skb, t.len as u32) };
        // SAFETY: per our contract; the skb is handed over.
        unsafe { xmit(sk, tun, skb, &t.from, &t.to, t.ecn) };
        sent += 1;
    }
}

/// Sends `bytes` (an endpoint's answer: Version Negotiation, Retry, stateless reset) from
/// `from` to `to`.
///
/// # Safety
/// `sk` is a live QUIC socket (process context).
pub(crate) unsafe fn send_raw(
    sk: *mut sys::sock,
    tun: &TunnelRef,
    bytes: &[u8],
    from: &SocketAddr,
    to: &SocketAddr,
) {
    let Ok(len) = u32::try_from(bytes.len()) else {
        return;
    };
    // SAFETY: plain allocation (process context).
    let skb = unsafe { sys::kq_tx_alloc(len) };
    if skb.is_null() {
        return;
    }
    // SAFETY: the new skb has `len` bytes of linear data, ours alone.
    unsafe { core::slice::from_raw_parts_mut(sys::kq_skb_data(skb), bytes.len()) }
        .copy_from_slice(bytes);
    // SAFETY: per our contract; the skb is handed over.
    unsafe { xmit(sk, tun, skb, from, to, EcnCodepoint::NotEct) };
}
