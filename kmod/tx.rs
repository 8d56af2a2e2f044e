// SPDX-License-Identifier: GPL-2.0
//! Transmit: the engine writes each datagram (or, with UDP GSO, a run of same-size datagrams)
//! straight into a fresh skb's data (no intermediate copy), which goes out through the
//! socket's UDP tunnel (`udp_tunnel_xmit_skb` / `udp_tunnel6_xmit_skb`). Process context.

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

/// Datagrams one skb carries at most with UDP GSO (the engine's `max_segments`): the stack
/// below the tunnel, the loopback device and the receiving UDP socket then handle one skb for
/// that many packets.
pub(crate) const GSO_SEGMENTS: usize = 16;

/// An answer smaller than this that the engine wrote into a GSO-sized buffer is copied into a
/// skb of its own, so that small packets (ACKs) do not carry a large buffer's truesize.
const SMALL: usize = 256;

/// Sends every datagram the engine has ready now. Returns the number of datagrams sent.
///
/// Buffers start at one datagram; once the engine fills one (bulk data is flowing) the next
/// ones have room for `GSO_SEGMENTS`, which the engine fills with same-size 1-RTT datagrams,
/// sent as one GSO skb; a short datagram goes back to small buffers.
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
    let mut big = false;
    loop {
        let mut cap = if big {
            MAX_DATAGRAM * GSO_SEGMENTS
        } else {
            MAX_DATAGRAM
        };
        // SAFETY: plain allocation (process context).
        let mut skb = unsafe { sys::kq_tx_alloc(cap as u32) };
        if skb.is_null() && big {
            cap = MAX_DATAGRAM;
            // SAFETY: as above.
            skb = unsafe { sys::kq_tx_alloc(cap as u32) };
        }
        if skb.is_null() {
            return sent;
        }
        // SAFETY: `kq_tx_alloc` put `cap` bytes of linear data in the new skb, which we own;
        // nothing else refers to it.
        let buf = unsafe { core::slice::from_raw_parts_mut(sys::kq_skb_data(skb), cap) };
        let Some(t) = conn.poll_transmit(now, buf) else {
            // SAFETY: ours.
            unsafe { sys::kq_kfree_skb(skb) };
            return sent;
        };
        if cap > MAX_DATAGRAM && t.len < SMALL {
            // SAFETY: plain allocation (process context).
            let small = unsafe { sys::kq_tx_alloc(t.len as u32) };
            if !small.is_null() {
                // SAFETY: the new skb has `t.len` bytes of linear data, ours alone.
                unsafe { core::slice::from_raw_parts_mut(sys::kq_skb_data(small), t.len) }
                    .copy_from_slice(&buf[..t.len]);
                // SAFETY: ours; `buf` is not used after this.
                unsafe { sys::kq_kfree_skb(skb) };
                skb = small;
            }
        } else {
            // SAFETY: `t.len <= cap`; the skb is ours.
            unsafe { sys::kq_skb_trim(skb, t.len as u32) };
        }
        let segments = match t.segment_size {
            Some(seg) if seg > 0 && t.len > seg => {
                // SAFETY: the skb is ours and holds `t.len` bytes of `seg`-byte datagrams.
                unsafe { sys::kq_skb_set_gso(skb, seg as u32, t.len as u32) };
                t.len.div_ceil(seg)
            }
            _ => 1,
        };
        big = t.len >= MAX_DATAGRAM.min(cap) || segments > 1;
        // SAFETY: per our contract; the skb is handed over.
        let rc = unsafe { xmit(sk, tun, skb, &t.from, &t.to, t.ecn) };
        crate::driver::mib(
            sk,
            if rc == 0 {
                sys::kq_mib_KQ_MIB_OUT_DATAGRAMS
            } else {
                sys::kq_mib_KQ_MIB_OUT_ERRORS
            },
            segments as u64,
        );
        sent += segments;
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
